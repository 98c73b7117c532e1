"""logs.slow_queries on MySQL and PostgreSQL slow logs with known content."""

from __future__ import annotations

import gzip
import json
import math

from rbk_logs.slow import fingerprint


def run(rbk_runbook, **with_):
    body = json.dumps({"name": "t", "steps": [{"id": "s", "action": "logs.slow_queries",
                                               "with": with_}]})
    outcome = rbk_runbook(body).plan()
    assert outcome.exit_code == 0, outcome.report.message
    return outcome.steps["s"].hosts["localhost"].plan["outputs"]


def test_fingerprints_strip_literals_and_collapse_lists():
    assert fingerprint("SELECT * FROM t WHERE id = 7 AND name = 'bob' -- hi") == \
        fingerprint("select *  from t\nwhere id=8 and name = 'al''ice'") == \
        "select * from t where id = ? and name = ?"
    assert fingerprint("SELECT a FROM t WHERE id IN (1, 2, 3)") == \
        fingerprint("SELECT a FROM t WHERE id IN (4)") == "select a from t where id in (?+)"
    assert fingerprint("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')") == \
        "insert into t (a, b) values (?, ?)+"
    assert fingerprint("SELECT * FROM t2 WHERE c = 0x1F /* x */") == \
        "select * from t2 where c = ?"


def mysql_entry(t: str, epoch: int, qt: float, rows: int, sql: str) -> str:
    return (f"# Time: {t}\n# User@Host: app[app] @ localhost []  Id: 7\n"
            f"# Query_time: {qt:.6f}  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: {rows}\n"
            f"SET timestamp={epoch};\n{sql}\n")


def test_mysql_digest_counts_and_change(rbk_runbook, tmp_path):
    base = 1796292000  # 2026-12-03T10:00:00Z
    entries, expected = [], {}
    for i in range(60):  # baseline: one slow order lookup a minute
        entries.append(mysql_entry(f"2026-12-03T10:{i:02d}:00.000000Z", base + 60 * i, 0.5,
                                   1000, f"SELECT * FROM orders WHERE customer_id = {i};"))
    for i in range(30):  # incident (last 10 min): order lookups x3, plus a report query
        epoch = base + 3600 + 20 * i
        entries.append(mysql_entry("2026-12-03T11:00:00Z", epoch, 0.8, 2000,
                                   f"SELECT * FROM orders WHERE customer_id = {i + 100};"))
        if i % 3 == 0:
            entries.append(mysql_entry("2026-12-03T11:00:00Z", epoch, 3.0, 500000,
                                       f"SELECT sku, SUM(q) FROM lines WHERE day IN ({i}, {i + 1})"
                                       " GROUP BY sku;"))
    expected["orders"] = [0.5] * 60 + [0.8] * 30
    log = tmp_path / "mysql-slow.log"
    log.write_text("/usr/sbin/mysqld, Version: 8.0.36. started with:\n" + "".join(entries))
    out = run(rbk_runbook, path=str(log), engine="mysql", window="10m")
    assert out["queries"] == 100
    first, second = out["top"]
    assert first["fingerprint"] == "select * from orders where customer_id = ?"
    assert first["count"] == 90 and first["total_s"] == 54.0
    durations = sorted(d * 1000 for d in expected["orders"])
    assert first["p95_ms"] == durations[math.ceil(0.95 * 90) - 1]
    assert first["rows_examined"] == 60 * 1000 + 30 * 2000
    assert second["fingerprint"] == "select sku, sum(q) from lines where day in (?+) group by sku"
    assert second["count"] == 10 and second["max_ms"] == 3000
    assert second["baseline"]["count"] == 0 and second["change"] is None
    assert first["incident"]["count"] == 30 and first["change"] > 2


def test_postgres_duration_lines_multiline_and_gzip(rbk_runbook, tmp_path):
    lines = []
    for i in range(20):
        lines.append(f"2026-12-03 10:00:{i:02d}.120 UTC [4242] LOG:  duration: {100 + i}.500 ms"
                     f"  statement: SELECT id FROM users WHERE email = 'u{i}@x.io'")
    lines.append("2026-12-03 10:01:00.000 UTC [4242] LOG:  duration: 2500.000 ms  execute S_1:"
                 " UPDATE carts SET total = 10")
    lines.append("\tWHERE id = 77")
    lines.append("2026-12-03 10:01:01.000 UTC [4242] LOG:  checkpoint starting: time")
    log = tmp_path / "postgresql.log.1.gz"
    log.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = run(rbk_runbook, path=str(log), engine="postgresql")
    assert out["queries"] == 21
    top = {t["fingerprint"]: t for t in out["top"]}
    users = top["select id from users where email = ?"]
    assert users["count"] == 20 and users["max_ms"] == 119.5
    assert users["total_s"] == round(sum(100.5 + i for i in range(20)) / 1000, 3)
    assert "update carts set total = ? where id = ?" in top
    assert out["first_ts"] == "2026-12-03T10:00:00.120Z"
