"""The CLI as a user meets it: one clear line on error, documented exit codes, history."""

from __future__ import annotations

import json
import shutil

from conftest import TESTS, run_rbk


def test_unknown_runbook_is_one_line_with_suggestion(cli):
    result = cli("run", "trafic-spike", "--dry-run")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "no runbook named 'trafic-spike' — did you mean 'traffic-spike'?" in result.err


def test_bad_yaml_run_gives_location_not_traceback(rbk_home):
    (rbk_home / "bad.yaml").write_text("name: x\nsteps: [\n")
    proc = run_rbk("run", "bad.yaml", "--dry-run", cwd=rbk_home)
    assert proc.returncode == 2
    assert proc.stderr.startswith("bad.yaml:3:1: invalid YAML")
    assert "Traceback" not in proc.stderr


def test_wrong_input_type_exit_2_one_line(cli, rbk_home):
    shutil.copytree(TESTS / "runbooks", rbk_home / "rb")
    result = cli("run", "rb/deploy-config.yaml", "-n", "-e", "dest=x", "-e", "url=u",
                 "-e", "max_conn=lots")
    assert result.code == 2
    assert "input 'max_conn': expected int, got 'lots'" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_run_history_and_report_formats(cli, rbk_home, site):
    shutil.copytree(TESTS / "runbooks", rbk_home / "rb")
    dest = rbk_home / "limits.conf"
    result = cli("run", "rb/deploy-config.yaml", "-e", f"dest={dest}",
                 "-e", f"url={site.route('/ok')}", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["schema"] == "rbk.report/v1" and data["status"] == "succeeded"
    run_id = data["run_id"]
    runs = cli("runs")
    assert run_id in runs.out and "succeeded" in runs.out
    md = cli("report", run_id[:15], "--format", "markdown")
    assert md.code == 0 and md.out.startswith("# APPLIED")
    html = cli("report", run_id, "--format", "html", "-o", "r.html")
    page = (rbk_home / "r.html").read_text()
    assert html.code == 0 and page.startswith("<!doctype html>")
    assert '<span class="add">+limit_conn perip 10;</span>' in page
    assert "<script" not in page and "http://" not in page.split("<body>")[0]
    missing = cli("report", "nope")
    assert missing.code == 2 and "no run 'nope'" in missing.err


def test_dry_run_report_says_plan_at_the_top(cli, rbk_home, site):
    shutil.copytree(TESTS / "runbooks", rbk_home / "rb")
    result = cli("run", "rb/deploy-config.yaml", "--dry-run", "-e", f"dest={rbk_home / 'c'}",
                 "-e", f"url={site.route('/ok')}", "--format", "markdown")
    assert result.out.startswith("# PLAN — NOTHING CHANGED")
    assert "```diff" in result.out and "fidelity **exact**" in result.out
    assert "can be rolled back" in result.out


def test_do_runs_one_action_ad_hoc(cli, rbk_home):
    result = cli("do", "shell", 'cmd=["touch", "made"]', "--dry-run")
    assert result.code == 0 and not (rbk_home / "made").exists()
    assert "would run: touch made" in result.out
    result = cli("do", "shell", 'cmd=["touch", "made"]')
    assert result.code == 0 and (rbk_home / "made").exists()
    bad = cli("do", "shel", "cmd=x")
    assert bad.code == 4 and "did you mean 'shell'?" in bad.err
    wrong = cli("do", "shell", "cmd=x", "creats=y")
    assert wrong.code == 2 and "did you mean 'creates'?" in wrong.err


def test_version_list_show_actions(cli):
    assert cli("--version").out.startswith("rbk, version ")
    listing = cli("list").out
    assert "traffic-spike" in listing
    shown = cli("show", "traffic-spike", "--format", "markdown").out
    assert shown.startswith("# Traffic spike") and "| `access_log` |" in shown
    actions = json.loads(cli("actions", "--json").out)["actions"]
    by_name = {a["name"]: a for a in actions}
    assert {"shell", "file.template", "http.check", "approve", "notify", "assert",
            "wait"} <= set(by_name)
    assert by_name["file.template"]["rollback"] == "full"
    assert by_name["http.check"]["dry_run"] == "full"
    one = cli("actions", "file.template").out
    assert "dest" in one and "rollback: full" in one


def test_completion_script(cli):
    result = cli("completion", "bash")
    assert result.code == 0 and "_RBK_COMPLETE" in result.out


def test_runbook_search_path_env_and_config(cli, rbk_home, monkeypatch):
    other = rbk_home / "elsewhere"
    other.mkdir()
    (other / "hello.yaml").write_text("name: hello\ntitle: Hi\nsteps:\n"
                                      "  - id: w\n    action: wait\n    with: {duration: 0}\n")
    assert "hello" not in cli("list").out
    monkeypatch.setenv("RBK_PATH", str(other))
    assert "hello" in cli("list").out
    monkeypatch.delenv("RBK_PATH")
    (rbk_home / "rbk.yaml").write_text("runbook_paths: [elsewhere]\n")
    assert cli("run", "hello", "-n").code == 0


def test_charts_and_tables_in_every_format(cli, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "fake_actions")
    text = cli("do", "test.findings").out
    assert "req: ▁▅█  (max 9/s, 10:00 → 10:02)" in text
    assert "10.0.0.1  9" in text
    md = cli("do", "test.findings", "--format", "markdown").out
    assert "`req: ▁▅█  (max 9/s, 10:00 → 10:02)`" in md
    assert "| client | n |" in md and "| a\\|b | 1 |" in md
    html = cli("do", "test.findings", "--format", "html").out
    assert "<svg" in html and "<polyline" in html
    assert "Top &lt;clients&gt;" in html and "<td>10.0.0.1</td>" in html
