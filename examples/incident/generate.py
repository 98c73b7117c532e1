#!/usr/bin/env python3
"""Generate the example incident's access log (deterministic: same bytes every time).

30 minutes of traffic to shop.example.com in nginx "combined" format plus
$request_time: a steady baseline, then from minute 22 a spike driven by one
abusive client (203.0.113.7) hammering /api/search, plus a surge of
legitimate traffic to /static/ assets.

    python3 examples/incident/generate.py [OUT]   # default: examples/incident/access.log
"""

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

START = datetime(2026, 12, 3, 14, 0, 0, tzinfo=timezone(timedelta(0)))
PATHS = ["/", "/products", "/products/42", "/cart", "/api/search?q=shoes", "/static/app.js",
         "/static/app.css", "/static/logo.png", "/login"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148"]


def line(rng, t, ip, path, agent, status=None):
    if status is None:
        weights = [70, 28, 1, 1] if path.startswith("/static/") else [60, 10, 15, 15]
        status = rng.choices([200, 304, 404, 500], weights=weights, k=1)[0]
    size = 0 if status == 304 else rng.randint(300, 40000)
    rt = rng.uniform(0.002, 0.08) if status != 500 else rng.uniform(0.5, 2.0)
    stamp = t.strftime("%d/%b/%Y:%H:%M:%S %z")
    return (f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} '
            f'"https://shop.example.com/" "{agent}" {rt:.3f}\n')


def generate(out: Path) -> None:
    rng = random.Random(20261203)
    clients = [f"198.51.100.{i}" for i in range(1, 120)] + [f"2001:db8::{i:x}" for i in range(1, 40)]
    lines = []
    for second in range(30 * 60):
        t = START + timedelta(seconds=second)
        spike = second >= 22 * 60
        for _ in range(rng.randint(2, 6) + (8 if spike else 0)):
            lines.append(line(rng, t, rng.choice(clients),
                              rng.choice(PATHS[5:8]) if spike and rng.random() < 0.5
                              else rng.choice(PATHS), rng.choice(AGENTS)))
        if spike:
            for _ in range(rng.randint(6, 10)):
                lines.append(line(rng, t, "203.0.113.7", "/api/search?q=" + str(rng.randint(1, 9999)),
                                  "python-requests/2.31", rng.choice([200, 200, 500])))
    out.write_text("".join(lines), encoding="utf-8")


def generate_slow_log(out: Path) -> None:
    """MySQL slow log for the same half hour: the search query gets hammered in the spike."""
    rng = random.Random(7)
    entries = []
    for second in range(0, 30 * 60, 7):
        t = START + timedelta(seconds=second)
        spike = second >= 22 * 60
        for _ in range(4 if spike else 1):
            qt = rng.uniform(1.5, 4.0) if spike else rng.uniform(1.0, 1.4)
            entries.append(
                f"# Time: {t.strftime('%Y-%m-%dT%H:%M:%S.000000Z')}\n"
                f"# User@Host: shop[shop] @ app [10.0.0.5]  Id: {100 + second}\n"
                f"# Query_time: {qt:.6f}  Lock_time: 0.000020 Rows_sent: 20  "
                f"Rows_examined: {rng.randint(200000, 400000)}\n"
                f"SET timestamp={int(t.timestamp())};\n"
                f"SELECT * FROM products WHERE name LIKE '%{rng.choice(['shoe', 'hat', 'bag'])}%'"
                f" ORDER BY score DESC LIMIT 20;\n")
        if second % 70 == 0:
            entries.append(
                f"# Time: {t.strftime('%Y-%m-%dT%H:%M:%S.000000Z')}\n"
                f"# User@Host: shop[shop] @ app [10.0.0.5]  Id: 9\n"
                f"# Query_time: 1.100000  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 90000\n"
                f"SET timestamp={int(t.timestamp())};\n"
                f"SELECT COUNT(*) FROM orders WHERE created_at > '2026-12-0{rng.randint(1, 3)}';\n")
    out.write_text("/usr/sbin/mysqld, Version: 8.0.36. started with:\n" + "".join(entries))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("access.log")
    generate(target)
    slow = target.with_name("mysql-slow.log")
    generate_slow_log(slow)
    print(f"wrote {target} and {slow}")
