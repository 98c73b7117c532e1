"""become (sudo) over SSH against real sshd and real sudo: the password reaches sudo only.

The fixture creates two throwaway login users (needs root, as CI runs): one whose sudo
asks for a password, one with NOPASSWD, and removes them afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import run_rbk

from rbk.testing_ssh import make_fleet, stop_fleet

PASSWORD = "s3cret-" + secrets.token_hex(6)


def sh(*argv: str, input: str | None = None) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, input=input)


@pytest.fixture(scope="module")
def sudo_users():
    if os.geteuid() != 0:
        pytest.fail("test_become needs root: it creates login users with sudo rules "
                    "(./scripts/test as root, as CI runs it)")
    for tool in ("sudo", "useradd", "chpasswd", "visudo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (Debian: apt-get install sudo passwd; "
                        f"./scripts/test does it)")
    tag = secrets.token_hex(3)
    users = {"asks": f"rbkpw{tag}", "nopasswd": f"rbknp{tag}"}
    home = Path(tempfile.mkdtemp(prefix="rbk-become-home-"))
    home.chmod(0o755)
    rules = []
    try:
        for kind, user in users.items():
            sh("useradd", "-M", "-d", str(home), "-s", "/bin/sh", user)
            sh("chpasswd", input=f"{user}:{PASSWORD}\n")  # also unlocks the account for sshd
            rule = Path(f"/etc/sudoers.d/{user}")
            tag_ = "NOPASSWD: " if kind == "nopasswd" else ""
            rule.write_text(f"Defaults:{user} !lecture, timestamp_timeout=0\n"
                            f"{user} ALL=(ALL:ALL) {tag_}ALL\n")
            rule.chmod(0o440)
            rules.append(rule)
            sh("visudo", "-cf", str(rule))
        yield users
    finally:
        for rule in rules:
            rule.unlink(missing_ok=True)
        for user in users.values():
            subprocess.run(["userdel", user], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fleet():
    # sshd reads authorized_keys as the login user: pytest's tmp dirs are root's only.
    root = Path(tempfile.mkdtemp(prefix="rbk-become-"))
    root.chmod(0o755)
    fleet = make_fleet(root / "fleet", 1)
    (root / "fleet").chmod(0o755)
    (root / "fleet" / "authorized_keys").chmod(0o644)
    yield fleet
    stop_fleet(fleet)
    shutil.rmtree(root, ignore_errors=True)


def run(fleet, user: str, password: object, cmd: list[str], env: dict | None = None,
        args: tuple[str, ...] | None = None):
    host = fleet.hosts[0]
    pw = "" if password is None else f"become_password: {json.dumps(password)}\n    "
    inventory = fleet.root / "become.yaml"
    inventory.write_text(
        f"hosts:\n  web-1:\n    address: {host.address}\n    port: {host.port}\n"
        f"    user: {user}\n    key: {fleet.client_key}\n    known_hosts: {fleet.known_hosts}\n"
        f"    agent: false\n    ssh_config: /nonexistent\n    become: true\n    {pw}\n")
    state = fleet.root / "state"
    args = args or ("do", "shell", f"cmd={json.dumps(cmd)}", "--on", "web-1")
    proc = run_rbk(*args, "-i", str(inventory), "--format", "json", cwd=fleet.root,
                   env={"RBK_STATE_DIR": str(state), **(env or {})})
    everything = proc.stdout + proc.stderr + "".join(
        p.read_text(errors="replace") for p in state.rglob("*") if p.is_file()
        and p.suffix != ".db") + host.log.read_text()
    assert PASSWORD not in everything  # not in the report, the journal or sshd's log
    return proc


def stdout_of(proc) -> str:
    host = json.loads(proc.stdout)["steps"][0]["hosts"]["web-1"]
    return (host["result"] or host["plan"])["outputs"]["stdout"]  # readonly: plan only


def test_become_with_a_password_from_the_environment(sudo_users, fleet):
    # `cat` shows what reached the command's stdin: nothing, not the password.
    proc = run(fleet, sudo_users["asks"], {"env": "RBK_SUDO_PW"},
               ["sh", "-c", "cat; id -u; echo \"$SUDO_USER\""], env={"RBK_SUDO_PW": PASSWORD})
    assert proc.returncode == 0, proc.stderr
    assert stdout_of(proc).split() == ["0", sudo_users["asks"]]


def test_a_wrong_password_is_refused_and_nothing_runs(sudo_users, fleet):
    proc = run(fleet, sudo_users["asks"], {"env": "RBK_SUDO_PW"},
               ["touch", str(fleet.root / "ran")], env={"RBK_SUDO_PW": "not-" + PASSWORD})
    assert proc.returncode == 1
    assert "sudo on web-1 refused become_password for user root" in proc.stderr
    assert not (fleet.root / "ran").exists()


def test_no_password_where_sudo_asks_for_one_says_what_to_set(sudo_users, fleet):
    proc = run(fleet, sudo_users["asks"], None, ["id", "-u"])
    assert proc.returncode == 1
    assert "sudo on web-1 asks for a password: set become_password" in proc.stderr


def test_nopasswd_sudo_never_sees_the_password_on_stdin(sudo_users, fleet):
    proc = run(fleet, sudo_users["nopasswd"], {"env": "RBK_SUDO_PW"},
               ["sh", "-c", "cat; id -u"], env={"RBK_SUDO_PW": PASSWORD})
    assert proc.returncode == 0, proc.stderr
    assert stdout_of(proc).split() == ["0"]


def test_an_unset_password_variable_is_a_clear_error(sudo_users, fleet):
    proc = run(fleet, sudo_users["asks"], {"env": "RBK_NO_SUCH_VAR"}, ["id"])
    assert proc.returncode != 0
    assert "host 'web-1': become_password is $RBK_NO_SUCH_VAR, which is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_become_password_from_a_secret_input_of_the_runbook(sudo_users, fleet):
    (fleet.root / "rb.yaml").write_text(
        "name: root-check\ninputs:\n  sudo_pw: {secret: true}\nsteps:\n"
        "  - {id: who, action: shell, on: web-1, with: {cmd: [id, -u], readonly: true}}\n")
    proc = run(fleet, sudo_users["asks"], {"input": "sudo_pw"}, [],
               args=("run", "rb.yaml", "-e", f"sudo_pw={PASSWORD}"))
    assert proc.returncode == 0, proc.stderr
    assert stdout_of(proc).strip() == "0"
