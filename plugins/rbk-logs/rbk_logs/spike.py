"""Spike detection on the per-bucket timeline, and who explains the extra traffic."""

from __future__ import annotations

import statistics
from typing import Any

import polars as pl

MIN_BUCKETS = 6


def detect_spike(per_bucket: pl.DataFrame, bucket: int, factor: float) -> dict[str, Any]:
    """The contiguous run of buckets whose rate is >= ``factor`` x baseline with the most
    extra requests. Baseline = the 30th percentile of bucket rates to find the run, then
    the median rate outside it."""
    from rbk_logs.analyze import _iso

    if per_bucket.height == 0:
        return {"detected": False, "reason": "no requests"}
    first, last = per_bucket["bucket"].min(), per_bucket["bucket"].max()
    counts = dict(zip(per_bucket["bucket"].to_list(), per_bucket["n"].to_list(), strict=True))
    times = list(range(first, last + bucket, bucket))
    rates = [counts.get(t, 0) / bucket for t in times]
    if len(rates) < MIN_BUCKETS:
        return {"detected": False,
                "reason": f"only {len(rates)} buckets of {bucket}s; need {MIN_BUCKETS}"}
    # A low quantile, not the median: in an incident window the spike may well cover
    # more than half of the buckets. Refined below with the median outside the spike.
    baseline = statistics.quantiles(rates, n=10, method="inclusive")[2]
    best: tuple[float, int, int] | None = None
    i = 0
    while i < len(rates):
        if rates[i] >= factor * max(baseline, 1 / bucket):
            j = i
            while j + 1 < len(rates) and rates[j + 1] >= factor * max(baseline, 1 / bucket):
                j += 1
            excess = sum(r - baseline for r in rates[i:j + 1]) * bucket
            if best is None or excess > best[0]:
                best = (excess, i, j)
            i = j + 1
        else:
            i += 1
    if best is None:
        return {"detected": False, "baseline_rps": round(baseline, 3),
                "peak_rps": round(max(rates), 3),
                "reason": f"no bucket reached {factor:g}x the baseline"}
    _, i, j = best
    outside = rates[:i] + rates[j + 1:]
    base = statistics.median(outside) if outside else baseline
    spike_rates = rates[i:j + 1]
    start, end = times[i], times[j] + bucket
    duration = end - start
    base_duration = (times[-1] + bucket - times[0]) - duration
    mean_spike = sum(spike_rates) / len(spike_rates)
    return {
        "detected": True,
        "start": _iso(start), "end": _iso(end), "duration_s": duration,
        "factor": round(mean_spike / base, 2) if base else None,
        "baseline_rps": round(base, 3), "peak_rps": round(max(spike_rates), 3),
        "_window": (start, end, base_duration),
    }


def add_contributors(spike: dict[str, Any], totals: dict[str, pl.DataFrame],
                     in_window: dict[str, pl.DataFrame], top: int) -> None:
    """Clients and paths whose growth explains the spike: requests in the window beyond
    what their own rate outside it predicts, largest first."""
    start, end, base_duration = spike.pop("_window")
    spike["contributors"] = {
        key: _contributors(totals[key].join(in_window[key], on=key, how="left")
                           .with_columns(pl.col("spike").fill_null(0)),
                           key, end - start, base_duration, top)
        for key in ("client", "path")
    }
    spike["contributors"]["clients"] = spike["contributors"].pop("client")
    spike["contributors"]["paths"] = spike["contributors"].pop("path")


def _contributors(table: pl.DataFrame, key: str, duration: int, base_duration: int,
                  top: int) -> list[dict[str, Any]]:
    """``table``: key, n (all requests), spike (requests inside the window)."""
    if table.height == 0:
        return []
    per_key = table.with_columns(base=pl.col("n") - pl.col("spike"))
    expected = (pl.col("base") / base_duration * duration) if base_duration > 0 else pl.lit(0)
    per_key = per_key.with_columns(excess=pl.col("spike") - expected).filter(pl.col("excess") > 0)
    total_excess = per_key["excess"].sum() or 0
    rows = per_key.sort(["excess", key], descending=[True, False]).head(top)
    return [{key: r[key], "requests_in_spike": r["spike"],
             "baseline_requests": r["base"],
             "extra_requests": round(r["excess"], 1),
             "share_of_excess": round(r["excess"] / total_excess, 4) if total_excess else 0.0}
            for r in rows.iter_rows(named=True)]
