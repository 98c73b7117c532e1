#!/usr/bin/env python3
"""Start-up benchmark: ``rbk --help`` (and ``rbk validate``) vs ``python -c pass``, same run.

Goal (issue 2): ``rbk --help`` <= 3x ``python -c pass``.

    .venv/bin/python benchmarks/startup/run.py [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def timed(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rbk = shutil.which("rbk", path=str(Path(sys.executable).parent)) or "rbk"
    runbook = str(ROOT / "runbooks" / "traffic-spike.yaml")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "rbk --help": [rbk, "--help"],
        "rbk validate traffic-spike": [rbk, "validate", runbook],
    }
    base = timed(cases["python -c pass"], args.runs)
    print(f"{'command':<30} {'median':>9} {'x python':>9}")
    for name, argv in cases.items():
        if argv is None:
            continue
        t = base if name == "python -c pass" else timed(argv, args.runs)
        print(f"{name:<30} {t * 1000:8.1f}ms {t / base:8.2f}x")
    ratio = timed(cases["rbk --help"], args.runs) / base
    goal = 3.0
    print(f"\nrbk --help = {ratio:.2f}x python -c pass (goal <= {goal}x): "
          f"{'MET' if ratio <= goal else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
