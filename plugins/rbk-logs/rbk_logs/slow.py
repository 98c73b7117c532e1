"""Slow query logs (MySQL slow log, PostgreSQL ``duration:`` lines) -> query fingerprints.

Fingerprints follow pt-query-digest's idea: comments and literals stripped,
IN-lists and multi-row VALUES collapsed, whitespace and case normalised, so
``SELECT * FROM t WHERE id = 7`` and ``... id = 8`` are one query.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER = re.compile(r"(?<![\w$])[-+]?(?:0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[-+]?\d+)?)\b", re.I)
_IN_LIST = re.compile(r"\bin\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)
_VALUES = re.compile(r"\bvalues\s*\(([^()]*)\)(?:\s*,\s*\([^()]*\))*", re.I)
_SPACE = re.compile(r"\s+")
_OPERATOR = re.compile(r"\s*(<=|>=|<>|!=|=|<|>)\s*")


def fingerprint(sql: str) -> str:
    q = _COMMENT.sub(" ", sql)
    q = _STRING.sub("?", q)
    q = _NUMBER.sub("?", q)
    q = _IN_LIST.sub("in (?+)", q)
    q = _VALUES.sub(lambda m: "values (" + m.group(1) + ")+", q)
    q = _OPERATOR.sub(r" \1 ", q)  # "id=7" and "id = 7" are the same query
    q = _SPACE.sub(" ", q).strip().rstrip(";").strip().lower()
    return q


@dataclass
class Query:
    ts: float | None
    duration_ms: float
    sql: str
    rows_examined: int | None = None
    rows_sent: int | None = None
    lock_ms: float | None = None


# -- MySQL -------------------------------------------------------------------

_MY_TIME = re.compile(r"^# Time: (\S+)(?: (\S+))?")
_MY_STATS = re.compile(r"^# Query_time: ([\d.]+)\s+Lock_time: ([\d.]+)\s+Rows_sent: (\d+)"
                       r"\s+Rows_examined: (\d+)")
_MY_TS = re.compile(r"^SET timestamp=(\d+);$")


def parse_mysql(lines: Iterable[str]) -> Iterator[Query]:
    ts: float | None = None
    stats: tuple[float, float, int, int] | None = None
    sql: list[str] = []

    def flush() -> Iterator[Query]:
        if stats is not None and sql:
            text = "\n".join(sql).strip()
            if text and not re.match(r"^(use \S+;|# administrator command)", text, re.I):
                yield Query(ts, stats[0] * 1000, text, stats[3], stats[2], stats[1] * 1000)

    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("# Time:"):
            yield from flush()
            stats, sql = None, []
            m = _MY_TIME.match(line)
            ts = _mysql_time(m.group(1), m.group(2)) if m else ts
        elif line.startswith("# Query_time:"):
            yield from flush()
            sql = []
            m = _MY_STATS.match(line)
            stats = (float(m[1]), float(m[2]), int(m[3]), int(m[4])) if m else None
        elif line.startswith("# "):
            continue
        elif stats is not None:
            m = _MY_TS.match(line)
            if m:
                ts = float(m[1])
            elif not line.lower().startswith("use ") or sql:
                sql.append(line)
    yield from flush()


def _mysql_time(a: str, b: str | None) -> float | None:
    text = f"{a} {b}" if b else a
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%y%m%d %H:%M:%S"):
        try:
            t = dt.datetime.strptime(text.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
        return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()
    return None


# -- PostgreSQL ----------------------------------------------------------------

_PG = re.compile(r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: (?P<tz>[A-Z]{2,5}|[+-]\d{2}))?"
                 r".*?\bduration: (?P<ms>[\d.]+) ms\s+(?:statement|execute [^:]*|parse [^:]*|"
                 r"bind [^:]*): (?P<sql>.*)$")
_PG_CONT = re.compile(r"^\s")


def parse_postgres(lines: Iterable[str]) -> Iterator[Query]:
    current: Query | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        m = _PG.match(line)
        if m:
            if current:
                yield current
            ts = _pg_time(m["ts"], m["tz"])
            current = Query(ts, float(m["ms"]), m["sql"])
        elif current and _PG_CONT.match(line) and line.strip():
            current.sql += "\n" + line.strip()  # multi-line statement continues
        else:
            if current:
                yield current
            current = None
    if current:
        yield current


def _pg_time(text: str, tz: str | None) -> float:
    t = dt.datetime.fromisoformat(text)
    if tz and tz[0] in "+-":
        t = t.replace(tzinfo=dt.timezone(dt.timedelta(hours=int(tz))))
    else:
        t = t.replace(tzinfo=dt.UTC)  # UTC/GMT, or a zone name we treat as UTC
    return t.timestamp()


# -- digest ------------------------------------------------------------------


@dataclass
class Digest:
    fingerprint: str
    example: str
    durations: list[float] = field(default_factory=list)
    rows_examined: int = 0
    incident: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)


def digest(queries: Iterable[Query], incident_since: float | None, top: int,
           first_last: list[float | None]) -> tuple[int, list[dict]]:
    groups: dict[str, Digest] = {}
    count = 0
    for q in queries:
        count += 1
        if q.ts is not None:
            first_last[0] = q.ts if first_last[0] is None else min(first_last[0], q.ts)
            first_last[1] = q.ts if first_last[1] is None else max(first_last[1], q.ts)
        fp = fingerprint(q.sql)
        d = groups.get(fp)
        if d is None:
            d = groups[fp] = Digest(fp, q.sql[:500])
        d.durations.append(q.duration_ms)
        d.rows_examined += q.rows_examined or 0
        if incident_since is not None and q.ts is not None:
            (d.incident if q.ts >= incident_since else d.baseline).append(q.duration_ms)
    ranked = sorted(groups.values(), key=lambda d: (-sum(d.durations), d.fingerprint))[:top]
    return count, [_row(d, incident_since, first_last) for d in ranked]


def _row(d: Digest, incident_since: float | None, first_last: list[float | None]) -> dict:
    ds = sorted(d.durations)
    p95 = ds[max(1, math.ceil(0.95 * len(ds))) - 1]
    row = {"fingerprint": d.fingerprint, "example": d.example, "count": len(ds),
           "total_s": round(sum(ds) / 1000, 3), "mean_ms": round(sum(ds) / len(ds), 3),
           "p95_ms": round(p95, 3), "max_ms": round(ds[-1], 3), "rows_examined": d.rows_examined}
    if incident_since is not None and first_last[0] is not None and first_last[1] is not None:
        base_span = max(incident_since - first_last[0], 1.0)
        inc_span = max(first_last[1] - incident_since, 1.0)
        base_rate = sum(d.baseline) / 1000 / base_span * 60
        inc_rate = sum(d.incident) / 1000 / inc_span * 60
        row["baseline"] = {"count": len(d.baseline), "total_s": round(sum(d.baseline) / 1000, 3),
                           "db_seconds_per_min": round(base_rate, 3)}
        row["incident"] = {"count": len(d.incident), "total_s": round(sum(d.incident) / 1000, 3),
                           "db_seconds_per_min": round(inc_rate, 3)}
        row["change"] = round(inc_rate / base_rate, 2) if base_rate else None
    return row
