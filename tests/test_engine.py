"""The engine: honest dry runs, apply, rollback, retries, timeouts, gates, budgets.

Assertions are on files and HTTP servers, not on log lines.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TESTS

from rbk.engine import RunOptions, run_runbook
from rbk.errors import ExitCode, InputError
from rbk.plugins import get_registry
from rbk.runs.journal import read_journal
from rbk.validate import load_and_validate

SECRET = "tok-3f9a1c77e2"


@pytest.fixture
def deploy(rbk_home):
    """The acceptance runbook copied into the test's directory."""
    shutil.copytree(TESTS / "runbooks", rbk_home / "rb")
    return load_and_validate(rbk_home / "rb" / "deploy-config.yaml", get_registry())


def run(loaded, dry_run=False, **inputs):
    return run_runbook(loaded, get_registry(), RunOptions(dry_run=dry_run, inputs=inputs))


def test_dry_run_shows_diff_and_changes_nothing(deploy, rbk_home, site):
    dest = rbk_home / "limits.conf"
    outcome = run(deploy, dry_run=True, dest=str(dest), url=site.route("/health"))
    assert outcome.exit_code == ExitCode.OK
    assert not dest.exists() and not Path(f"{dest}.active").exists()
    report = outcome.report()
    assert report.headline.startswith("PLAN — NOTHING CHANGED")
    config = report.steps[0]
    plan = config.hosts["localhost"].plan
    assert plan["changed"] is True and plan["fidelity"] == "exact"
    assert "+limit_conn perip 10;" in plan["diff"]
    activate = report.steps[1]
    assert activate.status == "would_change"
    assert activate.hosts["localhost"].plan["commands"] == [f"cp {dest} {dest}.active"]


def test_run_applies_then_second_dry_run_plans_no_change(deploy, rbk_home, site):
    dest = rbk_home / "limits.conf"
    url = site.route("/health")
    first = run(deploy, dest=str(dest), url=url, max_conn=7)
    assert first.exit_code == ExitCode.OK, first.events[-1]
    assert "limit_conn perip 7;" in dest.read_text()
    assert Path(f"{dest}.active").read_text() == dest.read_text()
    again = run(deploy, dry_run=True, dest=str(dest), url=url, max_conn=7)
    report = again.report()
    assert again.exit_code == ExitCode.OK
    assert report.changing_steps == []
    assert [s.status for s in report.steps] == ["no_change", "skipped", "no_change"]


def test_failure_in_last_step_restores_the_file(deploy, rbk_home, site):
    dest = rbk_home / "limits.conf"
    dest.write_text("# the original config\n")
    outcome = run(deploy, dest=str(dest), url=site.route("/health", status=503))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert dest.read_text() == "# the original config\n"
    assert not Path(f"{dest}.active").exists()
    assert list(rbk_home.glob("limits.conf.rbk-*")) == []  # backup consumed by the restore
    report = outcome.report()
    assert report.status == "rolled_back" and report.rollback["complete"] is True
    assert [s.status for s in report.steps] == ["rolled_back", "rolled_back", "failed"]


def test_created_file_is_removed_on_rollback(deploy, rbk_home, site):
    dest = rbk_home / "new.conf"
    outcome = run(deploy, dest=str(dest), url=site.route("/down", status=500))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert not dest.exists()


def test_secrets_are_redacted_in_journal_and_every_report(deploy, rbk_home, site):
    dest = rbk_home / "limits.conf"
    outcome = run(deploy, dest=str(dest), url=site.route("/health"))
    assert SECRET in dest.read_text()  # the real file gets the real value
    journal = outcome.journal.read_text()
    assert SECRET not in journal and "********" in journal
    registry = get_registry()
    for fmt, render in registry.reporters.items():
        assert SECRET not in render(outcome.report()), fmt


def test_inputs_are_checked_before_anything_runs(deploy, rbk_home):
    with pytest.raises(InputError) as info:
        run(deploy, dest="x", url="http://127.0.0.1:9/", max_con="3", max_conn="many")
    msg = str(info.value)
    assert "unknown input 'max_con' — did you mean 'max_conn'?" in msg
    assert "input 'max_conn': expected int, got 'many'" in msg
    assert not (rbk_home / "state" / "runs").exists()
    with pytest.raises(InputError) as info:
        run(deploy, url="http://127.0.0.1:9/")
    assert "missing required input 'dest'" in str(info.value)


def rb(tmp: Path, text: str):
    p = tmp / "rb.yaml"
    p.write_text(text)
    return load_and_validate(p, get_registry())


@pytest.fixture
def fake(rbk_home, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "fake_actions")
    return rbk_home


def test_retries_with_delay(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: f\n    action: test.flaky\n    retries: 2\n"
                      "    delay: 0.01\n    with: {counter: c.txt, fail_times: 2}\n")
    outcome = run(loaded)
    assert outcome.exit_code == ExitCode.OK
    assert (fake / "c.txt").read_text() == "3"
    assert sum(e["event"] == "step_retry" for e in outcome.events) == 2


def test_on_failure_continue_and_stop(fake):
    loaded = rb(fake, """name: x
steps:
  - id: a
    action: test.set_flag
    with: {path: a.txt}
  - id: f
    action: test.flaky
    on_failure: continue
    with: {counter: c.txt, fail_times: 5}
  - id: b
    action: test.set_flag
    with: {path: b.txt}
  - id: g
    action: test.flaky
    on_failure: stop
    with: {counter: d.txt, fail_times: 5}
  - id: never
    action: test.set_flag
    with: {path: never.txt}
""")
    outcome = run(loaded)
    assert outcome.exit_code == ExitCode.STEP_FAILED
    # continue: the run went on; stop: no rollback, nothing after it ran.
    assert (fake / "a.txt").exists() and (fake / "b.txt").exists()
    assert not (fake / "never.txt").exists()


