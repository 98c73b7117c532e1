"""The compiled fast path: nginx formats run by ``rbk_logs._scan`` instead of the regex.

``program(fmt)`` turns a compiled :class:`~rbk_logs.formats.LogFormat` into the
scanner's op list, or None when the format has something the scanner cannot
match *exactly* like the regex does (``$time_iso8601``, ``$upstream_*_time``,
two variables with no literal between them, a variable whose characters include
the next literal's first one). Those formats, JSON, and a missing extension
(no C compiler at install time) use the polars path in ``analyze``; the results
are the same, only slower.

A line the scanner is not sure about is parsed by the regex and added back as a
row, so malformed lines are counted and sampled exactly as on the polars path.
"""

from __future__ import annotations

import os
import string
from typing import Any

import polars as pl

from rbk_logs.analyze import SAMPLE_CHARS, SAMPLE_LIMIT, Accumulator, Spec, parse, read_block
from rbk_logs.formats import PATTERNS, LogFormat

try:
    from rbk_logs import _scan
except ImportError:  # built without a C compiler: the polars path does everything
    _scan = None

OP_LIT, OP_VAR, OP_OPT_RT = 1, 2, 3
(K_ADDR, K_NONSPACE, K_NONSPACE0, K_QUOTED, K_TIME_LOCAL, K_MSEC, K_STATUS, K_DIGITS,
 K_DIGITS_DASH, K_NUM_DASH, K_PIPE) = range(1, 12)
SLOTS = {"remote_addr": 1, "time_local": 2, "msec": 3, "request": 4, "request_method": 5,
         "request_uri": 6, "uri": 6, "status": 7, "http_referer": 8, "http_user_agent": 9,
         "request_time": 10, "http_x_forwarded_for": 11}
CLIENT_MODES = {"remote_addr": 0, "xff_first": 1, "xff_last": 2}

_DIGITS = set(string.digits)
_WS = set(" \t\n\v\f\r")
# pattern -> (kind, the characters it can match: None = anything but white space/quote)
KINDS: dict[str, tuple[int, set[str] | None]] = {
    PATTERNS["remote_addr"]: (K_ADDR, _DIGITS | set("abcdefABCDEF:.")),
    r"\S+": (K_NONSPACE, None),
    r"\S*": (K_NONSPACE0, None),
    r'[^"]*': (K_QUOTED, None),
    PATTERNS["time_local"]: (K_TIME_LOCAL, set()),  # fixed width: no delimiter needed
    PATTERNS["msec"]: (K_MSEC, _DIGITS | {"."}),
    PATTERNS["status"]: (K_STATUS, _DIGITS),
    r"\d+": (K_DIGITS, _DIGITS),
    r"\d+|-": (K_DIGITS_DASH, _DIGITS | {"-"}),
    PATTERNS["request_time"]: (K_NUM_DASH, _DIGITS | {".", "-"}),
    r"[p.]": (K_PIPE, {"p", "."}),
}


def available() -> bool:
    """Whether the extension is built and not switched off (RBK_LOGS_ENGINE=polars)."""
    return _scan is not None and os.environ.get("RBK_LOGS_ENGINE", "") != "polars"


def program(fmt: LogFormat) -> list[tuple[int, int, int, bytes]] | None:
    """The scanner's ops for ``fmt``, or None when only the regex can match it exactly."""
    names = set(fmt.variables)
    if "time_iso8601" in names or ("time_local" not in names and "msec" not in names):
        return None
    ops: list[tuple[int, int, int, bytes]] = []
    tokens = fmt.tokens
    for i, tok in enumerate(tokens):
        if tok[0] == "lit":
            ops.append((OP_LIT, 0, 0, tok[1].encode()))
            continue
        if tok[0] == "opt_request_time":
            ops.append((OP_OPT_RT, 0, 0, b""))
            continue
        _, name, pattern, captured = tok
        if pattern not in KINDS:
            return None
        kind, chars = KINDS[pattern]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if kind != K_TIME_LOCAL:
            if following is not None and following[0] != "lit":
                return None  # two variables back to back: only backtracking can split them
            if following is not None and not _stops_at(kind, chars, following[1][0]):
                return None
        slot = SLOTS.get(name, 0) if captured else 0
        if name == "uri" and "request_uri" in names:
            slot = 0  # the regex path prefers $request_uri
        if name == "msec" and "time_local" in names:
            slot = 0
        ops.append((OP_VAR, kind, slot, b""))
    return ops


def _stops_at(kind: int, chars: set[str] | None, delimiter: str) -> bool:
    """Whether a variable of this kind cannot contain the next literal's first character
    (then scanning to that character finds the same end as the regex)."""
    if kind in (K_NONSPACE, K_NONSPACE0):
        return delimiter in _WS
    if kind == K_QUOTED:
        return delimiter == '"'
    return chars is not None and delimiter not in chars


