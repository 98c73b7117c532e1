"""Builtin actions through the engine, asserting on files, processes and HTTP answers."""

from __future__ import annotations

import pytest

from rbk.engine import RunOptions, run_runbook
from rbk.errors import ExitCode
from rbk.plugins import get_registry
from rbk.validate import load_and_validate


def run(tmp, text, dry_run=False, **inputs):
    p = tmp / "rb.yaml"
    p.write_text(text)
    loaded = load_and_validate(p, get_registry())
    outcome = run_runbook(loaded, get_registry(), RunOptions(dry_run=dry_run, inputs=inputs,
                                                             approver=lambda q: True))
    return outcome, outcome.report()


def one_step(action: str, with_: str, **extra: str) -> str:
    lines = [f"    {k}: {v}" for k, v in extra.items()]
    return ("name: t\nsteps:\n  - id: s\n    action: " + action + "\n" + "\n".join(lines)
            + ("\n" if lines else "") + "    with:\n" + "".join(
                f"      {line}\n" for line in with_.strip().splitlines()))


def host(report, step="s"):
    return next(s for s in report.steps if s.id == step).hosts["localhost"]


def test_shell_output_is_capped(rbk_home):
    outcome, report = run(rbk_home, one_step(
        "shell", "cmd: [python3, -c, \"print('x' * 100000)\"]\nmax_output: 1k\nreadonly: true"))
    out = host(report).plan["outputs"]
    assert outcome.exit_code == 0
    assert len(out["stdout"]) == 1024 and out["truncated"] is True


def test_shell_command_is_killed_at_its_timeout(rbk_home):
    outcome, report = run(rbk_home, one_step(
        "shell", "cmd: 'sleep 30; touch late'\ntimeout: 0.5"))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "exited -9" in report.steps[0].error and "killed after timeout" in report.steps[0].error
    assert not (rbk_home / "late").exists()


def test_shell_failure_shows_command_code_and_output_tail(rbk_home):
    outcome, report = run(rbk_home, one_step("shell", "cmd: 'echo oops >&2; exit 3'"))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert report.steps[0].error == "command 'echo oops >&2; exit 3' exited 3 on localhost: oops"


@pytest.mark.parametrize("hint, exists, changes", [
    ("creates: here.txt", True, False), ("creates: here.txt", False, True),
    ("removes: here.txt", True, True), ("removes: here.txt", False, False),
    ("unless: [test, -e, here.txt]", True, False),
])
def test_shell_idempotency_hints(rbk_home, hint, exists, changes):
    if exists:
        (rbk_home / "here.txt").write_text("")
    outcome, report = run(rbk_home, one_step("shell", f"cmd: [touch, ran.txt]\n{hint}"),
                          dry_run=True)
    assert outcome.exit_code == 0
    assert host(report).plan["changed"] is changes


def test_shell_changed_when_sees_the_output(rbk_home):
    outcome, report = run(rbk_home, one_step(
        "shell", "cmd: 'echo nothing to do'\nchanged_when: \"'updated' in stdout\""))
    assert outcome.exit_code == 0
    assert host(report).result["changed"] is False


def test_file_template_validate_rejects_and_keeps_the_old_file(rbk_home):
    dest = rbk_home / "app.conf"
    dest.write_text("good = 1\n")
    outcome, report = run(rbk_home, one_step("file.template", f"""
dest: {dest}
content: "bad syntax here\\n"
validate: "grep -q '=' {{path}} || {{ echo 'config invalid: no assignment' >&2; exit 1; }}"
"""))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert dest.read_text() == "good = 1\n"
    assert "config invalid: no assignment" in report.steps[0].error
    assert sorted(p.name for p in rbk_home.iterdir() if p.name.startswith("app.conf")) == [
        "app.conf"]


def test_file_template_refuses_a_file_changed_since_the_plan(rbk_home, monkeypatch):
    from rbk.builtin import file_template

    dest = rbk_home / "app.conf"
    dest.write_text("v1\n")
    real_check = file_template.FileTemplateAction.check

    def check_then_someone_edits(self, ctx, inputs):
        plan = real_check(self, ctx, inputs)
        if not ctx.dry_run:
            dest.write_text("edited by a human\n")
        return plan

    monkeypatch.setattr(file_template.FileTemplateAction, "check", check_then_someone_edits)
    outcome, report = run(rbk_home, one_step("file.template", f"dest: {dest}\ncontent: v2"))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "changed since it was planned" in report.steps[0].error
    assert dest.read_text() == "edited by a human\n"


def test_file_template_mode_and_relative_src(rbk_home):
    (rbk_home / "tpl").mkdir()
    (rbk_home / "tpl" / "x.j2").write_text("n={{ vars.n }} {{ inputs.who }}\n")
    text = ("name: t\ninputs:\n  who: {default: me}\nsteps:\n  - id: s\n"
            "    action: file.template\n    with:\n      src: tpl/x.j2\n"
            f"      dest: {rbk_home / 'out'}\n      mode: '0600'\n      vars: {{n: 3}}\n")
    outcome, _ = run(rbk_home, text)
    assert outcome.exit_code == 0
    assert (rbk_home / "out").read_text() == "n=3 me\n"
    assert (rbk_home / "out").stat().st_mode & 0o777 == 0o600


def test_http_check_body_and_latency_expectations(rbk_home, site):
    url = site.route("/slow", body=b"ready", delay=0.3)
    outcome, report = run(rbk_home, one_step(
        "http.check", f"url: {url}\nbody_contains: ready\nmax_latency_ms: 50"))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert "latency" in report.steps[0].error and "> 50ms" in report.steps[0].error
    outcome, report = run(rbk_home, one_step("http.check", f"url: {url}\nbody_regex: '^rea'"))
    assert outcome.exit_code == 0
    assert host(report).plan["outputs"]["status"] == 200


def test_http_check_retries_until_deadline(rbk_home, site):
    url = site.route("/flaky", status=503)
    outcome, report = run(rbk_home, one_step(
        "http.check", f"url: {url}\ndeadline: 0.6\ninterval: 0.1"))
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert site.server.hits["/flaky"] >= 3


def test_assert_stops_the_run_with_its_message(rbk_home):
    outcome, report = run(rbk_home, "name: t\ninputs:\n  n: {type: int, default: 3}\nsteps:\n"
                                    "  - id: s\n    action: assert\n    with:\n"
                                    "      that: [inputs.n > 1, inputs.n > 5]\n"
                                    "      message: n must be above 5\n")
    assert outcome.exit_code == ExitCode.STEP_FAILED
    assert report.steps[0].error == "n must be above 5"


def test_wait_is_planned_not_slept_in_dry_run(rbk_home):
    import time

    start = time.monotonic()
    outcome, report = run(rbk_home, one_step("wait", "duration: 1m"), dry_run=True)
    assert outcome.exit_code == 0 and time.monotonic() - start < 5
    assert host(report).plan["summary"] == "would wait 1m"
