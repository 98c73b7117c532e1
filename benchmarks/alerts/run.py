#!/usr/bin/env python3
"""Alert intake: N alerts over F fingerprints posted in bursts to a real `rbk serve`.

    .venv/bin/python benchmarks/alerts/run.py [--alerts 10000] [--fingerprints 500]

Reports accepted alerts/s, p50/p99 accept latency, server RSS before/after,
and checks exactly one run per fingerprint (no loss, no duplicate).
Goal (issue 7): >= 2,000 alerts/s with p99 < 50 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = "bench-token-7f3a"
RUNBOOK = """\
name: bench
triggers:
  - match: {alertname: Bench}
    inputs: {who: labels.instance}
inputs:
  who: {}
steps:
  - id: note
    action: finding
    with: {text: "alert for {{ inputs.who }}"}
"""


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def payload(fingerprints: list[int]) -> bytes:
    alerts = [{"status": "firing", "labels": {"alertname": "Bench", "instance": f"host-{f}"},
               "annotations": {}, "startsAt": "2026-12-03T10:00:00Z",
               "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
               "fingerprint": f"{f:016x}"} for f in fingerprints]
    return json.dumps({"version": "4", "status": "firing", "receiver": "rbk",
                       "groupKey": "{}:{}", "alerts": alerts, "groupLabels": {},
                       "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                       "truncatedAlerts": 0}).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--alerts", type=int, default=10000)
    ap.add_argument("--fingerprints", type=int, default=500)
    ap.add_argument("--per-request", type=int, default=10)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rbk-alerts-") as d:
        root = Path(d)
        (root / "runbooks").mkdir()
        (root / "runbooks" / "bench.yaml").write_text(RUNBOOK)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        rbk = str(Path(sys.executable).with_name("rbk"))
        server = subprocess.Popen([rbk, "serve", "--port", str(port)], cwd=root,
                                  env={**os.environ, "RBK_SERVE_TOKEN": TOKEN,
                                       "RBK_STATE_DIR": str(root / "state")},
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("rbk serve did not start")
                time.sleep(0.1)
            rss_before = rss(server.pid)
            fps = [i % args.fingerprints for i in range(args.alerts)]
            batches = [fps[i:i + args.per_request] for i in range(0, len(fps), args.per_request)]
            latencies: list[float] = []
            statuses: list[int] = []
            lock = threading.Lock()

            def client(part: list[list[int]]) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for batch in part:
                    body = payload(batch)
                    t = time.perf_counter()
                    conn.request("POST", "/hooks/alertmanager", body,
                                 {"Authorization": f"Bearer {TOKEN}",
                                  "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    with lock:
                        latencies.append(time.perf_counter() - t)
                        statuses.append(resp.status)

            threads = [threading.Thread(target=client, args=(batches[i::args.clients],))
                       for i in range(args.clients)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            rss_after = rss(server.pid)
            # wait for the worker to drain the queue
            while True:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/healthz")
                if json.loads(c.getresponse().read())["pending"] == 0:
                    break
                time.sleep(0.5)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/runs?limit=100000", headers={"Authorization": f"Bearer {TOKEN}"})
            rows = json.loads(c.getresponse().read())["alerts"]
        finally:
            server.terminate()
            server.wait(30)
    latencies.sort()
    ok = statuses.count(202)
    runs = [r for r in rows if r["run_id"]]
    ok_runs = (len(runs) == args.fingerprints == len(rows)
               and sum(r["repeats"] for r in rows) == args.alerts - args.fingerprints)
    print(f"{args.alerts} alerts over {args.fingerprints} fingerprints, {len(batches)} requests "
          f"of {args.per_request}, {args.clients} clients")
    print(f"accepted: {ok * args.per_request / elapsed:,.0f} alerts/s "
          f"({ok}/{len(statuses)} requests 202)")
    print(f"latency per request: p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms")
    print(f"server RSS: {rss_before} MB before, {rss_after} MB after")
    print(f"runs: {len(runs)} for {args.fingerprints} fingerprints; "
          f"repeats counted: {sum(r['repeats'] for r in rows)}; "
          f"{'OK: none lost, none duplicated' if ok_runs else 'MISMATCH'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