def test_timeout_fails_the_step_and_rolls_back(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: a\n    action: test.set_flag\n"
                      "    with: {path: a.txt}\n  - id: s\n    action: test.sleep\n"
                      "    timeout: 0.2\n    with: {seconds: 5}\n")
    outcome = run(loaded)
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "timed out after 0.2s" in outcome.events[-1]["message"]
    assert not (fake / "a.txt").exists()


def test_ctrl_c_during_apply_rolls_back_and_exits_130(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: a\n    action: test.set_flag\n"
                      "    with: {path: a.txt}\n  - id: i\n    action: test.interrupt\n")
    outcome = run(loaded)
    assert outcome.exit_code == ExitCode.INTERRUPTED
    assert not (fake / "a.txt").exists()
    assert outcome.report().status == "interrupted"


def test_rollback_that_cannot_complete_exits_3(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: s\n    action: shell\n"
                      "    with: {cmd: [touch, made.txt]}\n  - id: f\n    action: test.flaky\n"
                      "    with: {counter: c.txt, fail_times: 1}\n")
    outcome = run(loaded)
    assert outcome.exit_code == ExitCode.ROLLBACK_FAILED
    assert (fake / "made.txt").exists()
    step = outcome.report().steps[0]
    assert step.status == "not_rolled_back"
    assert "no 'undo' command" in step.hosts["localhost"].rollback


def test_mutating_action_without_a_plan_fails_the_dry_run_loudly(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: n\n    action: test.noplan\n")
    outcome = run(loaded, dry_run=True)
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "returned no plan" in outcome.events[-1]["message"]
    loaded = rb(fake, "name: x\nsteps:\n  - id: n\n    action: test.unknown_fidelity\n")
    outcome = run(loaded, dry_run=True)
    assert "fidelity 'unknown' but gave no reason" in outcome.events[-1]["message"]


def test_approval_gate_without_tty_stops_before_the_step(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: a\n    action: test.set_flag\n"
                      "    with: {path: a.txt}\n  - id: gated\n    action: test.set_flag\n"
                      "    approve: true\n    with: {path: b.txt}\n")
    outcome = run_runbook(loaded, get_registry(), RunOptions(dry_run=False, approver=None))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "--yes" in outcome.events[-1]["message"]
    assert not (fake / "b.txt").exists()
    asked = []
    outcome = run_runbook(loaded, get_registry(), RunOptions(
        dry_run=False, approver=lambda q: asked.append(q) or True))
    assert outcome.exit_code == ExitCode.OK and (fake / "b.txt").exists()
    assert "gated" in asked[0] and "b.txt" in asked[0]


def test_denied_approval_rolls_back(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: a\n    action: test.set_flag\n"
                      "    with: {path: a.txt}\n  - id: gated\n    action: test.set_flag\n"
                      "    approve: true\n    with: {path: b.txt}\n")
    outcome = run_runbook(loaded, get_registry(), RunOptions(dry_run=False,
                                                             approver=lambda q: False))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert not (fake / "a.txt").exists() and not (fake / "b.txt").exists()


def test_change_budget_stops_runaway_runs(fake):
    steps = "".join(f"  - id: s{i}\n    action: test.set_flag\n    with: {{path: f{i}.txt}}\n"
                    for i in range(4))
    loaded = rb(fake, f"name: x\nbudget: {{max_changed_steps: 2}}\nsteps:\n{steps}")
    outcome = run(loaded)
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "change budget" in outcome.events[-1]["message"]
    assert not any((fake / f"f{i}.txt").exists() for i in range(4))  # rolled back
    dry = run(loaded, dry_run=True)
    assert dry.exit_code == ExitCode.STEP_FAILED


def test_predicted_outputs_feed_later_steps_in_dry_run(fake):
    loaded = rb(fake, """name: x
steps:
  - id: a
    action: test.set_flag
    with: {path: a.txt, value: hello}
  - id: b
    action: test.set_flag
    when: steps.a.changed
    with: {path: b.txt, value: "{{ steps.a.value }}-world"}
""")
    outcome = run(loaded, dry_run=True)
    plan = outcome.report().steps[1].hosts["localhost"].plan
    assert plan["outputs"]["value"] == "hello-world"
    assert not (fake / "b.txt").exists()


def test_journal_records_each_step_before_it_acts(fake):
    loaded = rb(fake, "name: x\nsteps:\n  - id: a\n    action: test.set_flag\n"
                      "    with: {path: a.txt}\n")
    outcome = run(loaded)
    kinds = [e["event"] for e in read_journal(outcome.journal)]
    assert kinds.index("step_applying") < kinds.index("step_applied")
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert json.loads(outcome.journal.read_text().splitlines()[0])["run"]["runbook"]["name"] == "x"


def test_redaction_masks_url_credentials_and_stays_fast_on_huge_values():
    import time

    from rbk.redact import Redactor

    r = Redactor(["s3cr3t-value"])
    assert r.text("post to https://bob:pw@hooks.example/x?k=s3cr3t-value") == \
        "post to https://********@hooks.example/x?k=********"
    start = time.monotonic()
    r.text("a" * 200_000 + "://x@" + "b" * 200_000)
    assert time.monotonic() - start < 1
