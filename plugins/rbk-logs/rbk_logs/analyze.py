"""Streaming, exact access-log analysis with polars.

Each block of lines is parsed with one anchored regex (Rust engine, all cores)
into normalised columns, then folded into small aggregate tables (per second,
per bucket and latency, per client, per path, ...). Memory depends on the
number of distinct clients/paths and time buckets, never on the number of lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from rbk_logs.formats import JSON_DEFAULT_FIELDS, LogFormat

MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
SAMPLE_LIMIT = 5
SAMPLE_CHARS = 300


@dataclass
class Spec:
    """What to parse and how to aggregate."""

    fmt: LogFormat | None  # None => JSON lines
    json_fields: dict[str, str] = field(default_factory=lambda: dict(JSON_DEFAULT_FIELDS))
    client: str = "remote_addr"  # or xff_first / xff_last
    bucket: int = 10
    since: float | None = None
    until: float | None = None


def read_block(data: bytes) -> pl.Series:
    """One string per line, invalid UTF-8 replaced (U+FFFD), a trailing \\r dropped.

    polars' CSV reader splits lines fastest, but it needs a byte no line contains as
    its separator; a block where even \\x1f appears is split by Python instead.
    """
    if b"\x1f" not in data:
        try:
            lines = pl.read_csv(data, has_header=False, separator="\x1f", quote_char=None,
                                new_columns=["line"], schema={"line": pl.String},
                                encoding="utf8-lossy").to_series().fill_null("")
            return lines.str.strip_chars_end("\r")
        except pl.exceptions.PolarsError:
            pass  # whatever it refused, Python's split below reads
    split = data.decode("utf-8", "replace").split("\n")
    if data.endswith(b"\n"):
        split.pop()
    return pl.Series("line", split, dtype=pl.String).str.strip_chars_end("\r")


def _epoch_from_time_local(col: pl.Expr) -> pl.Expr:
    return col.str.strptime(pl.Datetime("ms", "UTC"), "%d/%b/%Y:%H:%M:%S %z",
                            strict=False).dt.epoch("ms").cast(pl.Float64) / 1000


def _epoch_from_iso(col: pl.Expr) -> pl.Expr:
    return (col.str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
            .str.to_datetime(time_zone="UTC", strict=False)
            .dt.epoch("ms").cast(pl.Float64) / 1000)


def _first_time(col: pl.Expr) -> pl.Expr:
    """ms from nginx times like "0.002" or "0.002, 0.004 : 0.001" (sum of the attempts)."""
    parts = col.str.extract_all(r"\d+(?:\.\d+)?")
    ms = (parts.list.eval(pl.element().cast(pl.Float64)).list.sum() * 1000).round(0).cast(
        pl.Int64)
    # "-" (no upstream, or a request that never got a time) is no measurement, not 0 ms.
    return pl.when(parts.list.len() > 0).then(ms)


def parse(lines: pl.Series, spec: Spec) -> tuple[pl.DataFrame, pl.Series]:
    """(normalised rows of the parsed lines, the non-blank lines that did not parse)."""
    frame = lines.to_frame("line")
    if spec.fmt is not None:
        groups = frame.select(pl.col("line").str.extract_groups(spec.fmt.regex).alias("m"),
                              pl.col("line")).unnest("m")
        first_var = spec.fmt.variables[0]
        ok = pl.col(first_var).is_not_null()
        bad = groups.filter(~ok & pl.col("line").is_not_null() & (pl.col("line") != ""))
        rows = groups.filter(ok)
        norm = _normalise_nginx(rows, spec)
    else:
        f = spec.json_fields
        cols = {k: pl.col("line").str.json_path_match(f"$.{v}") for k, v in f.items()}
        groups = frame.with_columns(**cols)
        ok = pl.col("time").is_not_null() & pl.col("status").is_not_null()
        bad = groups.filter(~ok & pl.col("line").is_not_null() & (pl.col("line") != ""))
        norm = _normalise_json(groups.filter(ok), spec)
    # A line whose time does not convert (e.g. 31/Feb) is malformed, not a crash.
    unparsed_time = norm.filter(pl.col("ts").is_null())
    if unparsed_time.height:
        bad = pl.concat([bad.select("line"), unparsed_time.select("line")])
        norm = norm.filter(pl.col("ts").is_not_null())
    return norm.drop("line"), bad.get_column("line")


def _normalise_nginx(rows: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    v = set(spec.fmt.variables)  # type: ignore[union-attr]
    null_str = pl.lit(None, dtype=pl.String)
    if "time_local" in v:
        ts = _epoch_from_time_local(pl.col("time_local"))
    elif "time_iso8601" in v:
        ts = _epoch_from_iso(pl.col("time_iso8601"))
    elif "msec" in v:
        ts = pl.col("msec").cast(pl.Float64, strict=False)
    else:
        ts = pl.lit(0.0)
    if "request" in v:
        method = pl.col("request").str.extract(r"^([A-Z]+) ", 1)
        path = pl.col("request").str.extract(r"^[A-Z]+ ([^ ?]*)", 1)
    else:
        method = pl.col("request_method") if "request_method" in v else null_str
        target = pl.col("request_uri") if "request_uri" in v else (
            pl.col("uri") if "uri" in v else null_str)
        path = target.str.extract(r"^([^?]*)", 1)
    status = pl.col("status").cast(pl.Int32, strict=False) if "status" in v else pl.lit(None)
    size_var = "body_bytes_sent" if "body_bytes_sent" in v else (
        "bytes_sent" if "bytes_sent" in v else None)
    size = pl.col(size_var).cast(pl.Int64, strict=False) if size_var else pl.lit(None)
    rt = _first_time(pl.col("request_time")) if "request_time" in v else (
        _first_time(pl.col("upstream_response_time")) if "upstream_response_time" in v
        else pl.lit(None, dtype=pl.Int64))
    xff = pl.col("http_x_forwarded_for") if "http_x_forwarded_for" in v else null_str
    remote = pl.col("remote_addr") if "remote_addr" in v else null_str
    return rows.select(
        ts.alias("ts"),
        _client(remote, xff, spec.client).alias("client"),
        method.alias("method"),
        path.alias("path"),
        status.alias("status"),
        size.alias("bytes"),
        (pl.col("http_referer") if "http_referer" in v else null_str).alias("referer"),
        (pl.col("http_user_agent") if "http_user_agent" in v else null_str).alias("user_agent"),
        rt.alias("rt_ms"),
        pl.col("line"),
    )


def _normalise_json(rows: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    time = pl.col("time")
    numeric = time.cast(pl.Float64, strict=False)
    ts = pl.when(numeric.is_not_null()).then(numeric).otherwise(
        pl.coalesce(_epoch_from_iso(time), _epoch_from_time_local(time)))
    request = pl.col("request")
    method = pl.coalesce(pl.col("method"), request.str.extract(r"^([A-Z]+) ", 1))
    path = pl.coalesce(pl.col("path").str.extract(r"^([^?]*)", 1),
                       request.str.extract(r"^[A-Z]+ ([^ ?]*)", 1))
    return rows.select(
        ts.alias("ts"),
        _client(pl.col("client"), pl.col("xff"), spec.client).alias("client"),
        method.alias("method"), path.alias("path"),
        pl.col("status").cast(pl.Int32, strict=False).alias("status"),
        pl.col("bytes").cast(pl.Int64, strict=False).alias("bytes"),
        pl.col("referer"), pl.col("user_agent"),
        _first_time(pl.col("request_time")).alias("rt_ms"),
        pl.col("line"),
    )


def _client(remote: pl.Expr, xff: pl.Expr, mode: str) -> pl.Expr:
    if mode == "remote_addr":
        return remote
    hops = xff.str.split(",").list.eval(pl.element().str.strip_chars()).list.eval(
        pl.element().filter((pl.element() != "") & (pl.element() != "-")))
    pick = hops.list.first() if mode == "xff_first" else hops.list.last()
    return pl.coalesce(pick, remote)


# ---------------------------------------------------------------------------
# accumulation
# ---------------------------------------------------------------------------


class Accumulator:
    """Exact running aggregates whose size depends on distinct values, not on lines.

    A client's peak rate needs per-(client, bucket) counts; keeping them all would
    grow with the log. Lines arrive in time order, so buckets older than
    ``HORIZON`` seconds before the newest line are final: they are folded into a
    per-client running maximum and dropped.
    """

    TABLES = {
        "per_second": ["sec"],
        "latency": ["rt_ms"],
        "status": ["status"],
        "clients": ["client"],
        "paths": ["path"],
        "user_agents": ["user_agent"],
        "referers": ["referer"],
    }
    HORIZON = 120

    def __init__(self, spec: Spec):
        self.spec = spec
        self.lines = 0
        self.blank = 0
        self.parsed = 0
        self.malformed = 0
        self.late = 0
        self.samples: list[str] = []
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.parts: dict[str, list[pl.DataFrame]] = {k: [] for k in self.TABLES}
        self.open_buckets = pl.DataFrame(schema={"client": pl.String, "bucket": pl.Int64,
                                                 "n": pl.UInt32})
        self.client_peak = pl.DataFrame(schema={"client": pl.String, "peak": pl.UInt32})
        self.open_rt = pl.DataFrame(schema={"bucket": pl.Int64, "rt_ms": pl.Int64,
                                            "n": pl.UInt32})
        self.bucket_p95: list[pl.DataFrame] = []
        self.bucket_clients: list[pl.DataFrame] = []
        self.final_before: int | None = None  # buckets < this are final

    @staticmethod
    def parse(item: tuple[int, int, bytes]) -> pl.Series:
        """Runs on the reader thread: split and decode a (file, offset, block) item."""
        return read_block(item[2])

    def add(self, lines: pl.Series) -> None:
        self.lines += lines.len()
        blank = lines.is_null() | (lines == "")
        self.blank += int(blank.sum())
        rows, bad = parse(lines, self.spec)
        if self.spec.since is not None:
            rows = rows.filter(pl.col("ts") >= self.spec.since)
        if self.spec.until is not None:
            rows = rows.filter(pl.col("ts") < self.spec.until)
        self.malformed += bad.len()
        if len(self.samples) < SAMPLE_LIMIT and bad.len():
            for line in bad.head(SAMPLE_LIMIT - len(self.samples)).to_list():
                self.samples.append(line[:SAMPLE_CHARS])
        if rows.height == 0:
            return
        self.parsed += rows.height
        lo, hi = rows.select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")).row(0)
        self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
        self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)
        b = self.spec.bucket
        rows = rows.lazy().with_columns(
            sec=pl.col("ts").floor().cast(pl.Int64),
            bucket=(pl.col("ts") // b * b).cast(pl.Int64),
            err5=(pl.col("status") >= 500) & (pl.col("status") < 600),
            get=pl.col("method").is_in(["GET", "HEAD"]),
        ).with_columns(cacheable=pl.col("get") & pl.col("status").is_in([200, 304]))
        n = pl.len().alias("n")
        queries = {
            "per_second": rows.group_by("sec").agg(n, pl.col("err5").sum().alias("e5")),
            "bucket_rt": rows.filter(pl.col("rt_ms").is_not_null())
            .group_by("bucket", "rt_ms").agg(n),
            "status": rows.group_by("status").agg(n),
            "client_buckets": rows.group_by("client", "bucket").agg(n),
            "paths": rows.group_by("path").agg(n, pl.col("cacheable").sum().alias("ok_get"),
                                               pl.col("get").sum().alias("get")),
            "user_agents": rows.group_by("user_agent").agg(n),
            "referers": rows.group_by("referer").agg(n),
        }
        done = dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))
        client_buckets = done.pop("client_buckets")
        bucket_rt = done.pop("bucket_rt")
        for name, frame in done.items():
            self.parts[name].append(frame)
        self.parts["clients"].append(client_buckets.group_by("client").agg(pl.col("n").sum()))
        self.parts["latency"].append(bucket_rt.group_by("rt_ms").agg(pl.col("n").sum()))
        horizon = int(hi) - self.HORIZON
        self._fold_latency(bucket_rt, horizon)
        self._fold_peaks(client_buckets, horizon)
        if len(self.parts["clients"]) >= 8:
            self.merge()

    def _fold_peaks(self, client_buckets: pl.DataFrame, horizon: int) -> None:
        if self.final_before is not None:
            late = client_buckets.filter(pl.col("bucket") < self.final_before)
            self.late += int(late["n"].sum() or 0)
        both = pl.concat([self.open_buckets, client_buckets.cast({"n": pl.UInt32})])
        both = both.group_by("client", "bucket").agg(pl.col("n").sum())
        final = both.filter(pl.col("bucket") < horizon)
        self.open_buckets = both.filter(pl.col("bucket") >= horizon)
        self.final_before = max(horizon, self.final_before or horizon)
        if final.height:
            self.bucket_clients.append(final.group_by("bucket").agg(
                pl.col("client").n_unique().alias("clients")))
            peaks = final.group_by("client").agg(pl.col("n").max().alias("peak"))
            self.client_peak = pl.concat([self.client_peak, peaks]).group_by("client").agg(
                pl.col("peak").max())

    def _fold_latency(self, bucket_rt: pl.DataFrame, horizon: int) -> None:
        both = pl.concat([self.open_rt, bucket_rt.cast({"n": pl.UInt32})])
        both = both.group_by("bucket", "rt_ms").agg(pl.col("n").sum())
        final = both.filter(pl.col("bucket") < horizon)
        self.open_rt = both.filter(pl.col("bucket") >= horizon)
        if final.height:
            self.bucket_p95.append(p95_per_bucket(final))

    def p95(self) -> dict[int, int]:
        """bucket -> exact 95th percentile latency (nearest rank) of its requests."""
        frames = [*self.bucket_p95, p95_per_bucket(self.open_rt)]
        # A bucket split by late lines appears twice; keep the larger (conservative).
        merged = pl.concat(frames).group_by("bucket").agg(pl.col("p95").max())
        return dict(merged.iter_rows())

    def clients_per_bucket(self) -> dict[int, int]:
        """bucket -> distinct clients (exact: a bucket is counted once it is final)."""
        rest = self.open_buckets.group_by("bucket").agg(
            pl.col("client").n_unique().alias("clients"))
        merged = pl.concat([*self.bucket_clients, rest.cast({"clients": pl.UInt32})],
                           how="vertical_relaxed").group_by("bucket").agg(
            pl.col("clients").sum())
        return dict(merged.iter_rows())

    def peaks(self) -> pl.DataFrame:
        """client -> the most requests it sent in one bucket."""
        rest = self.open_buckets.group_by("client").agg(pl.col("n").max().alias("peak"))
        return pl.concat([self.client_peak, rest]).group_by("client").agg(pl.col("peak").max())

    def merge(self) -> None:
        for name, keys in self.TABLES.items():
            parts = self.parts[name]
            if len(parts) > 1:
                both = pl.concat(parts, how="vertical_relaxed")
                sums = [pl.col(c).sum() for c in both.columns if c not in keys]
                self.parts[name] = [both.group_by(keys).agg(sums)]

    def table(self, name: str) -> pl.DataFrame:
        self.merge()
        parts = self.parts[name]
        return parts[0] if parts else pl.DataFrame()


class WindowCounter:
    """Second pass over the spike window only: requests per client and per path inside it."""

    def __init__(self, spec: Spec, start: float, end: float):
        self.spec, self.start, self.end = spec, start, end
        self.clients: list[pl.DataFrame] = []
        self.paths: list[pl.DataFrame] = []

    @staticmethod
    def parse(item: tuple[int, int, bytes]) -> pl.Series:
        return read_block(item[2])

    def overlaps(self, lines: pl.Series) -> bool:
        """Cheap test on the block's first and last parsable lines (logs are in time order)."""
        edge = pl.concat([lines.head(20), lines.tail(20)])
        rows, _ = parse(edge, self.spec)
        if rows.height == 0:
            return True
        lo, hi = rows["ts"].min(), rows["ts"].max()
        return not (hi < self.start - Accumulator.HORIZON or lo >= self.end + Accumulator.HORIZON)

    def add(self, lines: pl.Series) -> None:
        if not self.overlaps(lines):
            return
        rows, _ = parse(lines, self.spec)
        # The spike window lies inside since/until (it was found in data filtered by them).
        rows = rows.filter((pl.col("ts") >= self.start) & (pl.col("ts") < self.end))
        self.clients.append(rows.group_by("client").agg(pl.len().alias("spike")))
        self.paths.append(rows.group_by("path").agg(pl.len().alias("spike")))

    def table(self, key: str) -> pl.DataFrame:
        parts = self.clients if key == "client" else self.paths
        if not parts:
            return pl.DataFrame(schema={key: pl.String, "spike": pl.UInt32})
        return pl.concat(parts).group_by(key).agg(pl.col("spike").sum())


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def p95_per_bucket(hist: pl.DataFrame) -> pl.DataFrame:
    """bucket, p95 from a (bucket, rt_ms, n) histogram: exact nearest-rank percentile."""
    if hist.height == 0:
        return pl.DataFrame(schema={"bucket": pl.Int64, "p95": pl.Int64})
    ranked = hist.sort("bucket", "rt_ms").with_columns(
        cum=pl.col("n").cum_sum().over("bucket"), total=pl.col("n").sum().over("bucket"))
    hits = ranked.filter(pl.col("cum") >= (pl.col("total") * 0.95).ceil())
    return hits.group_by("bucket").agg(pl.col("rt_ms").first().alias("p95"))


