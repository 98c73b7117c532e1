"""The SSH transport against real OpenSSH sshd daemons on 127.0.0.x."""

from __future__ import annotations

import json
import subprocess
import time

from conftest import run_rbk

from rbk.testing_ssh import keygen, make_fleet, stop_fleet


def rbk(fleet, *args, runbook: str | None = None, env=None):
    if runbook is not None:
        (fleet.root / "rb.yaml").write_text(runbook)
    return run_rbk(*args, "-i", str(fleet.inventory()), "--format", "json", cwd=fleet.root,
                   env={"RBK_STATE_DIR": str(fleet.root / "state"), **(env or {})})


ECHO = """\
name: echo
inputs:
  note: {{default: plain}}
steps:
  - id: who
    action: shell
    on: web
    max_fail_percentage: {pct}
    with:
      cmd: "echo $SSH_CONNECTION {{{{ inputs.note }}}}"
      changed_when: "false"
"""


def hosts_of(report: dict, step: str = "who") -> dict:
    return next(s for s in report["steps"] if s["id"] == step)["hosts"]


def test_runs_on_five_hosts_each_on_its_own_server(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    proc = rbk(fleet, "run", "rb.yaml", runbook=ECHO.format(pct=0))
    assert proc.returncode == 0, proc.stderr
    hosts = hosts_of(json.loads(proc.stdout))
    assert sorted(hosts) == [f"web-{i}" for i in range(1, 6)]
    for h in fleet.hosts:
        out = hosts[h.name]["result"]["outputs"]["stdout"]
        assert f" {h.address} {h.port} plain" in out  # SSH_CONNECTION: client ip/port server ip/port


def test_one_host_down_fails_alone_within_max_fail_percentage(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    fleet.hosts[2].stop()
    proc = rbk(fleet, "run", "rb.yaml", runbook=ECHO.format(pct=20))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    hosts = hosts_of(report)
    assert hosts["web-3"]["status"] == "failed"
    assert "cannot connect to web-3" in hosts["web-3"]["error"]
    assert all(hosts[f"web-{i}"]["status"] == "applied" for i in (1, 2, 4, 5))
    step = report["steps"][0]
    assert step["failed_hosts"] == ["web-3"]


def test_max_fail_percentage_stops_the_rollout(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    fleet.hosts[0].stop()
    fleet.hosts[1].stop()
    proc = rbk(fleet, "run", "rb.yaml", runbook=ECHO.format(pct=20))
    assert proc.returncode == 1
    assert "2 of 5 hosts failed (40% > max_fail_percentage 20%)" in proc.stderr


def test_canary_batches_stop_before_the_rest(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    marker = fleet.root / "ran.txt"
    runbook = f"""\
name: canary
steps:
  - id: roll
    action: shell
    on: web
    serial: [1, "100%"]
    with:
      cmd: "test {{{{ run.id }}}} = never || echo $SSH_CONNECTION >> {marker}; exit 3"
"""
    proc = rbk(fleet, "run", "rb.yaml", runbook=runbook)
    assert proc.returncode == 1
    # The canary (first host) failed, so the other four never ran the command.
    assert len(marker.read_text().splitlines()) == 1


def test_changed_host_key_is_refused_and_nothing_is_sent(rbk_ssh_fleet, tmp_path):
    fleet = rbk_ssh_fleet
    victim = fleet.hosts[1]
    victim.stop()
    victim.hostkey.unlink()
    (victim.dir / "hostkey.pub").unlink()
    keygen(victim.hostkey)  # same address and port, new key: what a MITM looks like
    victim.start()
    marker = tmp_path / "sent"
    runbook = f"""\
name: mitm
steps:
  - id: who
    action: shell
    on: web-2
    with: {{cmd: [touch, "{marker}"]}}
"""
    proc = rbk(fleet, "run", "rb.yaml", runbook=runbook)
    assert proc.returncode == 1
    assert "HOST KEY CHANGED for web-2" in proc.stderr and "Nothing was sent" in proc.stderr
    assert "ssh-keygen -R" in proc.stderr
    assert not marker.exists()
    assert "Traceback" not in proc.stderr


def test_unknown_host_is_refused_with_the_command_to_add_it(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    lines = fleet.known_hosts.read_text().splitlines(keepends=True)
    fleet.known_hosts.write_text("".join(lines[1:]))  # forget web-1
    h = fleet.hosts[0]
    runbook = "name: u\nsteps:\n  - id: who\n    action: shell\n    on: web-1\n" \
              "    with: {cmd: [true]}\n".replace("[true]", "[\"true\"]")
    proc = rbk(fleet, "run", "rb.yaml", runbook=runbook)
    assert proc.returncode == 1
    assert "host web-1" in proc.stderr and "is not in known_hosts" in proc.stderr
    assert f"ssh-keyscan -p {h.port} {h.address} >> {fleet.known_hosts}" in proc.stderr
    fp = subprocess.run(["ssh-keygen", "-lf", str(h.dir / "hostkey.pub")], capture_output=True,
                        text=True).stdout.split()[1]
    assert fp in proc.stderr  # the fingerprint to compare out of band


def test_hostile_values_cannot_run_anything_extra(rbk_ssh_fleet, tmp_path):
    fleet = rbk_ssh_fleet
    pwned = tmp_path / "pwned"
    hostile = f"x'; touch {pwned}; echo '$(touch {pwned})`touch {pwned}`"
    proc = rbk(fleet, "run", "rb.yaml", "-e", f"note={hostile}", runbook=ECHO.format(pct=0))
    assert proc.returncode == 0, proc.stderr
    plan = hosts_of(json.loads(proc.stdout))["web-1"]["plan"]
    import shlex

    assert plan["commands"] == ["echo $SSH_CONNECTION " + shlex.quote(hostile)]
    assert not pwned.exists()
    # a host pattern from outside can only select inventory hosts
    target = rbk(fleet, "run", "rb2.yaml", "-e", "target=web-1;reboot",
                 runbook="name: t\ninputs:\n  target: {}\nsteps:\n  - id: x\n    action: shell\n"
                         "    on: \"{{ inputs.target }}\"\n    with: {cmd: [\"true\"]}\n")
    assert target.returncode != 0


def test_files_over_sftp_and_one_connection_per_host(rbk_ssh_fleet, tmp_path):
    fleet = rbk_ssh_fleet
    dest = tmp_path / "remote.conf"
    runbook = f"""\
name: files
steps:
  - id: write
    action: file.template
    on: web-1
    with: {{dest: "{dest}", content: "limit {{{{ 5 * 2 }}}}\\n", mode: "0640"}}
  - id: check
    action: shell
    on: web-1
    with: {{cmd: [cat, "{dest}"], readonly: true}}
"""
    logins = fleet.hosts[0].logins()
    proc = rbk(fleet, "run", "rb.yaml", runbook=runbook)
    assert proc.returncode == 0, proc.stderr
    assert fleet.hosts[0].logins() == logins + 1  # two steps, one SSH connection
    assert dest.read_text() == "limit 10\n" and dest.stat().st_mode & 0o777 == 0o640
    again = rbk(fleet, "run", "rb.yaml", "--dry-run", runbook=runbook)
    report = json.loads(again.stdout)
    assert report["changes"] == []


def test_ssh_config_and_proxy_jump_are_honoured(rbk_ssh_fleet):
    """Hosts named only in the inventory get HostName, Port, User, IdentityFile and
    ProxyJump from ssh_config, and are reached through one shared bastion connection."""
    fleet = rbk_ssh_fleet
    bastion, targets = fleet.hosts[0], fleet.hosts[1:]
    config = fleet.root / "ssh_config"
    config.write_text("".join(
        f"Host app-{i}\n  HostName {t.address}\n  Port {t.port}\n  User root\n"
        f"  IdentityFile {fleet.client_key}\n  ProxyJump root@{bastion.address}:{bastion.port}\n"
        for i, t in enumerate(targets, 1)))
    inventory = fleet.root / "via-bastion.yaml"
    inventory.write_text(f"defaults: {{known_hosts: {fleet.known_hosts}, agent: false, "
                         f"ssh_config: {config}}}\nhosts:\n" +
                         "".join(f"  app-{i}: {{}}\n" for i in range(1, len(targets) + 1)))
    proc = run_rbk("do", "shell", 'cmd=["sh", "-c", "echo $SSH_CONNECTION"]', "--on", "all",
                   "-i", str(inventory), "--format", "json", cwd=fleet.root,
                   env={"RBK_STATE_DIR": str(fleet.root / "state")})
    assert proc.returncode == 0, proc.stderr
    hosts = json.loads(proc.stdout)["steps"][0]["hosts"]
    for i, t in enumerate(targets, 1):
        out = hosts[f"app-{i}"]["result"]["outputs"]["stdout"]
        assert out.split()[2:] == [t.address, str(t.port)]
        assert t.logins() == 1
    assert bastion.logins() == 1  # four hosts, one bastion connection


def test_sshd_dropping_bursty_connects_is_retried(tmp_path):
    """sshd's MaxStartups drops connections beyond its limit before the banner; rbk
    retries with jittered backoff until every host is in."""
    fleet = make_fleet(tmp_path / "fleet", 1)
    try:
        host = fleet.hosts[0]
        cfg = host.dir / "sshd_config"
        cfg.write_text(cfg.read_text().replace("MaxStartups 100:30:200", "MaxStartups 2:100:2"))
        host.stop()
        host.start()
        inventory = tmp_path / "aliases.yaml"
        inventory.write_text(
            f"defaults: {{address: {host.address}, port: {host.port}, key: {fleet.client_key}, "
            f"known_hosts: {fleet.known_hosts}, agent: false, ssh_config: /nonexistent}}\n"
            "hosts:\n" + "".join(f"  alias-{i}: {{}}\n" for i in range(16)))
        proc = run_rbk("do", "shell", 'cmd=["true"]', "--on", "all", "-i", str(inventory),
                       "--format", "json", cwd=tmp_path,
                       env={"RBK_STATE_DIR": str(tmp_path / "state")})
        assert proc.returncode == 0, proc.stderr
        assert len(json.loads(proc.stdout)["steps"][0]["hosts"]) == 16
        assert host.logins() == 16
        assert "drop connection" in host.log.read_text()  # the retry path was taken
    finally:
        stop_fleet(fleet)


def test_a_host_without_an_address_is_never_run_locally(tmp_path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("defaults: {ssh_config: /nonexistent, agent: false}\n"
                         "hosts:\n  db-1: {connect_timeout: 2}\n")
    marker = tmp_path / "ran-here"
    proc = run_rbk("do", "shell", f'cmd=["touch", "{marker}"]', "--on", "db-1", "-i",
                   str(inventory), env={"RBK_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 1
    assert "db-1" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_a_command_that_never_ends_is_killed_on_the_host_at_its_timeout(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    start = time.monotonic()
    proc = run_rbk("do", "shell", 'cmd=["sh", "-c", "sleep 3079 & sleep 3078"]', "timeout=1",
                   "--on", "web-1", "-i", str(fleet.inventory()), cwd=fleet.root,
                   env={"RBK_STATE_DIR": str(fleet.root / "state")})
    assert proc.returncode == 1
    assert "killed after timeout of 1s" in proc.stderr
    assert time.monotonic() - start < 10
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running("sleep 307[89]"):
        time.sleep(0.1)
    assert not _running("sleep 307[89]"), "the command (or its child) still runs on the host"


def _running(pattern: str) -> bool:
    """Whether a process whose command line matches runs (like pgrep -f, from /proc)."""
    import re
    from pathlib import Path

    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if re.search(pattern, text):
            return True
    return False


def test_output_is_capped_per_command(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    proc = rbk(fleet, "do", "shell", 'cmd=["sh", "-c", "yes x | head -c 5000000"]',
               "readonly=true", "--on", "web-1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["steps"][0]["hosts"]["web-1"]["plan"]["outputs"]
    assert out["truncated"] is True
    assert len(out["stdout"]) == 1024 * 1024 and set(out["stdout"]) == {"x", "\n"}


def test_an_encrypted_key_opens_with_a_passphrase_from_the_environment(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    key = fleet.root / "encrypted_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pp-7e1f0c", "-f", str(key)],
                   check=True)
    with open(fleet.root / "authorized_keys", "a") as fh:
        fh.write((fleet.root / "encrypted_key.pub").read_text())
    host = fleet.hosts[0]

    def run_with(passphrase: str | None, env: dict):
        inventory = fleet.root / "enc.yaml"
        pp = f", key_passphrase: {passphrase}" if passphrase else ""
        inventory.write_text(
            f"hosts:\n  web-1: {{address: {host.address}, port: {host.port}, key: {key}, "
            f"known_hosts: {fleet.known_hosts}, agent: false, ssh_config: /nonexistent{pp}}}\n")
        return run_rbk("do", "shell", 'cmd=["true"]', "--on", "web-1", "-i", str(inventory),
                       cwd=fleet.root, env={"RBK_STATE_DIR": str(fleet.root / "state"), **env})

    ok = run_with("{env: RBK_KEY_PP}", {"RBK_KEY_PP": "pp-7e1f0c"})
    assert ok.returncode == 0, ok.stderr
    assert "pp-7e1f0c" not in ok.stdout + ok.stderr
    locked = run_with(None, {})
    assert locked.returncode == 1
    assert f"key {key} is encrypted: give key_passphrase" in locked.stderr
    wrong = run_with("{env: RBK_KEY_PP}", {"RBK_KEY_PP": "not-it"})
    assert wrong.returncode == 1
    assert f"key {key} does not open (wrong key_passphrase?)" in wrong.stderr
    assert "Traceback" not in locked.stderr + wrong.stderr


def test_a_command_reading_stdin_gets_eof_not_a_hang(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    start = time.monotonic()
    proc = rbk(fleet, "do", "shell", 'cmd=["cat"]', "timeout=20", "readonly=true",
               "--on", "web-1")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 10