class CompiledAccumulator:
    """Accumulator with the interface ``analyze.results`` reads, fed raw blocks."""

    HORIZON = Accumulator.HORIZON

    def __init__(self, spec: Spec, ops: list, since: float | None = None,
                 until: float | None = None):
        self.spec = spec
        since = spec.since if since is None else since
        until = spec.until if until is None else until
        self.scanner = _scan.Scanner(ops, CLIENT_MODES[spec.client], spec.bucket,
                                     None if since is None else float(since),
                                     None if until is None else float(until), self.HORIZON)
        self.malformed = 0
        self.samples: list[str] = []
        # per block: (file index, offset, size, first ts, last ts), for the second pass
        self.spans: list[tuple[int, int, int, float | None, float | None]] = []
        self._result: dict[str, Any] | None = None

    def parse(self, item: tuple[int, int, bytes]) -> tuple[int, int, int, Any]:
        """Runs on a worker thread (releases the GIL): (file, offset, size, Batch)."""
        index, offset, block = item
        return index, offset, len(block), self.scanner.parse(block)

    def add(self, item: Any) -> None:
        """Fold a parse() result (or plain bytes) into the aggregates."""
        if isinstance(item, bytes | bytearray | memoryview):
            item = self.parse((0, 0, item))
        index, offset, size, block = item
        self.spans.append((index, offset, size, *(block.span or (None, None))))
        deferred = self.scanner.aggregate(block)
        if deferred:
            self._add_parsed_by_regex(deferred)
        self.scanner.fold()
        self._result = None

    def _add_parsed_by_regex(self, data: bytes) -> None:
        rows, bad = parse(read_block(data), self.spec)
        self.malformed += bad.len()
        if len(self.samples) < SAMPLE_LIMIT and bad.len():
            for line in bad.head(SAMPLE_LIMIT - len(self.samples)).to_list():
                self.samples.append(line[:SAMPLE_CHARS])
        add = self.scanner.add_row
        for r in rows.select("ts", "client", "method", "path", "status", "referer",
                             "user_agent", "rt_ms").iter_rows():
            add(*r)

    # -- what results() reads ------------------------------------------------------

    @property
    def result(self) -> dict[str, Any]:
        if self._result is None:
            self._result = self.scanner.result()
        return self._result

    def __getattr__(self, name: str) -> Any:
        if name in ("lines", "blank", "parsed", "late", "first_ts", "last_ts", "deferred"):
            return self.result[name]
        raise AttributeError(name)

    def table(self, name: str) -> pl.DataFrame:
        r = self.result
        if name in ("per_second", "status", "latency"):
            key = {"per_second": "sec", "status": "status", "latency": "rt_ms"}[name]
            keys, n, e5 = r[name]
            frame = pl.DataFrame({key: keys, "n": n, "e5": e5},
                                 schema={key: pl.Int64, "n": pl.Int64, "e5": pl.Int64})
            return frame if name == "per_second" else frame.drop("e5")
        key = {"clients": "client", "paths": "path", "user_agents": "user_agent",
               "referers": "referer"}[name]
        keys, n, ok_get, get = r[name]
        if name == "paths":
            frame = pl.DataFrame({key: keys, "n": n, "ok_get": ok_get, "get": get},
                                 schema={key: pl.String, "n": pl.Int64, "ok_get": pl.Int64,
                                         "get": pl.Int64})
        else:
            frame = pl.DataFrame({key: keys, "n": n}, schema={key: pl.String, "n": pl.Int64})
        # Two byte strings that decode to the same text (invalid UTF-8) are one key.
        if frame.get_column(key).n_unique() != frame.height:
            frame = frame.group_by(key).agg(pl.all().sum())
        return frame

    def p95(self) -> dict[int, int]:
        buckets, p95, _ = self.result["p95"]
        return dict(zip(buckets, p95, strict=True))

    def clients_per_bucket(self) -> dict[int, int]:
        buckets, n, _ = self.result["clients_per_bucket"]
        return dict(zip(buckets, n, strict=True))

    def peaks(self) -> pl.DataFrame:
        clients, peak = self.result["peaks"]
        frame = pl.DataFrame({"client": clients, "peak": peak},
                             schema={"client": pl.String, "peak": pl.Int64})
        return frame.group_by("client").agg(pl.col("peak").max())


    def ranges(self, start: float, end: float) -> dict[int, tuple[int, int]]:
        """file index -> the byte range holding every block with a line in [start, end)
        (or with no parsable line: conservative)."""
        out: dict[int, tuple[int, int]] = {}
        for index, offset, size, lo, hi in self.spans:
            if lo is not None and (hi < start or lo >= end):
                continue
            s0, s1 = out.get(index, (offset, offset + size))
            out[index] = (min(s0, offset), max(s1, offset + size))
        return out


class CompiledWindowCounter:
    """The spike's second pass on the scanner: requests per client and path in [start, end).
    The caller reads only the byte ranges the first pass found for the window."""

    def __init__(self, spec: Spec, ops: list, start: float, end: float):
        self.acc = CompiledAccumulator(spec, ops, since=start, until=end)
        self.parse = self.acc.parse
        self.add = self.acc.add

    def table(self, key: str) -> pl.DataFrame:
        name = "clients" if key == "client" else "paths"
        return self.acc.table(name).select(key, pl.col("n").alias("spike"))
