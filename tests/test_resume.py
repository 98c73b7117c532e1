"""rbk resume: a run whose process was killed (-9) mid-run is rolled back or continued."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_rbk

RUNBOOK = """\
name: change-then-wait
inputs:
  pause: {default: 60s}
  fail: {default: "no"}
steps:
  - id: edit
    action: file.template
    with: {dest: site.conf, content: "limit 10r/s\\n"}
  - id: create
    action: file.template
    with: {dest: extra.conf, content: "cache on\\n"}
  - id: hold
    action: wait
    with: {duration: "{{ inputs.pause }}"}
  - id: last
    action: file.template
    with: {dest: last.conf, content: "done\\n"}
  - id: check
    action: shell
    when: inputs.fail == "yes"
    with: {cmd: ["false"]}
"""


@pytest.fixture
def crashed(tmp_path):
    """A run killed with SIGKILL while it waits, after changing two files."""
    (tmp_path / "rb.yaml").write_text(RUNBOOK)
    (tmp_path / "site.conf").write_text("original\n")
    env = {**os.environ, "RBK_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "rbk", "run", "rb.yaml", "--yes"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    journal = None
    while time.monotonic() < deadline:
        journals = list((tmp_path / "state" / "runs").glob("*.jsonl")) \
            if (tmp_path / "state" / "runs").exists() else []
        if journals and '"step": "hold"' in journals[0].read_text():
            journal = journals[0]
            break
        time.sleep(0.05)
    assert journal is not None, "the run never reached its wait step"
    run_id = journal.stem
    live = rbk(tmp_path, "resume", run_id, "--rollback")
    assert live.returncode != 0 and "is still running" in live.stderr
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "site.conf").read_text() == "limit 10r/s\n"
    return tmp_path, run_id


def rbk(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_rbk(*args, cwd=workdir, env={"RBK_STATE_DIR": str(workdir / "state")})


def status_of(workdir: Path, run_id: str) -> str:
    line = next(x for x in rbk(workdir, "runs").stdout.splitlines() if x.startswith(run_id))
    return line.split()[4]


def test_a_killed_run_is_shown_then_rolled_back_once(crashed):
    workdir, run_id = crashed
    assert status_of(workdir, run_id) == "running"
    shown = rbk(workdir, "resume", run_id)
    assert shown.returncode == 2
    assert "left 2 change(s) in effect" in shown.stdout
    assert "edit on localhost" in shown.stdout and "create on localhost" in shown.stdout

    undo = rbk(workdir, "resume", run_id, "--rollback", "--format", "json")
    assert undo.returncode == 0, undo.stderr
    report = json.loads(undo.stdout)
    assert report["status"] == "undone"
    assert report["trigger"] == f"resume:{run_id}"
    assert (workdir / "site.conf").read_text() == "original\n"
    assert not (workdir / "extra.conf").exists()
    assert not list(workdir.glob("*.bak"))  # the backups went with the rollback
    assert status_of(workdir, run_id) == "resumed:rollback"

    again = rbk(workdir, "resume", run_id, "--rollback")
    assert again.returncode != 0
    assert f"run {run_id} was already resumed by run {report['run_id']}" in again.stderr


def test_a_killed_run_is_continued_to_the_end(crashed):
    workdir, run_id = crashed
    done = rbk(workdir, "resume", run_id, "--continue", "-e", "pause=0s", "--yes",
               "--format", "json")
    assert done.returncode == 0, done.stderr
    steps = {s["id"]: s["status"] for s in json.loads(done.stdout)["steps"]}
    assert steps["edit"] == "no_change" and steps["create"] == "no_change"
    assert steps["last"] == "applied"
    assert (workdir / "last.conf").read_text() == "done\n"
    assert status_of(workdir, run_id) == "resumed:continue"


def test_a_continued_run_that_fails_rolls_back_the_first_runs_changes_too(crashed):
    workdir, run_id = crashed
    failed = rbk(workdir, "resume", run_id, "--continue", "-e", "pause=0s", "-e", "fail=yes",
                 "--yes")
    assert failed.returncode == 1
    assert "changes rolled back" in failed.stderr
    assert (workdir / "site.conf").read_text() == "original\n"
    assert not (workdir / "extra.conf").exists() and not (workdir / "last.conf").exists()


def test_only_interrupted_applying_runs_resume(tmp_path):
    (tmp_path / "rb.yaml").write_text(RUNBOOK)
    plan = rbk(tmp_path, "run", "rb.yaml", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    run_id = rbk(tmp_path, "runs").stdout.split()[0]
    refused = rbk(tmp_path, "resume", run_id, "--rollback")
    assert refused.returncode != 0
    assert "was a dry run: it changed nothing" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = rbk(tmp_path, "run", "rb.yaml", "-e", "pause=0s", "--yes")
    assert done.returncode == 0, done.stderr
    run_id = rbk(tmp_path, "runs").stdout.split()[0]
    finished = rbk(tmp_path, "resume", run_id, "--rollback")
    assert f"run {run_id} finished (succeeded); nothing to resume" in finished.stderr
