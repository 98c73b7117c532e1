"""rbk serve with a real Prometheus Alertmanager delivering webhooks over loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import run_rbk

from rbk.plugins import get_registry
from rbk.serve.service import AlertService, ServeConfig

TOKEN = "s3cr3t-token"
RUNBOOK = """\
name: conn-guard
title: Guard a host against connection floods
inputs:
  instance: {help: host the alert is about}
  note: {default: ""}
  out_dir: {type: path}
triggers:
  - source: alertmanager
    match: {alertname: "=~HighConnCount|TooManyConnections", severity: "!=info"}
    inputs: {instance: labels.instance, note: annotations.summary}
    on_resolved: {runbook: conn-guard-lift, inputs: {instance: labels.instance}}
steps:
  - id: mark
    action: file.template
    with:
      dest: "{{ inputs.out_dir }}/guard.conf"
      content: "instance {{ inputs.instance }} note {{ inputs.note }}\\n"
"""


LIFT = """\
name: conn-guard-lift
inputs:
  instance: {}
steps:
  - id: unmark
    action: shell
    with: {cmd: ["echo", "lift {{ inputs.instance }}"]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def server(tmp_path, monkeypatch):
    import uvicorn

    from rbk.serve.app import create_app

    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "conn-guard.yaml").write_text(RUNBOOK.replace(
        "out_dir: {type: path}", f"out_dir: {{type: path, default: {tmp_path / 'out'}}}"))
    (runbooks / "conn-guard-lift.yaml").write_text(LIFT)
    (tmp_path / "out").mkdir()
    config = ServeConfig(tokens=[TOKEN], cooldown=3600,
                         sources={"grafana": {"secret": "graf-secret",
                                              "timestamp_header": "X-Grafana-Alerting-Timestamp"},
                                  "pagerduty": {"secrets": ["old-pd", "new-pd"]}})
    service = AlertService(config, tmp_path / "state", get_registry(),
                           runbook_paths=[runbooks / "conn-guard.yaml",
                                          runbooks / "conn-guard-lift.yaml"])
    service.start()
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.02)
    service.url = f"http://127.0.0.1:{port}"
    service.tmp = tmp_path
    yield service
    uv.should_exit = True
    thread.join(10)
    service.stop()


