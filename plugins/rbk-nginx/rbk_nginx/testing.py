"""A real nginx on 127.0.0.1 with a temporary prefix, in front of counting Python backends.

For rbk-nginx's tests and anyone testing runbooks that use it:
``start_nginx(dir)`` returns an :class:`Nginx` (``.get()``, ``.settings``,
``.reload()``, ``.stop()``); the ``nginx`` fixture wraps it.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str):
        self.name, self.hits = name, 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.hits += 1
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        body = f"{self.server.name} {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.server.name)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a) -> None:
        pass


CONF = """\
worker_processes 1;
{user}
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log logs/access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path       tmp/proxy;
    fastcgi_temp_path     tmp/fastcgi;
    uwsgi_temp_path       tmp/uwsgi;
    scgi_temp_path        tmp/scgi;
    include rbk/http/*.conf;
    upstream app_pool {{
        include rbk/upstream/app_pool.conf;
    }}
    server {{
        listen 127.0.0.1:{port};
        include rbk/server/*.conf;
        location / {{
            proxy_pass http://app_pool;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    prefix: Path
    port: int
    binary: str
    backends: list[Backend] = field(default_factory=list)

    @property
    def managed(self) -> Path:
        return self.prefix / "conf" / "rbk"

    @property
    def settings(self) -> dict:
        return {"binary": self.binary, "prefix": str(self.prefix) + "/",
                "conf": "conf/nginx.conf", "managed_dir": str(self.managed),
                "error_log": str(self.prefix / "logs" / "error.log"), "reload_timeout": 5}

    def get(self, path: str = "/", source: str = "127.0.0.1", timeout: float = 10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0))
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, dict(resp.getheaders()), body
        finally:
            conn.close()

    def worker_pids(self) -> set[int]:
        master = int((self.prefix / "logs" / "nginx.pid").read_text())
        out = set()
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                if f"PPid:\t{master}\n" in status.read_text():
                    out.add(int(status.parent.name))
            except OSError:
                continue
        return out

    def reload(self) -> None:
        subprocess.run([self.binary, *_flags(self.prefix), "-s", "reload"], check=True,
                       capture_output=True)
        time.sleep(0.5)

    def stop(self) -> None:
        subprocess.run([self.binary, *_flags(self.prefix), "-s", "stop"], capture_output=True)
        for b in self.backends:
            b.shutdown()
            b.server_close()

    def managed_hashes(self) -> dict[str, str]:
        return {str(p.relative_to(self.managed)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.managed.rglob("*.conf"))}


def nginx_binary() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("nginx is not installed (Debian: apt-get install nginx; rbk's "
                       "./scripts/test does it)")


def start_nginx(tmp_path: Path) -> Nginx:
    binary = nginx_binary()
    prefix = tmp_path / "nginx"
    for d in ("conf/rbk/http", "conf/rbk/server", "conf/rbk/location", "conf/rbk/upstream",
              "logs", "tmp", "cache"):
        (prefix / d).mkdir(parents=True)
    port = free_port()
    first, second = Backend("app1"), Backend("app2")
    (prefix / "conf/rbk/upstream/app_pool.conf").write_text(f"server {first.address};\n")
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "conf/nginx.conf").write_text(CONF.format(port=port, user=user))
    started = subprocess.run([binary, *_flags(prefix)], capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(f"nginx did not start: {started.stderr}")
    server = Nginx(prefix, port, binary, [first, second])
    deadline = time.monotonic() + 10
    while True:
        try:
            if server.get("/")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError((prefix / "logs/error.log").read_text())
        time.sleep(0.05)
    return server


def _flags(prefix: Path) -> list[str]:
    return ["-p", str(prefix) + "/", "-c", "conf/nginx.conf"]


@pytest.fixture
def nginx(tmp_path):
    try:
        server = start_nginx(tmp_path)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()