def percentile_from_hist(values: list[int], counts: list[int], q: float) -> int | None:
    """Exact nearest-rank percentile from a value -> count histogram."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for value, count in sorted(zip(values, counts, strict=True)):
        seen += count
        if seen >= rank:
            return value
    return None  # pragma: no cover


def _top(df: pl.DataFrame, key: str, top: int, total: int) -> list[dict[str, Any]]:
    if df.height == 0:
        return []
    rows = df.sort(["n", key], descending=[True, False], nulls_last=True).head(top)
    return [{key: k, "requests": n, "share": round(n / total, 4)}
            for k, n in zip(rows[key].to_list(), rows["n"].to_list(), strict=True)]


def results(acc: Accumulator, top: int, thresholds: dict[str, float],
            second_pass: Any = None) -> dict[str, Any]:
    """All outputs. ``second_pass(start, end)`` re-reads the spike window only and returns
    a filled :class:`WindowCounter`, for the spike's contributors."""
    from rbk_logs.spike import add_contributors, detect_spike

    spec = acc.spec
    b = spec.bucket
    total = acc.parsed
    out: dict[str, Any] = {
        "lines": acc.lines, "parsed": total, "blank": acc.blank,
        "malformed": {"count": acc.malformed, "samples": acc.samples},
        "first_ts": _iso(acc.first_ts), "last_ts": _iso(acc.last_ts),
    }
    if total == 0:
        out.update(requests_per_s=0.0, peak=None, timeline=[], unique_clients=0, status={},
                   status_class={},
                   top_clients=[], top_paths=[], top_user_agents=[], top_referers=[],
                   latency_ms=None, spike={"detected": False}, suspects=[], cacheable_paths=[])
        return out
    span = max(acc.last_ts - acc.first_ts, 1.0)
    out["requests_per_s"] = round(total / span, 3)
    per_sec = acc.table("per_second").sort("sec")
    peak = per_sec.sort(["n", "sec"], descending=[True, False]).row(0, named=True)
    out["peak"] = {"t": _iso(peak["sec"]), "rps": peak["n"]}

    latency = acc.table("latency")
    per_bucket = per_sec.with_columns(bucket=pl.col("sec") // b * b).group_by("bucket").agg(
        pl.col("n").sum(), pl.col("e5").sum()).sort("bucket")
    has_rt = latency.height > 0
    p95 = acc.p95() if has_rt else {}
    clients = acc.table("clients")
    distinct = acc.clients_per_bucket()
    out["timeline"] = [{"t": _iso(r["bucket"]), "requests": r["n"], "errors_5xx": r["e5"],
                        "p95_ms": p95.get(r["bucket"]), "clients": distinct.get(r["bucket"], 0)}
                       for r in per_bucket.iter_rows(named=True)]
    out["unique_clients"] = clients.height

    status = acc.table("status").sort("status")
    out["status"] = {str(s): n for s, n in zip(status["status"].to_list(),
                                               status["n"].to_list(), strict=True)}
    classes: dict[str, int] = {}
    for s, n in out["status"].items():
        classes[f"{s[0]}xx"] = classes.get(f"{s[0]}xx", 0) + n
    out["status_class"] = classes

    top_clients = _top(clients, "client", top, total)
    names = [c["client"] for c in top_clients]
    peaks = dict(acc.peaks().filter(pl.col("client").is_in(names)).iter_rows())
    for c in top_clients:
        c["rps_peak"] = round(peaks.get(c["client"], 0) / b, 3)
    out["top_clients"] = top_clients
    paths = acc.table("paths")
    out["top_paths"] = _top(paths.select("path", "n"), "path", top, total)
    out["top_user_agents"] = _top(acc.table("user_agents"), "user_agent", top, total)
    out["top_referers"] = _top(acc.table("referers"), "referer", top, total)

    if has_rt:
        vals, cnts = latency["rt_ms"].to_list(), latency["n"].to_list()
        out["latency_ms"] = {f"p{q}": percentile_from_hist(vals, cnts, q)
                             for q in (50, 90, 95, 99)} | {"max": max(vals)}
    else:
        out["latency_ms"] = None

    out["spike"] = detect_spike(per_bucket, b, thresholds["spike_factor"])
    out["late_lines"] = acc.late
    if out["spike"]["detected"]:
        start, end, _ = out["spike"]["_window"]
        counter = second_pass(start, end) if second_pass else None
        if counter is not None:
            add_contributors(out["spike"], {"client": clients, "path": paths.select("path", "n")},
                             {"client": counter.table("client"), "path": counter.table("path")},
                             top)
        else:
            out["spike"].pop("_window")
            out["spike"]["contributors"] = {"clients": [], "paths": []}
    out["suspects"] = _suspects(top_clients, out["spike"], thresholds)
    out["cacheable_paths"] = _cacheable(paths, top, thresholds)
    return out


