"""The ``logs.inspect`` action."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Literal

from pydantic import Field, field_validator

from rbk import Action, Plan
from rbk.action import StrictInputs
from rbk.durations import format_duration, parse_duration
from rbk.errors import StepFailed

OUTPUTS = {
    "files": "files read, oldest first", "lines": "lines read", "parsed": "lines parsed and in the window",
    "blank": "empty lines", "malformed": "{count, samples (up to 5)}",
    "first_ts": "first request (ISO 8601, UTC)", "last_ts": "last request",
    "requests_per_s": "mean rate over the window", "peak": "{t, rps}: the busiest second",
    "timeline": "[{t, requests, errors_5xx, p95_ms, clients}] per bucket",
    "unique_clients": "distinct clients in the window",
    "status": "{code: n}", "status_class": "{2xx: n, ...}",
    "top_clients": "[{client, requests, share, rps_peak}]", "top_paths": "[{path, requests, share}]",
    "top_user_agents": "[{user_agent, requests, share}]", "top_referers": "[{referer, requests, share}]",
    "latency_ms": "{p50, p90, p95, p99, max} when the format has a time field",
    "spike": "{detected, start, end, factor, baseline_rps, peak_rps, contributors: {clients, paths}}",
    "suspects": "[{client, requests, share, rps_peak, why}]",
    "cacheable_paths": "[{path, requests, ok_get, static}]: GET paths answered 200/304",
}


class InspectInputs(StrictInputs):
    path: str | list[str] = Field(description=(
        "Log file(s) or glob(s); rotated sets (access.log.2.gz, .1, access.log) are read "
        "oldest first, .gz decompressed on the fly."))
    format: str = Field("combined", description=(
        "combined (optionally followed by $request_time), combined_timed, common, json, or "
        "an nginx log_format string pasted from nginx.conf."))
    json_fields: dict[str, str] = Field(default_factory=dict, description=(
        "For format json: normalised field -> JSON key (time, client, request, method, path, "
        "status, bytes, referer, user_agent, request_time, xff)."))
    window: float | None = Field(None, description="Only the last N seconds (e.g. 15m) before "
                                                   "the newest line.")
    since: str | None = Field(None, description="ISO 8601 time or epoch seconds.")
    until: str | None = Field(None, description="ISO 8601 time or epoch seconds (exclusive).")
    bucket: float = Field(10, description="Timeline bucket (e.g. 10s, 1m).")
    top: int = Field(10, ge=1, le=1000, description="How many top entries to report.")
    client: Literal["remote_addr", "xff_first", "xff_last"] = Field(
        "remote_addr", description="Client identity: the peer address, or the first/last "
                                   "X-Forwarded-For hop.")
    share_threshold: float = Field(0.1, ge=0, le=1,
                                   description="A client above this share is a suspect.")
    rate_threshold: float = Field(20, ge=0, description="A client above this req/s is a suspect.")
    spike_factor: float = Field(3, gt=1, description="A spike is >= this x the baseline rate.")
    cache_min_requests: int = Field(100, ge=1, description="Minimum 200/304 GETs for a "
                                                           "cacheable path.")

    @field_validator("window", "bucket", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)


def _timestamp(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise StepFailed(f"not a time: {value!r} (use ISO 8601 or epoch seconds)") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


class LogsInspect(Action):
    name = "logs.inspect"
    description = "Find where the traffic comes from: exact counts, timeline, spike, suspects."
    Inputs = InspectInputs
    mutating = False
    rollback_support = "not-needed"
    outputs = OUTPUTS

    def check(self, ctx, inputs: InspectInputs) -> Plan:
        from rbk_logs.analyze import Accumulator, Spec, WindowCounter, read_block, results
        from rbk_logs.formats import JSON_DEFAULT_FIELDS, FormatError, compile_format
        from rbk_logs.reader import chunks, resolve, tail_lines

        if inputs.bucket < 1 or inputs.bucket != int(inputs.bucket):
            raise StepFailed(f"bucket must be a whole number of seconds, got {inputs.bucket:g}")
        transport = ctx.host.transport
        patterns = [inputs.path] if isinstance(inputs.path, str) else inputs.path
        files = resolve(transport, [str(ctx.path(p)) for p in patterns])
        try:
            fmt = None if inputs.format == "json" else compile_format(inputs.format)
        except FormatError as exc:
            raise StepFailed(f"format: {exc}") from None
        spec = Spec(fmt=fmt, json_fields={**JSON_DEFAULT_FIELDS, **inputs.json_fields},
                    client=inputs.client, bucket=int(inputs.bucket),
                    since=_timestamp(inputs.since), until=_timestamp(inputs.until))
        if fmt is not None and not fmt.has_time:
            raise StepFailed("the log format has no $time_local, $time_iso8601 or $msec")
        if inputs.window is not None:
            newest = self._newest(transport, files, spec, read_block, tail_lines)
            if newest is not None:
                start = newest - inputs.window
                spec.since = start if spec.since is None else max(spec.since, start)
        from rbk_logs import fastpath

        # Presets and most pasted formats run on the compiled scanner; the rest (and
        # every line the scanner is unsure of) on the regex. Same results either way.
        ops = fastpath.program(fmt) if fmt is not None and fastpath.available() else None

        def blocks(label: str, parse, ranges: dict[int, tuple[int, int]] | None = None):
            # Blocks are parsed on worker threads while this one aggregates: the compiled
            # scanner releases the GIL, so every core works. Items are (file index,
            # offset, block); ``ranges`` limits files to byte ranges (the second pass).
            from rbk_logs.reader import Progress, parallel_map, prefetch

            def read():
                for i, f in enumerate(files):
                    start, stop = (0, None) if ranges is None else ranges.get(i, (0, 0))
                    if stop == 0:
                        continue
                    offset = start
                    for block in chunks(transport, f.path, on_read=progress.advance,
                                        start=start, stop=stop, views=ops is not None):
                        yield i, offset, block
                        offset += len(block)

            total = sum(f.size for f in files) if ranges is None else sum(
                stop - start for start, stop in ranges.values())
            progress = Progress(total, label)
            try:
                if ops is not None:
                    parsed = parallel_map(parse, read(), workers=max(2, os.cpu_count() or 1))
                else:  # polars' parse holds the GIL for the decode: one reader thread
                    parsed = prefetch(map(parse, read()), depth=2)
                for block in parsed:
                    if ctx.cancelled.is_set():
                        raise StepFailed("cancelled")
                    yield block
            finally:
                progress.close()

        if ops is not None:
            acc = fastpath.CompiledAccumulator(spec, ops)
        else:
            acc = Accumulator(spec)
        for block in blocks("reading logs", acc.parse):
            acc.add(block)

        def second_pass(start: float, end: float):
            if ops is not None:
                counter = fastpath.CompiledWindowCounter(spec, ops, start, end)
                ranges = acc.ranges(start - acc.HORIZON, end + acc.HORIZON)
            else:
                counter, ranges = WindowCounter(spec, start, end), None
            for block in blocks("attributing the spike", counter.parse, ranges):
                counter.add(block)
            return counter

        out = results(acc, inputs.top, {"share": inputs.share_threshold,
                                        "rate": inputs.rate_threshold,
                                        "spike_factor": inputs.spike_factor,
                                        "cache_min": inputs.cache_min_requests}, second_pass)
        out["files"] = [f.path for f in files]
        tl = out["timeline"]
        charts = [{"title": f"requests per {format_duration(spec.bucket)}", "unit": "",
                   "points": [[e["t"][11:19], e["requests"]] for e in tl]}] if tl else []
        if tl and any(e["errors_5xx"] for e in tl):
            charts.append({"title": "5xx responses", "unit": "",
                           "points": [[e["t"][11:19], e["errors_5xx"]] for e in tl]})
        return Plan(changed=False, summary=summarise(out), outputs=out, charts=charts,
                    tables=tables(out))

    @staticmethod
    def _newest(transport, files, spec, read_block, tail_lines) -> float | None:
        from rbk_logs.analyze import parse

        for f in reversed(files):
            tail = b"\n".join(tail_lines(transport, f.path)) + b"\n"
            rows, _ = parse(read_block(tail), spec)
            if rows.height:
                return rows["ts"].max()
        return None


def tables(out: dict[str, Any]) -> list[dict[str, Any]]:
    def pct(x: float) -> str:
        return f"{x * 100:.1f}%"

    result = [
        {"title": "Top clients", "columns": ["client", "requests", "share", "peak req/s"],
         "rows": [[c["client"], c["requests"], pct(c["share"]), c["rps_peak"]]
                  for c in out["top_clients"]]},
        {"title": "Top paths", "columns": ["path", "requests", "share"],
         "rows": [[p["path"], p["requests"], pct(p["share"])] for p in out["top_paths"]]},
    ]
    if out["suspects"]:
        result.append({"title": "Suspects", "columns": ["client", "why"],
                       "rows": [[s["client"], s["why"]] for s in out["suspects"]]})
    if out["cacheable_paths"]:
        result.append({"title": "Cacheable paths (GET, 200/304)",
                       "columns": ["path", "requests", "static"],
                       "rows": [[p["path"], p["requests"], "yes" if p["static"] else ""]
                                for p in out["cacheable_paths"]]})
    status = out["status_class"]
    result.append({"title": "Responses", "columns": list(status),
                   "rows": [[status[k] for k in status]] if status else []})
    return result


def summarise(out: dict[str, Any]) -> str:
    if not out["parsed"]:
        return (f"no parsable requests in {out['lines']} lines "
                f"({out['malformed']['count']} malformed)")
    parts = [f"{out['parsed']:,} requests {out['first_ts']} – {out['last_ts']} "
             f"({out['requests_per_s']:g} req/s, peak {out['peak']['rps']}/s at "
             f"{out['peak']['t']})"]
    spike = out["spike"]
    if spike.get("detected"):
        who = spike["contributors"]["clients"][:1]
        lead = (f" led by {who[0]['client']} ({who[0]['share_of_excess'] * 100:.0f}% of the "
                f"extra)") if who else ""
        parts.append(f"spike {spike['start']} – {spike['end']} "
                     f"({format_duration(spike['duration_s'])}) at {spike['factor']}x the "
                     f"baseline {spike['baseline_rps']:g} req/s{lead}")
    if out["top_clients"]:
        c = out["top_clients"][0]
        parts.append(f"top client {c['client']} {c['share'] * 100:.1f}%")
    if out["latency_ms"]:
        lat = out["latency_ms"]
        parts.append(f"p95 {lat['p95']}ms")
    errors = out["status_class"].get("5xx", 0)
    parts.append(f"{errors / out['parsed'] * 100:.1f}% 5xx")
    if out["malformed"]["count"]:
        parts.append(f"{out['malformed']['count']} malformed lines")
    return "; ".join(parts)


class SlowInputs(StrictInputs):
    path: str | list[str] = Field(description="Slow log file(s) or glob(s), rotated/.gz allowed.")
    engine: Literal["mysql", "postgresql"] = Field(description="Log flavour.")
    window: float | None = Field(None, description=(
        "The incident window: the last N seconds (e.g. 15m) before the newest query; the "
        "rest is the baseline each fingerprint is compared with."))
    top: int = Field(10, ge=1, le=1000)

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)


class SlowQueries(Action):
    name = "logs.slow_queries"
    description = "Digest MySQL/PostgreSQL slow query logs: top fingerprints by total time."
    Inputs = SlowInputs
    mutating = False
    rollback_support = "not-needed"
    outputs = {
        "files": "files read", "queries": "slow queries read",
        "first_ts": "first query time", "last_ts": "last query time",
        "incident_since": "start of the incident window (when window is set)",
        "top": "[{fingerprint, example, count, total_s, mean_ms, p95_ms, max_ms, "
               "rows_examined, baseline, incident, change}] by total time",
    }

    def check(self, ctx, inputs: SlowInputs) -> Plan:
        from rbk_logs.analyze import _iso
        from rbk_logs.reader import chunks, resolve
        from rbk_logs.slow import digest, parse_mysql, parse_postgres

        transport = ctx.host.transport
        patterns = [inputs.path] if isinstance(inputs.path, str) else inputs.path
        files = resolve(transport, [str(ctx.path(p)) for p in patterns])

        def lines():
            for f in files:
                for block in chunks(transport, f.path):  # blocks end on a line boundary
                    for line in block.split(b"\n"):
                        yield line.decode("utf-8", "replace")

        parser = parse_mysql if inputs.engine == "mysql" else parse_postgres
        incident_since = None
        if inputs.window is not None:
            newest = None
            for q in parser(lines()):
                if q.ts is not None:
                    newest = q.ts if newest is None else max(newest, q.ts)
            incident_since = None if newest is None else newest - inputs.window
        first_last: list[float | None] = [None, None]
        count, top = digest(parser(lines()), incident_since, inputs.top, first_last)
        out = {"files": [f.path for f in files], "queries": count,
               "first_ts": _iso(first_last[0]), "last_ts": _iso(first_last[1]),
               "incident_since": _iso(incident_since), "top": top}
        if not top:
            summary = f"no slow queries in {len(files)} file(s)"
        else:
            t = top[0]
            change = f", {t['change']}x its baseline rate" if t.get("change") else ""
            summary = (f"{count} slow queries, {len(top)} top fingerprints; heaviest: "
                       f"{t['count']}x {t['fingerprint'][:80]!r} = {t['total_s']}s total, "
                       f"p95 {t['p95_ms']}ms{change}")
        return Plan(changed=False, summary=summary, outputs=out)
