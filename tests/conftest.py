"""Shared fixtures: an isolated state dir, an in-process CLI, a real local HTTP server."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rbk import plugins

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture
def rbk_home(tmp_path, monkeypatch):
    """A working directory and RBK_STATE_DIR of its own; plugins rebuilt per test."""
    monkeypatch.setenv("RBK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("RBK_PLUGINS", raising=False)
    monkeypatch.delenv("RBK_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(TESTS / "plugins"))
    plugins.reset()
    plugins._disabled.clear()
    yield tmp_path
    plugins.reset()
    plugins._disabled.clear()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(rbk_home, capsys):
    """Run the rbk CLI in-process: ``cli("run", "x.yaml", "--dry-run")``."""
    from rbk.cli import main

    def run(*args: str) -> CliResult:
        plugins.reset()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_rbk(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """Run rbk as a separate process, as a user would."""
    return subprocess.run([sys.executable, "-m", "rbk", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, float]] = {}
    hits: dict[str, int] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        status, body, delay = self.server.routes.get(self.path, (404, b"not found", 0))
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.posts.append((self.path, self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@dataclass
class LocalSite:
    url: str
    server: http.server.ThreadingHTTPServer

    def route(self, path: str, status: int = 200, body: bytes = b"ok", delay: float = 0) -> str:
        self.server.routes[path] = (status, body, delay)
        return self.url + path

    @property
    def posts(self) -> list[tuple[str, bytes]]:
        return self.server.posts


@pytest.fixture
def site():
    """A real HTTP server on 127.0.0.1 with routes a test configures."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.routes, server.hits, server.posts = {}, {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LocalSite(f"http://127.0.0.1:{server.server_address[1]}", server)
    server.shutdown()
    server.server_close()
