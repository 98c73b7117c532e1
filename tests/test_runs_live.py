"""Runs as an operator drives them: Ctrl-C, a terminal prompt, notifications, hosts, observers."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_rbk

FLAG_THEN_WAIT = """\
name: slow
steps:
  - id: flag
    action: shell
    with: {cmd: [touch, flag.txt], undo: [rm, flag.txt]}
  - id: pause
    action: wait
    with: {duration: 30s}
"""


def test_ctrl_c_rolls_back_reports_and_exits_130(rbk_home):
    (rbk_home / "slow.yaml").write_text(FLAG_THEN_WAIT)
    proc = subprocess.Popen([sys.executable, "-m", "rbk", "run", "slow.yaml"], cwd=rbk_home,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 20
    while not (rbk_home / "flag.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (rbk_home / "flag.txt").exists()
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert not (rbk_home / "flag.txt").exists()
    assert out.startswith("INTERRUPTED") and "rolled back" in out
    assert "Traceback" not in err


GATED = """\
name: gated
steps:
  - id: flag
    action: shell
    approve: true
    with: {cmd: [touch, flag.txt]}
"""


def _run_on_terminal(cwd, answer: bytes) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "rbk", "run", "gated.yaml"], cwd=cwd,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 20
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        try:
            seen += os.read(master, 4096)
        except OSError:
            break
    os.write(master, answer)
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=20), seen.decode(errors="replace")


def test_approval_prompt_on_a_terminal(rbk_home):
    (rbk_home / "gated.yaml").write_text(GATED)
    code, screen = _run_on_terminal(rbk_home, b"n\n")
    assert "Apply step 'flag' (shell): would run: touch flag.txt? [y/N]" in screen
    assert code == 1 and not (rbk_home / "flag.txt").exists()
    code, screen = _run_on_terminal(rbk_home, b"y\n")
    assert code == 0 and (rbk_home / "flag.txt").exists()


def test_no_terminal_and_no_yes_stops_before_the_gate(rbk_home):
    (rbk_home / "gated.yaml").write_text(GATED)
    proc = run_rbk("run", "gated.yaml", cwd=rbk_home)
    assert proc.returncode == 1 and not (rbk_home / "flag.txt").exists()
    assert "re-run with --yes" in proc.stderr
    proc = run_rbk("run", "gated.yaml", "--yes", cwd=rbk_home)
    assert proc.returncode == 0 and (rbk_home / "flag.txt").exists()


def test_notify_posts_json_to_a_webhook(cli, rbk_home, site):
    (rbk_home / "n.yaml").write_text(f"""\
name: n
inputs:
  who: {{default: ops}}
steps:
  - id: tell
    action: notify
    with:
      channel: webhook
      url: {site.url}/hook
      message: "hello {{{{ inputs.who }}}}"
      data: {{incident: INC-1}}
""")
    dry = cli("run", "n.yaml", "--dry-run")
    assert dry.code == 0 and site.posts == []
    result = cli("run", "n.yaml")
    assert result.code == 0, result.err
    (path, body), = site.posts
    payload = json.loads(body)
    assert path == "/hook" and payload["message"] == "hello ops"
    assert payload["incident"] == "INC-1" and payload["run_id"]


def test_inventory_hosts_groups_and_limit(cli, rbk_home):
    (rbk_home / "inv.yaml").write_text("""\
hosts:
  localhost: {transport: local}
  box-a: {transport: local, dir: a}
  box-b: {transport: local, dir: b}
groups:
  boxes: [box-a, box-b]
""")
    (rbk_home / "fan.yaml").write_text("""\
name: fan
steps:
  - id: who
    action: shell
    on: boxes
    with: {cmd: "echo hi > {{ run.id }}.txt", creates: nothing-here}
""")
    result = cli("run", "fan.yaml", "-i", "inv.yaml", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert set(report["steps"][0]["hosts"]) == {"box-a", "box-b"}
    text = cli("run", "fan.yaml", "-i", "inv.yaml", "--dry-run").out
    assert "[box-a, box-b] would run: echo hi >" in text  # identical outcomes grouped
    limited = cli("run", "fan.yaml", "-i", "inv.yaml", "--limit", "box-b", "--format", "json")
    assert set(json.loads(limited.out)["steps"][0]["hosts"]) == {"box-b"}
    bad = cli("run", "fan.yaml", "-i", "inv.yaml", "--limit", "box-c")
    assert bad.code == 1 and "no host or group 'box-c'" in bad.err


def test_event_hooks_see_the_run(cli, rbk_home, monkeypatch):
    log = rbk_home / "observed.jsonl"
    monkeypatch.setenv("RBK_PLUGINS", "observer")
    monkeypatch.setenv("RBK_OBSERVER_LOG", str(log))
    (rbk_home / "s.yaml").write_text("name: s\ninputs:\n  pw: {secret: true, default: pa55word}\n"
                                     "steps:\n  - id: a\n    action: wait\n"
                                     "    with: {duration: 0.01}\n")
    assert cli("run", "s.yaml").code == 0
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["hook"] for r in records] == ["run_started", "step_finished", "run_finished"]
    assert records[0]["inputs"] == {"pw": "********"}
    assert records[1]["status"] == "applied" and records[2]["status"] == "succeeded"
