#!/usr/bin/env python3
"""Deterministic benchmark log: N lines (default 5,000,000, ~1 GB) of nginx combined +
$request_time over 24 h, with a spike from one client in the last hour.

    python benchmarks/logs/gen.py OUT [--lines N]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

PATHS = ["/", "/products", "/products/{}", "/cart", "/api/search?q={}", "/static/app.{}.js",
         "/static/style.{}.css", "/img/{}.jpg", "/login", "/api/items/{}"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Safari/605.1.15",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148",
          "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
          "curl/8.5.0"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=5_000_000)
    args = ap.parse_args()
    rng = random.Random(42)
    start = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    clients = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(20000)] + \
              [f"2001:db8:{i:x}::1" for i in range(2000)]
    abuser = "203.0.113.50"
    n = args.lines
    span = 86400
    spike_from = int(n * 0.85)  # the last 15% of lines land in the last hour (~4x)
    t0 = time.monotonic()
    with open(args.out, "w", encoding="utf-8", buffering=1 << 20) as out:
        batch = []
        stamp_cache: dict[int, str] = {}
        for i in range(n):
            if i < spike_from:
                sec = int(i / spike_from * (span - 3600))
                ip = rng.choice(clients)
            else:
                sec = span - 3600 + int((i - spike_from) / (n - spike_from) * 3600)
                ip = abuser if rng.random() < 0.6 else rng.choice(clients)
            stamp = stamp_cache.get(sec)
            if stamp is None:
                stamp = (start + timedelta(seconds=sec)).strftime("%d/%b/%Y:%H:%M:%S +0000")
                stamp_cache = {sec: stamp}
            path = rng.choice(PATHS).format(rng.randint(1, 500))
            status = rng.choices((200, 304, 404, 500, 502), (80, 10, 6, 3, 1))[0]
            batch.append(f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} '
                         f'{rng.randint(200, 90000)} "https://shop.example.com/" '
                         f'"{rng.choice(AGENTS)}" {rng.randint(1, 2500) / 1000:.3f}\n')
            if len(batch) >= 10000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    print(f"wrote {n:,} lines to {args.out} in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()