def _suspects(top_clients: list[dict[str, Any]], spike: dict[str, Any],
              thresholds: dict[str, float]) -> list[dict[str, Any]]:
    out = []
    contributors = {c["client"]: c for c in spike.get("contributors", {}).get("clients", [])}
    for c in top_clients:
        why = []
        if c["share"] >= thresholds["share"]:
            why.append(f"{c['share'] * 100:.1f}% of all requests (threshold "
                       f"{thresholds['share'] * 100:.0f}%)")
        if c["rps_peak"] >= thresholds["rate"]:
            why.append(f"peak {c['rps_peak']:g} req/s (threshold {thresholds['rate']:g})")
        if c["client"] in contributors and contributors[c["client"]]["share_of_excess"] >= 0.25:
            why.append(f"{contributors[c['client']]['share_of_excess'] * 100:.0f}% of the "
                       f"spike's extra traffic")
        if why:
            out.append({"client": c["client"], "requests": c["requests"], "share": c["share"],
                        "rps_peak": c["rps_peak"], "why": "; ".join(why)})
    return out


def _cacheable(paths: pl.DataFrame, top: int, thresholds: dict[str, float]) -> list[dict[str, Any]]:
    rows = paths.filter((pl.col("get") > 0) & (pl.col("ok_get") >= thresholds["cache_min"])
                        & (pl.col("ok_get") / pl.col("n") >= 0.9) & pl.col("path").is_not_null())
    rows = rows.sort(["ok_get", "path"], descending=[True, False]).head(top)
    return [{"path": p, "requests": n, "ok_get": ok, "static": _static(p)}
            for p, n, ok in zip(rows["path"].to_list(), rows["n"].to_list(),
                                rows["ok_get"].to_list(), strict=True)]


_STATIC = (".js", ".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".woff", ".woff2",
           ".ttf", ".webp", ".avif", ".map", ".txt", ".pdf", ".mp4", ".webm")


def _static(path: str) -> bool:
    return path.lower().endswith(_STATIC)


def _iso(ts: float | int | None) -> str | None:
    if ts is None:
        return None
    import datetime as dt

    t = dt.datetime.fromtimestamp(ts, dt.UTC)
    return t.isoformat(timespec="milliseconds" if ts % 1 else "seconds").replace("+00:00", "Z")
