"""Deterministic access logs with known content for the tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)
PATHS = ["/", "/api/items?id=7", "/api/items?id=8", "/static/a.js", "/login", "/search?q=x y"]


def stamp(t: datetime) -> str:
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")


def combined(ip: str, t: datetime, path: str, status: int, rt: float | None = None,
             ua: str = "curl/8.0", ref: str = "-", method: str = "GET", size: int = 512) -> str:
    line = (f'{ip} - - [{stamp(t)}] "{method} {path} HTTP/1.1" {status} {size} '
            f'"{ref}" "{ua}"')
    return line + (f" {rt:.3f}" if rt is not None else "")


def spike_log(seed: int = 7, minutes: int = 20, spike_from: int = 15,
              abuser: str = "203.0.113.9") -> list[str]:
    """Baseline traffic from many clients (IPv4 and IPv6); from ``spike_from`` minutes an
    abusive client adds heavy load on /api/items."""
    rng = random.Random(seed)
    clients = [f"198.51.100.{i}" for i in range(1, 60)] + [f"2001:db8::{i:x}" for i in range(1, 30)]
    out = []
    for s in range(minutes * 60):
        t = T0 + timedelta(seconds=s)
        for _ in range(rng.randint(1, 4)):
            path = rng.choice(PATHS)
            status = rng.choice([200, 200, 200, 304]) if path.startswith("/static") else \
                rng.choice([200, 200, 404, 500, 503])
            out.append(combined(rng.choice(clients), t, path, status,
                                rng.choice([0.001, 0.012, 0.25, 1.5, 0.004]),
                                ua=rng.choice(["curl/8.0", "Mozilla/5.0 (X11)", "bot/1"]),
                                ref=rng.choice(["-", "https://example.com/"])))
        if s >= spike_from * 60:
            for _ in range(rng.randint(10, 14)):
                out.append(combined(abuser, t, "/api/items?id=" + str(rng.randint(1, 99)),
                                    rng.choice([200, 500]), rng.choice([0.9, 1.1, 2.0]),
                                    ua="python-requests/2.31"))
    return out
