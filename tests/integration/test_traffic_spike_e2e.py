"""traffic-spike applied for real: nginx on 127.0.0.1, app instances on sshd hosts 127.0.0.x.

The abusive client is 127.0.0.2 (so nginx sees it as a distinct source address).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, run_rbk
from rbk_nginx.testing import Nginx, start_nginx

from rbk.testing import port_open

ABUSER = "127.0.0.2"


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


listening = port_open


def write_log(path: Path) -> None:
    """20 minutes: steady traffic from many clients, then ABUSER floods /api/search."""
    t0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    lines = []
    for s in range(20 * 60):
        t = (t0 + timedelta(seconds=s)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        for k in range(3):
            path_ = ["/", "/static/app.js", "/static/app.css"][k]
            lines.append(f'198.51.100.{(s + k) % 50 + 1} - - [{t}] "GET {path_} HTTP/1.1" 200 '
                         f'512 "-" "Mozilla/5.0" 0.012')
        if s >= 15 * 60:
            lines += [f'{ABUSER} - - [{t}] "GET /api/search?q={s} HTTP/1.1" 200 64 "-" '
                      f'"bot/1" 0.200'] * 12
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path, rbk_ssh_fleet):
    fleet = rbk_ssh_fleet
    nginx = start_nginx(tmp_path)
    ports = [free_port("127.0.0.10"), free_port("127.0.0.10")]
    apps = tmp_path / "apps"
    apps.mkdir()
    pid = f"{apps}/{{address}}-{{port}}.pid"
    start = (f"mkdir -p {apps}/{{address}}-{{port}}/static && cd {apps}/{{address}}-{{port}} && "
             f"echo {{address}}:{{port}} > whoami.txt && echo 'js' > static/app.js && "
             f"(nohup {sys.executable} -m http.server {{port}} --bind {{address}} "
             f">/dev/null 2>&1 & echo $! > {pid})")
    app = {"status": f"kill -0 $(cat {pid} 2>/dev/null) 2>/dev/null", "start": start,
           "stop": f"kill $(cat {pid}) && rm -f {pid}"}
    # One app instance runs on web-1, and it is the whole upstream pool.
    first = fleet.hosts[0]
    subprocess.run(["sh", "-c", start.replace("{address}", first.address)
                    .replace("{port}", str(ports[0]))], check=True)
    deadline = time.monotonic() + 10
    while not listening(first.address, ports[0]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    (nginx.managed / "upstream/app_pool.conf").write_text(f"server {first.address}:{ports[0]};\n")
    nginx.reload()
    log = tmp_path / "access.log"
    write_log(log)
    inventory = fleet.inventory("  app: [web-1, web-2]\n")
    yield nginx, fleet, ports, app, log, inventory
    for h in fleet.hosts[:2]:
        for p in ports:
            subprocess.run(["sh", "-c", app["stop"].replace("{address}", h.address)
                            .replace("{port}", str(p))], capture_output=True)
    nginx.stop()


def traffic_spike(nginx: Nginx, ports, app, log, inventory, tmp_path, *extra):
    args = ["run", "traffic-spike", "--yes", "-i", str(inventory),
            "-e", f"access_log={log}", "-e", "protected=[]", "-e", "saturation=0",
            "-e", "app_instances=4", "-e", f"app_ports={ports[0]},{ports[1]}",
            "-e", f"app_status={app['status']}", "-e", f"app_start={app['start']}",
            "-e", f"app_stop={app['stop']}", "-e", "app_health=http://{address}:{port}/whoami.txt",
            "-e", "nginx_conf=conf/nginx.conf", "-e", f"nginx_prefix={nginx.prefix}/",
            "-e", f"nginx_managed_dir={nginx.managed}", "-e", f"cache_dir={nginx.prefix}/cache",
            "-e", f"site_url=http://127.0.0.1:{nginx.port}/", "-e", "rate=50r/s",
            "-e", "burst=100", *extra]
    return run_rbk(*args, cwd=tmp_path, env={"RBK_STATE_DIR": str(tmp_path / "state"),
                                               "RBK_PATH": str(ROOT / "runbooks")}, timeout=180)


def test_traffic_spike_then_lift_limits(site, tmp_path):
    nginx, fleet, ports, app, log, inventory = site
    before = nginx.managed_hashes()
    assert nginx.get("/", source=ABUSER)[0] == 200

    proc = traffic_spike(nginx, ports, app, log, inventory, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert nginx.get("/whoami.txt", source=ABUSER)[0] == 403
    assert nginx.get("/whoami.txt", source="127.0.0.1")[0] == 200
    first = nginx.get("/static/app.js")
    second = nginx.get("/static/app.js")
    assert second[1].get("X-Cache-Status") == "HIT", (first[1], second[1])
    web1, web2 = fleet.hosts[0], fleet.hosts[1]
    assert all(listening(h.address, p) for h in (web1, web2) for p in ports)
    served = {nginx.get(f"/whoami.txt?{i}")[2].decode().strip() for i in range(16)}
    assert served == {f"{h.address}:{p}" for h in (web1, web2) for p in ports}

    proc = run_rbk("run", "lift-limits", "--yes", "-i", str(inventory),
                   "-e", "nginx_conf=conf/nginx.conf", "-e", f"nginx_prefix={nginx.prefix}/",
                   "-e", f"nginx_managed_dir={nginx.managed}", cwd=tmp_path,
                   env={"RBK_STATE_DIR": str(tmp_path / "state"),
                        "RBK_PATH": str(ROOT / "runbooks")})
    assert proc.returncode == 0, proc.stderr
    assert nginx.get("/whoami.txt", source=ABUSER)[0] == 200
    assert "X-Cache-Status" not in nginx.get("/static/app.js")[1]
    left = {k for k in nginx.managed_hashes() if not k.startswith("upstream/")}
    assert left == {k for k in before if not k.startswith("upstream/")}


def test_scaling_failure_rolls_back_everything_the_run_changed(site, tmp_path):
    nginx, fleet, ports, app, log, inventory = site
    before = nginx.managed_hashes()
    web2 = fleet.hosts[1]
    # Something else holds web-2's second port: that instance can never become healthy.
    blocker = socket.socket()
    blocker.bind((web2.address, ports[1]))
    try:
        proc = traffic_spike(nginx, ports, app, log, inventory, tmp_path,
                             "-e", "app_health=http://{address}:{port}/whoami.txt")
    finally:
        blocker.close()
    assert proc.returncode == 1, proc.stderr
    assert "changes rolled back" in proc.stderr
    assert nginx.managed_hashes() == before
    assert nginx.get("/whoami.txt", source=ABUSER)[0] == 200
    web1 = fleet.hosts[0]
    assert listening(web1.address, ports[0])
    assert not any(listening(h.address, p) for h, p in
                   ((web1, ports[1]), (web2, ports[0])))
