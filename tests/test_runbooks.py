"""The runbook library: the README's dry run on the example incident, as a golden report.

Regenerate the snapshots after an intended change: RBK_UPDATE_GOLDEN=1 ./scripts/test -k golden
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_rbk

GOLDEN = Path(__file__).parent / "golden"
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
EXPIRES = re.compile(r"rbk-expires=[0-9T:+-]+")


def normalise(report: dict, root: Path) -> dict:
    text = json.dumps(report, sort_keys=True)
    text = text.replace(str(root), "<root>").replace(str(ROOT), "<repo>")
    text = RUN_ID.sub("<run>", text)
    text = EXPIRES.sub("rbk-expires=<time>", text)
    data = json.loads(text)
    for key in ("started", "finished", "trigger"):
        data[key] = "<volatile>"
    for step in data["steps"]:
        for host in step["hosts"].values():
            plan = host.get("plan") or {}
            if step["action"] == "hosts.facts":  # this machine's numbers
                plan["outputs"] = "<facts>"
                plan["summary"] = "<facts>"
            evidence = (plan.get("outputs") or {}).get("data") if isinstance(
                plan.get("outputs"), dict) else None
            for key in ("max_load_per_core", "max_memory_used"):
                if isinstance(evidence, dict) and key in evidence:
                    evidence[key] = "<facts>"
    return data


@pytest.fixture
def incident(tmp_path):
    """A copy of examples/ with the incident's logs generated, as the README's command sees it."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("access.log", "mysql-slow.log", "run"))
    subprocess.run([sys.executable, "examples/incident/generate.py"], cwd=tmp_path, check=True,
                   capture_output=True)
    return tmp_path


def dry_run(root: Path, runbook: str, *extra: str) -> dict:
    proc = run_rbk("run", runbook, "--dry-run", "-i", "examples/incident/inventory.yaml",
                   "-e", "@examples/incident/inputs.yaml", *extra, "--format", "json", cwd=root,
                   env={"RBK_STATE_DIR": str(root / "state"), "RBK_PATH": str(ROOT / "runbooks")})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def check_golden(name: str, data: dict) -> None:
    assert data.get("steps"), "an empty report cannot be a snapshot"
    path = GOLDEN / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if os.environ.get("RBK_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run with RBK_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} dry run changed; if intended: RBK_UPDATE_GOLDEN=1"


def test_golden_traffic_spike_dry_run_on_the_example(incident):
    report = dry_run(incident, "traffic-spike")
    steps = {s["id"]: s for s in report["steps"]}
    inspect = steps["inspect"]["hosts"]["localhost"]["plan"]["outputs"]
    assert inspect["spike"]["detected"] and inspect["spike"]["start"] == "2026-12-03T14:22:00Z"
    assert inspect["top_clients"][0]["client"] == "203.0.113.7"
    assert "+    203.0.113.7 1;" in steps["block"]["hosts"]["localhost"]["plan"]["diff"]
    assert steps["block"]["approve"] is True
    assert "+location ^~ /static/ {" in steps["cache"]["hosts"]["localhost"]["plan"]["diff"]
    assert report["changes"] == ["block", "rate_limit", "conn_limit", "cache", "scale"]
    managed = incident / "examples/incident/nginx/conf.d/rbk"
    assert sorted(p.name for p in managed.rglob("*.conf")) == ["app_pool.conf"]  # nothing written
    check_golden("traffic-spike", normalise(report, incident))


NGINX = ["-e", "nginx_conf=examples/incident/nginx/nginx.conf",
         "-e", "nginx_managed_dir=examples/incident/nginx/conf.d/rbk"]
APP = ["-e", "app_status=test -e examples/incident/run/app-{port}.pid",
       "-e", "app_start=echo start {port}", "-e", "app_stop=echo stop {port}", "-e", "count=2"]
OTHERS = {
    "connection-flood": NGINX,
    "block-abuser": NGINX + ["-e", "clients=203.0.113.7,198.51.100.0/24"],
    "enable-cache": NGINX + ["-e", "paths=/static/,/img/"],
    "scale-out": NGINX + APP,
    "scale-in": NGINX + APP,
    "lift-limits": NGINX,
    "slow-growth": ["-e", "access_log=examples/incident/access.log", "-e", "bucket=1m",
                    "-e", "period=30m", "-e", "kpi_file=examples/incident/kpi.csv",
                    "-e", "slow_log=examples/incident/mysql-slow.log", "-e", "saturation=100"],
}


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_golden_dry_runs_of_the_library(incident, name):
    proc = run_rbk("run", name, "--dry-run", "-i", "examples/incident/inventory.yaml",
                   *OTHERS[name], "--format", "json", cwd=incident,
                   env={"RBK_STATE_DIR": str(incident / "state"),
                        "RBK_PATH": str(ROOT / "runbooks")})
    assert proc.returncode == 0, proc.stderr
    check_golden(name, normalise(json.loads(proc.stdout), incident))


def test_every_runbook_in_the_library_is_covered():
    names = {p.stem for p in (ROOT / "runbooks").glob("*.yaml")}
    assert names == set(OTHERS) | {"traffic-spike"}


def test_traffic_spike_plans_edge_rules_when_a_cdn_zone_is_given(incident):
    from rbk_cdn.testing import FakeCloudflare

    cf = FakeCloudflare("tok-edge-1234")
    try:
        proc = run_rbk("run", "traffic-spike", "--dry-run", "-i", "examples/incident/inventory.yaml",
                       "-e", "@examples/incident/inputs.yaml", "-e", "cdn_zone=zone9",
                       "-e", f"cdn_api_base={cf.base}", "--format", "json", cwd=incident,
                       env={"RBK_STATE_DIR": str(incident / "state"),
                            "RBK_PATH": str(ROOT / "runbooks"),
                            "CLOUDFLARE_API_TOKEN": "tok-edge-1234"})
    finally:
        cf.shutdown()
        cf.server_close()
    assert proc.returncode == 0, proc.stderr
    steps = {s["id"]: s for s in json.loads(proc.stdout)["steps"]}
    cache = steps["edge_cache"]["hosts"]["localhost"]["plan"]
    assert cache["summary"].startswith("would add rule rbk-cache-traffic-spike")
    assert 'starts_with(http.request.uri.path, \\"/static/' in cache["diff"]
    rate = steps["edge_rate_limit"]["hosts"]["localhost"]["plan"]
    assert rate["api_calls"][0]["url"] == "/zones/zone9/rulesets/phases/http_ratelimit/entrypoint"
    assert cf.writes() == []
    assert "tok-edge-1234" not in proc.stdout


def test_every_runbook_input_has_help_and_every_runbook_a_title():
    import yaml

    for path in sorted((ROOT / "runbooks").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        assert data.get("title") and data.get("description"), path.name
        missing = [k for k, v in (data.get("inputs") or {}).items() if not (v or {}).get("help")]
        assert not missing, f"{path.name}: inputs without help: {missing}"
