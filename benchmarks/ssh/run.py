#!/usr/bin/env python3
"""SSH fan-out: `uname -a` on 50 and 100 real sshd hosts (127.0.0.x), in one run:

* rbk        `rbk do shell cmd='["uname", "-a"]' --on all` (forks 50)
* rbk x2     a runbook with two steps on all hosts: the second reuses the connections
* xargs      `xargs -P 50` with the OpenSSH client (strict host keys)
* ansible    `ansible all -m command -a 'uname -a' -f 50` (pipelining on), if installed
* pssh       parallel-ssh's ParallelSSHClient, if installed

    .venv/bin/python benchmarks/ssh/run.py [--hosts 50 100]

Needs root or a user allowed to run sshd (Debian: openssh-server). Goal (issue 5):
rbk within 1.3x of a tuned paramiko fan-out (~1.7 s for 100 hosts on 2 cores) and
>= 5x faster than Ansible; the second step costs no new handshakes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rbk.testing_ssh import make_fleet, stop_fleet

REPEAT = 3


def timed(argv, **kw) -> tuple[float, subprocess.CompletedProcess]:
    """Median wall time of REPEAT runs (the last run's result is returned)."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, **kw)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            break
    return statistics.median(times), proc


def bench(n: int, root: Path) -> list[tuple[str, float | None, str]]:
    fleet = make_fleet(root, n)
    results: list[tuple[str, float | None, str]] = []
    try:
        inv = fleet.inventory()
        (root / "rbk.yaml").write_text("forks: 50\n")
        env = {**os.environ, "RBK_STATE_DIR": str(root / "state")}
        rbk = str(Path(sys.executable).with_name("rbk"))
        t, p = timed([rbk, "do", "shell", 'cmd=["uname", "-a"]', "--on", "all", "-i", str(inv),
                      "--format", "json"], cwd=root, env=env)
        ok = p.returncode == 0 and len(json.loads(p.stdout)["steps"][0]["hosts"]) == n
        results.append(("rbk do shell", t, "ok" if ok else p.stderr[-300:]))

        (root / "two.yaml").write_text(
            "name: two\nsteps:\n"
            "  - {id: a, action: shell, on: all, with: {cmd: [uname, -a], readonly: true}}\n"
            "  - {id: b, action: shell, on: all, with: {cmd: [uptime], readonly: true}}\n")
        before = sum(h.logins() for h in fleet.hosts)
        t, p = timed([rbk, "run", "two.yaml", "-i", str(inv), "--format", "json"], cwd=root,
                     env=env)
        logins = (sum(h.logins() for h in fleet.hosts) - before) // REPEAT
        results.append(("rbk run, 2 steps", t,
                        f"{logins} SSH logins for {n} hosts" if p.returncode == 0
                        else p.stderr[-300:]))

        # The floor: the least a paramiko fan-out can do - 50 threads, connect with the
        # key (host keys checked), one exec, read, close; nothing else.
        code = (
            "import sys, paramiko\n"
            "from concurrent.futures import ThreadPoolExecutor\n"
            f"targets = {[(h.address, h.port) for h in fleet.hosts]!r}\n"
            f"key = paramiko.Ed25519Key.from_private_key_file({str(fleet.client_key)!r})\n"
            "def one(t):\n"
            "    c = paramiko.SSHClient()\n"
            f"    c.load_host_keys({str(fleet.known_hosts)!r})\n"
            "    c.connect(t[0], t[1], username='root', pkey=key, allow_agent=False,\n"
            "              look_for_keys=False)\n"
            "    _, out, _ = c.exec_command('uname -a')\n"
            "    data = out.read()\n"
            "    rc = out.channel.recv_exit_status()\n"
            "    c.close()\n"
            "    return rc == 0 and data\n"
            "with ThreadPoolExecutor(50) as pool:\n"
            "    ok = all(pool.map(one, targets))\n"
            "sys.exit(0 if ok else 1)\n")
        t, p = timed([sys.executable, "-c", code])
        results.append(("paramiko floor (50 threads)", t,
                        "ok" if p.returncode == 0 else p.stderr[-300:]))

        hosts_file = root / "hosts.txt"
        hosts_file.write_text("".join(f"{h.address} {h.port}\n" for h in fleet.hosts))
        ssh_cmd = (f"ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes "
                   f"-o UserKnownHostsFile={fleet.known_hosts} -i {fleet.client_key} "
                   f"-p $1 root@$0 uname -a")
        t, p = timed(["sh", "-c", f"xargs -P 50 -L 1 sh -c '{ssh_cmd}' < {hosts_file}"])
        results.append(("xargs -P 50 + ssh", t,
                        "ok" if p.returncode == 0 and p.stdout.count("\n") == n
                        else p.stderr[-300:]))

        if shutil.which("ansible") or Path(sys.executable).with_name("ansible").exists():
            ansible = shutil.which("ansible") or str(Path(sys.executable).with_name("ansible"))
            ini = root / "hosts.ini"
            ini.write_text("[all]\n" + "".join(
                f"{h.name} ansible_host={h.address} ansible_port={h.port}\n"
                for h in fleet.hosts))
            aenv = {**env, "ANSIBLE_PIPELINING": "1", "ANSIBLE_HOST_KEY_CHECKING": "True",
                    "ANSIBLE_SSH_ARGS": f"-o UserKnownHostsFile={fleet.known_hosts} "
                                        "-o ControlMaster=auto -o ControlPersist=60s",
                    "ANSIBLE_PRIVATE_KEY_FILE": str(fleet.client_key),
                    "ANSIBLE_REMOTE_USER": "root", "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
                    "ANSIBLE_LOCAL_TEMP": str(root / "ansible-tmp")}
            t, p = timed([ansible, "all", "-i", str(ini), "-m", "command", "-a", "uname -a",
                          "-f", "50", "-o"], env=aenv)
            results.append(("ansible -m command -f 50", t,
                            "ok" if p.returncode == 0 else (p.stdout + p.stderr)[-300:]))
        else:
            results.append(("ansible", None, "not installed (pip install ansible-core)"))

        try:
            import pssh  # noqa: F401

            code = (
                "import sys\n"
                "from pssh.clients import ParallelSSHClient\n"
                "from pssh.config import HostConfig\n"
                f"hosts = {[h.address for h in fleet.hosts]!r}\n"
                f"ports = {[h.port for h in fleet.hosts]!r}\n"
                f"cfg = [HostConfig(port=p, user='root', private_key={str(fleet.client_key)!r})"
                " for p in ports]\n"
                "c = ParallelSSHClient(hosts, host_config=cfg, pool_size=50)\n"
                "out = c.run_command('uname -a')\n"
                "c.join(out)\n"
                "sys.exit(0 if all(o.exit_code == 0 for o in out) else 1)\n")
            t, p = timed([sys.executable, "-c", code])
            results.append(("parallel-ssh (pool 50)", t,
                            "ok (no host-key check)" if p.returncode == 0 else p.stderr[-300:]))
        except ImportError:
            results.append(("parallel-ssh", None, "not installed (pip install parallel-ssh)"))
    finally:
        stop_fleet(fleet)
    return results


def main() -> int:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hosts", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (median)")
    args = ap.parse_args()
    REPEAT = args.repeat
    for n in args.hosts:
        with tempfile.TemporaryDirectory(prefix=f"rbk-ssh-{n}-") as d:
            results = bench(n, Path(d))
        times = {name: t for name, t, _ in results}
        rbk_t = times["rbk do shell"]
        print(f"\n{n} hosts (median of {REPEAT})")
        print(f"{'tool':<28} {'wall':>8} {'vs rbk':>8}  note")
        for name, t, note in results:
            if t is None:
                print(f"{name:<28} {'-':>8} {'-':>8}  {note}")
            else:
                print(f"{name:<28} {t:7.2f}s {t / rbk_t:7.2f}x  {note}")
        floor = times.get("paramiko floor (50 threads)")
        if floor:
            ratio = rbk_t / floor
            print(f"goal rbk <= 1.3x the paramiko floor: {ratio:.2f}x "
                  f"{'met' if ratio <= 1.3 else 'NOT met'}")
        ansible = next((t for name, t, _ in results if name.startswith("ansible") and t), None)
        if ansible:
            ratio = ansible / rbk_t
            print(f"goal rbk >= 5x faster than Ansible: {ratio:.1f}x "
                  f"{'met' if ratio >= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
