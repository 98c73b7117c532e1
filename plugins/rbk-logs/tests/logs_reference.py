"""An independent, slow, obviously-correct reference for logs.inspect (plain Python + re)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import datetime

LINE = re.compile(r'^(?P<ip>[0-9A-Fa-f:.]+) \S+ \S+ \[(?P<t>[^\]]+)\] "(?P<req>[^"]*)" '
                  r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<ref>[^"]*)" "(?P<ua>[^"]*)"'
                  r'(?: (?P<rt>\d+(?:\.\d+)?|-))?$')


def nearest_rank(values: list[int], q: float) -> int:
    values = sorted(values)
    return values[max(1, math.ceil(q / 100 * len(values))) - 1]


def reference(lines: list[bytes], bucket: int = 10, since: float | None = None,
              until: float | None = None) -> dict:
    parsed = []
    malformed = 0
    blank = 0
    for raw in lines:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text:
            blank += 1
            continue
        m = LINE.match(text)
        if not m:
            malformed += 1
            continue
        try:
            ts = datetime.strptime(m["t"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        except ValueError:
            malformed += 1
            continue
        if since is not None and ts < since or until is not None and ts >= until:
            continue
        method, _, rest = m["req"].partition(" ")
        path = rest.split(" ")[0].split("?")[0] if re.match(r"^[A-Z]+ ", m["req"]) else None
        rt = None if m["rt"] in (None, "-") else round(float(m["rt"]) * 1000)
        parsed.append({"ts": ts, "ip": m["ip"], "path": path, "status": int(m["status"]),
                       "ua": m["ua"], "ref": m["ref"], "rt": rt})
    per_sec = Counter(int(r["ts"]) for r in parsed)
    buckets = defaultdict(list)
    for r in parsed:
        buckets[int(r["ts"] // bucket * bucket)].append(r)
    rts = [r["rt"] for r in parsed if r["rt"] is not None]
    return {
        "lines": len(lines), "blank": blank, "malformed": malformed, "parsed": len(parsed),
        "status": {str(k): v for k, v in sorted(Counter(r["status"] for r in parsed).items())},
        "clients": Counter(r["ip"] for r in parsed),
        "paths": Counter(r["path"] for r in parsed),
        "user_agents": Counter(r["ua"] for r in parsed),
        "referers": Counter(r["ref"] for r in parsed),
        "peak_rps": max(per_sec.values()) if per_sec else 0,
        "timeline": {t: (len(rs), sum(500 <= r["status"] < 600 for r in rs),
                         nearest_rank([r["rt"] for r in rs if r["rt"] is not None], 95)
                         if any(r["rt"] is not None for r in rs) else None,
                         len({r["ip"] for r in rs}))
                     for t, rs in sorted(buckets.items())},
        "unique_clients": len({r["ip"] for r in parsed}),
        "latency": {f"p{q}": nearest_rank(rts, q) for q in (50, 90, 95, 99)} | {"max": max(rts)}
        if rts else None,
        "client_bucket_peak": {ip: max(Counter(int(r["ts"] // bucket * bucket) for r in parsed
                                               if r["ip"] == ip).values())
                               for ip in {r["ip"] for r in parsed}},
    }
