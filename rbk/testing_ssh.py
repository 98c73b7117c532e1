"""Real OpenSSH sshd daemons as separate hosts on 127.0.0.x, with their own host keys.

For rbk's own tests and for plugin authors (the ``rbk_ssh_fleet`` fixture of
rbk's pytest plugin): ``make_fleet(dir, n)`` starts n sshd processes, writes a
client key, a known_hosts file and ``fleet.inventory()``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"

CONFIG = """\
ListenAddress {address}:{port}
HostKey {hostkey}
PidFile {pidfile}
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
UsePAM no
StrictModes no
MaxStartups 100:30:200
LogLevel INFO
Subsystem sftp internal-sftp
# A host's cost is sshd's, not the login user's interactive rc files: bash sources
# ~/.bashrc when started by sshd unless SHLVL says it is nested, and a developer's
# .bashrc (pyenv init, say) can cost ~100 ms per command - more than SSH itself.
SetEnv SHLVL=1
"""


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)


@dataclass
class SSHHost:
    name: str
    address: str
    port: int
    dir: Path
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"

    def logins(self) -> int:
        return self.log.read_text().count("Accepted publickey") if self.log.exists() else 0

    @property
    def hostkey(self) -> Path:
        return self.dir / "hostkey"

    def start(self) -> None:
        self.proc = subprocess.Popen([SSHD, "-D", "-E", str(self.log), "-f",
                                      str(self.dir / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sshd for {self.name} exited: "
                                       f"{self.log.read_text()}") from None
                time.sleep(0.05)
        raise RuntimeError(f"sshd for {self.name} did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def known_hosts_line(self) -> str:
        key = (self.dir / "hostkey.pub").read_text().split()[:2]
        return f"[{self.address}]:{self.port} {' '.join(key)}\n"


@dataclass
class Fleet:
    root: Path
    hosts: list[SSHHost] = field(default_factory=list)

    @property
    def client_key(self) -> Path:
        return self.root / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    def inventory(self, extra: str = "") -> Path:
        lines = ["defaults:", "  user: " + os.environ.get("USER", "root"),
                 f"  key: {self.client_key}", f"  known_hosts: {self.known_hosts}",
                 "  agent: false", "  ssh_config: /nonexistent", "hosts:"]
        for h in self.hosts:
            lines.append(f"  {h.name}: {{address: {h.address}, port: {h.port}}}")
        lines += ["groups:", "  web: [" + ", ".join(h.name for h in self.hosts) + "]"]
        path = self.root / "inventory.yaml"
        path.write_text("\n".join(lines) + "\n" + extra)
        return path


def make_fleet(root: Path, n: int) -> Fleet:
    if not os.path.exists(SSHD):
        raise RuntimeError("OpenSSH sshd is not installed (Debian: apt-get install "
                           "openssh-server; rbk's ./scripts/test does it)")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory
    root.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(root)
    keygen(fleet.client_key)
    authorized = root / "authorized_keys"
    shutil.copy(str(fleet.client_key) + ".pub", authorized)
    for i in range(n):
        address = f"127.0.0.{10 + i}"
        d = root / f"host{i}"
        d.mkdir()
        host = SSHHost(f"web-{i + 1}", address, free_port(address), d)
        keygen(host.hostkey)
        (d / "sshd_config").write_text(CONFIG.format(
            address=address, port=host.port, hostkey=host.hostkey, pidfile=d / "sshd.pid",
            authorized=authorized))
        fleet.hosts.append(host)
    for h in fleet.hosts:
        h.start()
    fleet.known_hosts.write_text("".join(h.known_hosts_line() for h in fleet.hosts))
    return fleet


def stop_fleet(fleet: Fleet) -> None:
    for h in fleet.hosts:
        h.stop()
