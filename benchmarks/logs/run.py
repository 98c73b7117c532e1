#!/usr/bin/env python3
"""logs.inspect vs GoAccess vs one-pass awk vs wc -l, in one run, with ratios and peak RSS.

    .venv/bin/python benchmarks/logs/run.py [--lines 5000000] [--log FILE]

Generates the log (benchmarks/logs/out/bench.log) unless --log is given. GoAccess
is optional (apt-get install goaccess); it is reported as missing otherwise.
Goal (issue 3): rbk <= awk time, peak RSS <= 300 MB, both cores used. rbk's
compiled scanner is measured, then its polars engine (what JSON lines and some
pasted formats use) for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(name: str, argv: list[str], **kw) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, **kw)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        print(f"{name} failed: {proc.stderr.decode()[-500:]}", file=sys.stderr)
    # ru_maxrss of children is the max over all children so far: run cheapest first.
    return {"name": name, "wall": wall, "cpu": cpu, "rss_mb": after.ru_maxrss / 1024,
            "ok": proc.returncode == 0, "stdout": proc.stdout}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--log")
    ap.add_argument("--no-goaccess", action="store_true", help="skip GoAccess (slow)")
    args = ap.parse_args()
    if args.log:
        log = Path(args.log)
    else:
        log = HERE / "out" / f"bench-{args.lines}.log"
        if not log.exists():
            log.parent.mkdir(exist_ok=True)
            subprocess.run([sys.executable, str(HERE / "gen.py"), str(log), "--lines",
                            str(args.lines)], check=True)
    size_mb = log.stat().st_size / 1e6
    subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the cache
    rbk = str(Path(sys.executable).with_name("rbk"))
    env = {**os.environ, "RBK_STATE_DIR": str(HERE / "out" / "state")}
    results = [measure("wc -l", ["wc", "-l", str(log)])]
    results.append(measure("awk one-pass", ["awk", "-f", str(HERE / "top.awk"), str(log)]))
    r = measure("rbk logs.inspect", [rbk, "do", "logs.inspect", f"path={log}",
                                     "--format", "json"], env=env)
    results.append(r)
    if r["ok"]:
        report = json.loads(r["stdout"])
        out = report["steps"][0]["hosts"]["localhost"]["plan"]["outputs"]
        print(f"rbk: {out['parsed']:,} parsed, {out['malformed']['count']} malformed, "
              f"spike detected={out['spike']['detected']}, "
              f"top client {out['top_clients'][0]['client']}")
    # The engine for JSON lines and formats the scanner leaves to the regex.
    results.append(measure("rbk, polars engine", [rbk, "do", "logs.inspect", f"path={log}",
                                                 "--format", "json"],
                           env={**env, "RBK_LOGS_ENGINE": "polars"}))
    if args.no_goaccess:
        pass
    elif shutil.which("goaccess"):
        results.append(measure("goaccess 1.7 (json)", [
            "goaccess", str(log), "--log-format", "%h %^[%d:%t %^] \"%r\" %s %b \"%R\" \"%u\" %T",
            "--date-format", "%d/%b/%Y", "--time-format", "%H:%M:%S", "-o", "json"]))
    else:
        print("goaccess: not installed (apt-get install goaccess) — skipped")
    awk = next(x for x in results if x["name"] == "awk one-pass")["wall"]
    lines = args.lines if not args.log else None
    print(f"\nlog: {log} ({size_mb:.0f} MB)")
    print(f"{'tool':<22} {'wall':>8} {'cpu':>8} {'cpu/wall':>8} {'vs awk':>7} {'lines/s':>12}")
    for x in results:
        lps = f"{lines / x['wall']:,.0f}" if lines else "-"
        print(f"{x['name']:<22} {x['wall']:7.2f}s {x['cpu']:7.2f}s {x['cpu'] / x['wall']:8.2f} "
              f"{x['wall'] / awk:6.2f}x {lps:>12}")
    print(f"\nrbk peak RSS: {r['rss_mb']:.0f} MB (max over the children run so far; "
          f"goal <= 300 MB); goal rbk <= awk: {'MET' if r['wall'] <= awk else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