def wait_for(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


AM_CONFIG = """\
global:
  resolve_timeout: 1m
route:
  receiver: rbk
  group_by: ['alertname', 'instance']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: rbk
    webhook_configs:
      - url: '{url}/hooks/alertmanager'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '{token}'
"""


@pytest.fixture
def alertmanager(server, tmp_path):
    binary = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
    if not Path(binary).exists():
        pytest.fail("prometheus-alertmanager is not installed: run ./scripts/test "
                    "(it apt-get installs prometheus-alertmanager)")
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(AM_CONFIG.format(url=server.url, token=TOKEN))
    port = free_port()
    proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.path={tmp_path / 'am'}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return urllib.request.urlopen(url + "/-/ready", timeout=1).status == 200
        except OSError:
            return proc.poll() is not None and pytest.fail(proc.stderr.read().decode())

    wait_for(ready)
    yield url
    proc.terminate()
    proc.wait(10)


def post_alerts(am: str, alerts: list[dict]) -> None:
    status, _ = http("POST", am + "/api/v2/alerts", json.dumps(alerts).encode(),
                     {"Content-Type": "application/json"})
    assert status == 200


def test_alertmanager_alerts_start_one_dry_run_per_fingerprint(server, alertmanager):
    alerts = [{"labels": {"alertname": "HighConnCount", "instance": f"web-{i}:443",
                          "severity": "page"},
               "annotations": {"summary": "too many conns"}} for i in (1, 2)]
    alerts.append({"labels": {"alertname": "DiskFull", "instance": "db-1"}})  # no runbook
    post_alerts(alertmanager, alerts)
    rows = wait_for(lambda: [r for r in server.store.list() if r["state"] == "done"]
                    if len([r for r in server.store.list() if r["state"] == "done"]) >= 2
                    else None)
    assert len(rows) == 2 and {r["runbook"] for r in rows} == {"conn-guard"}
    assert all(r["mode"] == "plan" and r["exit_code"] == 0 for r in rows)
    assert not (server.tmp / "out" / "guard.conf").exists()  # dry runs change nothing

    # Alertmanager re-sends on changes and repeats: an identical alert starts nothing new.
    post_alerts(alertmanager, alerts[:1])
    time.sleep(4)  # > group_wait + group_interval
    assert len(server.store.list()) == 2

    # Resolving is recorded on the alert's row, and starts the trigger's on_resolved
    # runbook once (a dry run, as policy says), with inputs from the alert.
    post_alerts(alertmanager, [{**alerts[0], "endsAt": "2020-01-01T00:00:00Z"}])
    lift = wait_for(lambda: [r for r in server.store.list()
                             if r["runbook"] == "conn-guard-lift" and r["state"] == "done"])
    assert any(r["status"] == "resolved" and r["runbook"] == "conn-guard"
               for r in server.store.list())
    assert len(lift) == 1 and lift[0]["mode"] == "plan" and lift[0]["exit_code"] == 0
    from rbk.engine import load_events

    _, events = load_events(lift[0]["run_id"], server.tmp / "state")
    assert events[0]["run"]["inputs"] == {"instance": "web-1:443"}
    assert events[0]["run"]["trigger"].startswith("alert-resolved:alertmanager:")
    time.sleep(4)  # Alertmanager may send "resolved" again: nothing new starts
    assert len([r for r in server.store.list() if r["runbook"] == "conn-guard-lift"]) == 1


def test_on_resolved_must_name_a_loaded_runbook(tmp_path):
    (tmp_path / "a.yaml").write_text(RUNBOOK.replace("out_dir: {type: path}",
                                                     "out_dir: {type: path, default: /tmp}"))
    from rbk.errors import UsageError

    with pytest.raises(UsageError, match="on_resolved names runbook 'conn-guard-lift'"):
        AlertService(ServeConfig(tokens=[TOKEN]), tmp_path / "state", get_registry(),
                     runbook_paths=[tmp_path / "a.yaml"])


def am_payload(alertname: str = "HighConnCount", **labels) -> dict:
    alert = {"status": "firing", "labels": {"alertname": alertname, "instance": "web-9:443",
                                             "severity": "page", **labels},
             "annotations": {"summary": "s"}, "startsAt": "2026-12-03T15:35:53Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "c0123fe744e2eeea"}
    return {"receiver": "rbk", "status": "firing", "alerts": [alert], "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "version": "4",
            "groupKey": "{}:{}", "truncatedAlerts": 0}


def test_identical_delivery_is_a_repeat_not_a_new_run(server):
    body = json.dumps(am_payload()).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    first = http("POST", server.url + "/hooks/alertmanager", body, headers)
    second = http("POST", server.url + "/hooks/alertmanager", body, headers)
    assert first[0] == 202 and first[1]["routed"][0]["result"] == "queued"
    assert second[0] == 202 and second[1]["routed"][0]["result"] == "repeat"
    wait_for(lambda: server.store.list()[0]["state"] == "done")
    row = server.store.list()[0]
    assert row["repeats"] == 1 and len(server.store.list()) == 1


@pytest.mark.parametrize("headers, body, status", [
    ({}, json.dumps(am_payload()).encode(), 401),
    ({"Authorization": "Bearer wrong"}, json.dumps(am_payload()).encode(), 401),
    ({"Authorization": f"Bearer {TOKEN}"}, b"{not json", 400),
    ({"Authorization": f"Bearer {TOKEN}"}, b"[" * 50000 + b"]" * 50000, 400),
    ({"Authorization": f"Bearer {TOKEN}"}, b'{"a": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}",
     400),
    ({"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}, b"{}", 415),
    ({"Authorization": f"Bearer {TOKEN}"}, json.dumps({"version": "3"}).encode(), 400),
])
def test_hostile_requests_start_nothing(server, headers, body, status):
    code, answer = http("POST", server.url + "/hooks/alertmanager", body,
                        {"Content-Type": "application/json", **headers})
    assert code == status, answer
    assert TOKEN not in json.dumps(answer)
    assert server.store.list() == []
    assert http("GET", server.url + "/healthz")[0] == 200


def test_oversized_body_is_refused_before_it_is_read(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=10)
    conn.putrequest("POST", "/hooks/alertmanager")
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()  # announce 50 MB, send none of it
    response = conn.getresponse()
    assert response.status == 413
    assert server.store.list() == []


def test_label_values_are_data_never_templates_or_shell(server):
    marker = server.tmp / "pwned"
    hostile = f"{{{{ 7*7 }}}} $(touch {marker}) `touch {marker}`; rm -rf /"
    body = json.dumps(am_payload(instance=hostile)).encode()
    code, _ = http("POST", server.url + "/hooks/alertmanager", body,
                   {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert code == 202
    row = wait_for(lambda: server.store.list()[0]["state"] == "done" and server.store.list()[0])
    from rbk.engine import load_events

    _, events = load_events(row["run_id"], server.tmp / "state")
    plan = next(e for e in events if e["event"] == "step_planned")["plan"]
    assert f"+instance {hostile} note s" in plan["diff"]  # literally, not rendered
    assert not marker.exists()


def test_grafana_hmac_and_pagerduty_signatures(server):
    payload = json.dumps({"alerts": [{"status": "firing", "labels": {
        "alertname": "TooManyConnections", "instance": "web-3", "severity": "page"}}]}).encode()
    ts = str(int(time.time()))
    good = hmac.new(b"graf-secret", ts.encode() + b":" + payload, hashlib.sha256).hexdigest()
    h = {"Content-Type": "application/json", "X-Grafana-Alerting-Timestamp": ts}
    assert http("POST", server.url + "/hooks/grafana", payload,
                {**h, "X-Grafana-Alerting-Signature": good})[0] == 202
    assert http("POST", server.url + "/hooks/grafana", payload,
                {**h, "X-Grafana-Alerting-Signature": "0" * 64})[0] == 401
    stale = str(int(time.time()) - 3600)
    sig = hmac.new(b"graf-secret", stale.encode() + b":" + payload, hashlib.sha256).hexdigest()
    assert http("POST", server.url + "/hooks/grafana", payload,
                {**h, "X-Grafana-Alerting-Timestamp": stale,
                 "X-Grafana-Alerting-Signature": sig})[0] == 401  # replay window

    pd = json.dumps({"event": {"id": "e1", "event_type": "incident.triggered",
                               "resource_type": "incident", "occurred_at": "", "agent": None,
                               "client": None, "data": {"id": "P1", "title": "x"}}}).encode()
    sigs = ",".join("v1=" + hmac.new(k, pd, hashlib.sha256).hexdigest()
                    for k in (b"rotated-away", b"new-pd"))
    assert http("POST", server.url + "/hooks/pagerduty", pd,
                {"Content-Type": "application/json", "X-PagerDuty-Signature": sigs})[0] == 202
    assert http("POST", server.url + "/hooks/pagerduty", pd,
                {"Content-Type": "application/json",
                 "X-PagerDuty-Signature": "v1=" + "0" * 64})[0] == 403
    assert http("POST", server.url + "/hooks/pagerduty", pd,
                {"Content-Type": "application/json", "X-PagerDuty-Signature": "garbage"})[0] == 400
    basic = base64.b64encode(f"am:{TOKEN}".encode()).decode()
    assert http("POST", server.url + "/hooks/generic", json.dumps(
        {"alerts": [{"labels": {"alertname": "x"}}]}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Basic {basic}"})[0] == 202


def test_approve_applies_the_planned_run_if_the_plan_still_holds(server):
    from rbk.approve import approve_run

    body = json.dumps(am_payload()).encode()
    http("POST", server.url + "/hooks/alertmanager", body,
         {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    row = wait_for(lambda: server.store.list()[0]["state"] == "done" and server.store.list()[0])
    guard = server.tmp / "out" / "guard.conf"
    guard.write_text("someone changed it\n")  # state moved since the plan
    moved = approve_run(row["run_id"], get_registry(), server.tmp / "state")
    assert moved["applied"] is False and "state moved" in moved["message"]
    assert guard.read_text() == "someone changed it\n"
    guard.unlink()
    code, result = http("POST", f"{server.url}/runs/{row['run_id']}/approve",
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert code == 200 and result["applied"] and result["exit_code"] == 0
    assert guard.read_text() == "instance web-9:443 note s\n"
    assert http("POST", f"{server.url}/runs/{row['run_id']}/approve")[0] == 401


def test_serve_refuses_to_start_without_a_token(tmp_path):
    proc = run_rbk("serve", "--port", "1", cwd=tmp_path,
                   env={"RBK_SERVE_TOKEN": "", "RBK_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "needs a token" in proc.stderr
    proc = run_rbk("serve", "--allow-unauthenticated", "--host", "0.0.0.0", cwd=tmp_path,
                   env={"RBK_SERVE_TOKEN": "", "RBK_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "loopback only" in proc.stderr


def test_triggers_test_shows_runbooks_and_inputs(tmp_path):
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "conn-guard.yaml").write_text(RUNBOOK.replace(
        "out_dir: {type: path}", "out_dir: {type: path, default: /tmp}"))
    (tmp_path / "payload.json").write_text(json.dumps(am_payload()))
    proc = run_rbk("triggers", "test", "payload.json", cwd=tmp_path,
                   env={"RBK_STATE_DIR": str(tmp_path / "s")})
    assert proc.returncode == 0, proc.stderr
    assert ('firing HighConnCount [c0123fe744e2eeea] -> conn-guard '
            '{"instance": "web-9:443", "note": "s"}') in proc.stdout
    resolved = am_payload()
    resolved["alerts"][0]["status"] = "resolved"
    (tmp_path / "resolved.json").write_text(json.dumps(resolved))
    proc = run_rbk("triggers", "test", "resolved.json", cwd=tmp_path,
                   env={"RBK_STATE_DIR": str(tmp_path / "s")})
    assert ('resolved HighConnCount [c0123fe744e2eeea] -> conn-guard resolved, starts '
            'conn-guard-lift {"instance": "web-9:443"}') in proc.stdout


def test_structured_logs_never_show_secrets(server, capsys):
    server.config.log = True
    body = json.dumps(am_payload()).encode()
    server.handle("alertmanager", {"Authorization": "Bearer wrong",
                                   "Content-Type": "application/json"}, body)
    server.handle("alertmanager", {"Authorization": f"Bearer {TOKEN}",
                                   "Content-Type": "application/json"}, body)
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert [(x["event"], x["status"]) for x in lines][:2] == [("webhook", 401), ("webhook", 202)]
    assert lines[1]["queued"] == 1
    assert all(TOKEN not in json.dumps(x) for x in lines)
