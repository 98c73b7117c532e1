"""rbk-hosts over real sshd hosts (rbk's rbk_ssh_fleet fixture)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from rbk.testing import port_open


def rbk(fleet, runbook: dict, *args: str) -> tuple[int, dict, str]:
    path = fleet.root / "rb.json.yaml"
    path.write_text(json.dumps(runbook))
    proc = subprocess.run([sys.executable, "-m", "rbk", "run", str(path), "-i",
                           str(fleet.inventory()), "--format", "json", *args],
                          capture_output=True, text=True, cwd=fleet.root,
                          env={**os.environ, "RBK_STATE_DIR": str(fleet.root / "state")})
    report = json.loads(proc.stdout) if proc.stdout.startswith("{") else {}
    return proc.returncode, report, proc.stderr


def hosts(report: dict, step: str) -> dict:
    return next(s for s in report["steps"] if s["id"] == step)["hosts"]


def test_facts_are_numbers_from_each_host(rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    code, report, err = rbk(fleet, {"name": "f", "steps": [
        {"id": "facts", "action": "hosts.facts", "on": "web"}]}, "--dry-run")
    assert code == 0, err
    meminfo = Path("/proc/meminfo").read_text()
    total = int(next(x for x in meminfo.splitlines() if x.startswith("MemTotal")).split()[1])
    for h in fleet.hosts:
        out = hosts(report, "facts")[h.name]["plan"]["outputs"]
        assert out["cores"] == os.cpu_count()
        assert out["memory"]["total_bytes"] == total * 1024
        assert h.port in out["listening_ports"]
        assert out["load"]["1m"] >= 0 and out["uptime_s"] > 0
        assert 0 < out["disk_root"]["used_percent"] <= 100


def test_upload_is_idempotent_and_rolled_back(rbk_ssh_fleet, tmp_path):
    fleet = rbk_ssh_fleet
    src = tmp_path / "app.conf"
    src.write_text("workers 4\n")
    dest = tmp_path / "deployed.conf"
    dest.write_text("workers 1\n")
    step = {"id": "up", "action": "hosts.upload", "on": "web-1",
            "with": {"src": str(src), "dest": str(dest), "mode": "0600"}}
    code, report, err = rbk(fleet, {"name": "u", "steps": [step]})
    assert code == 0, err
    assert dest.read_text() == "workers 4\n" and dest.stat().st_mode & 0o777 == 0o600
    code, report, _ = rbk(fleet, {"name": "u", "steps": [step]}, "--dry-run")
    assert report["changes"] == []
    src.write_text("workers 8\n")
    boom = {"id": "boom", "action": "assert", "with": {"that": "false"}}
    code, report, _ = rbk(fleet, {"name": "u", "steps": [step, boom]})
    assert code == 1 and dest.read_text() == "workers 4\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_service_start_is_idempotent_and_rolled_back(rbk_ssh_fleet, tmp_path):
    fleet = rbk_ssh_fleet
    port = _free_port()
    pidfile = tmp_path / "app.pid"
    service = {"id": "svc", "action": "hosts.service", "on": "web-2", "with": {
        "name": "demo-app", "state": "started", "manager": "command",
        "status": f"kill -0 $(cat {pidfile}) 2>/dev/null",
        "start": f"cd {tmp_path} && (nohup {sys.executable} -m http.server {port} "
                 f"--bind 127.0.0.1 >/dev/null 2>&1 & echo $! > {pidfile})",
        "stop": f"kill $(cat {pidfile}) && rm -f {pidfile}"}}
    boom = {"id": "boom", "action": "assert", "with": {"that": "false"}}
    code, report, err = rbk(fleet, {"name": "s", "steps": [service, boom]})
    assert code == 1, err  # started, then rolled back: stopped again
    time.sleep(0.3)
    assert not pidfile.exists()
    code, report, err = rbk(fleet, {"name": "s", "steps": [service]})
    assert code == 0, err
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    code, report, _ = rbk(fleet, {"name": "s", "steps": [service]}, "--dry-run")
    assert report["changes"] == []
    stop = json.loads(json.dumps(service))
    stop["with"]["state"] = "stopped"
    code, report, err = rbk(fleet, {"name": "s", "steps": [stop]})
    assert code == 0, err
    assert not pidfile.exists()


_listening = port_open


def test_scale_from_one_to_four_health_checked_then_rolled_back(rbk_ssh_fleet, tmp_path):
    fleet = rbk_ssh_fleet
    ports = [_free_port(), _free_port()]
    pid = f"{tmp_path}/{{address}}-{{port}}.pid"
    start = (f"cd {tmp_path} && (nohup {sys.executable} -m http.server {{port}} --bind "
             f"{{address}} >/dev/null 2>&1 & echo $! > {pid})")
    scale = {"id": "scale", "action": "hosts.scale", "with": {
        "hosts": "web-1,web-2", "count": 4, "ports": ports,
        "status": f"kill -0 $(cat {pid} 2>/dev/null) 2>/dev/null",
        "start": start, "stop": f"kill $(cat {pid}) && rm -f {pid}",
        "health": "http://{address}:{port}/", "health_timeout": 15}}
    web1, web2 = fleet.hosts[0], fleet.hosts[1]
    stop = f"kill $(cat {pid}) && rm -f {pid}"
    try:
        _scale_scenario(fleet, scale, start, stop, ports, web1, web2)
    finally:  # leave no instance behind, whatever failed
        for h in (web1, web2):
            for p in ports:
                subprocess.run(["sh", "-c", stop.replace("{port}", str(p))
                                .replace("{address}", h.address)], capture_output=True)


def _scale_scenario(fleet, scale, start, stop, ports, web1, web2):
    # one instance already runs on web-1
    subprocess.run(["sh", "-c", start.replace("{port}", str(ports[0]))
                    .replace("{address}", web1.address)], check=True)
    deadline = time.monotonic() + 10
    while not _listening(web1.address, ports[0]):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    code, report, err = rbk(fleet, {"name": "s", "steps": [scale]}, "--dry-run")
    assert code == 0, err
    plan = hosts(report, "scale")["localhost"]["plan"]
    assert plan["summary"] == (f"1 -> 4 instances: start web-2:{ports[0]}, web-1:{ports[1]}, "
                               f"web-2:{ports[1]}")

    boom = {"id": "boom", "action": "assert", "with": {"that": "false"}}
    code, report, err = rbk(fleet, {"name": "s", "steps": [scale, boom]})
    assert code == 1, err
    assert _listening(web1.address, ports[0])
    assert not any(_listening(h.address, p) for h, p in
                   ((web2, ports[0]), (web1, ports[1]), (web2, ports[1])))

    code, report, err = rbk(fleet, {"name": "s", "steps": [scale]})
    assert code == 0, err
    assert all(_listening(h.address, p) for h in (web1, web2) for p in ports)
    back = json.loads(json.dumps(scale))
    back["with"]["count"] = 1
    code, report, err = rbk(fleet, {"name": "s", "steps": [back]})
    assert code == 0, err
    assert [(h.address, p) for h in (web1, web2) for p in ports
            if _listening(h.address, p)] == [(web1.address, ports[0])]
