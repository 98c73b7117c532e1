"""Alerts and their runs in SQLite: dedup state and the work queue survive a restart.

An alert is committed (synchronous=FULL) before the webhook is answered 2xx.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    runbook TEXT NOT NULL,
    status TEXT NOT NULL,              -- firing | resolved
    state TEXT NOT NULL,               -- queued | running | done | failed | recorded
    repeats INTEGER NOT NULL DEFAULT 0,
    resolved REAL,
    mode TEXT NOT NULL DEFAULT 'plan',
    run_id TEXT,
    exit_code INTEGER,
    note TEXT NOT NULL DEFAULT '',
    inputs TEXT NOT NULL DEFAULT '{}',
    alert TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alerts_key ON alerts(runbook, fingerprint, received);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, id);
"""


class AlertStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        # One writer at a time, queued here: SQLite's own busy handler sleeps in steps of
        # up to 100 ms, which showed as the p99 of webhook answers under load.
        self.write_lock = threading.Lock()
        with self.conn() as c:
            c.executescript(SCHEMA)
            # Work that was running when the server stopped is done again.
            c.execute("UPDATE alerts SET state='queued' WHERE state='running'")

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def record(self, entries: list[dict[str, Any]], cooldown: float) -> list[dict[str, Any]]:
        """Persist a delivery in one transaction; returns what happened to each entry."""
        with self.write_lock:
            return self._record(entries, cooldown)

    def _record(self, entries: list[dict[str, Any]], cooldown: float) -> list[dict[str, Any]]:
        now = time.time()
        c = self.conn()
        out = []
        c.execute("BEGIN IMMEDIATE")
        try:
            for e in entries:
                latest = c.execute(
                    "SELECT id, status, received FROM alerts WHERE runbook=? AND fingerprint=? "
                    "ORDER BY id DESC LIMIT 1", (e["runbook"], e["fingerprint"])).fetchone()
                if e["status"] == "resolved":
                    if latest is not None and latest["status"] == "firing":
                        c.execute("UPDATE alerts SET status='resolved', resolved=? WHERE id=?",
                                  (now, latest["id"]))
                        out.append({**e, "result": "resolved", "id": latest["id"]})
                        if e.get("on_resolved"):
                            # Once per resolution: a re-sent "resolved" finds no firing row.
                            name, inputs = e["on_resolved"]
                            cur = c.execute(
                                "INSERT INTO alerts (received, source, fingerprint, runbook, "
                                "status, state, inputs, alert) VALUES (?, ?, ?, ?, 'resolved', "
                                "'queued', ?, ?)", (now, e["source"], e["fingerprint"], name,
                                                    json.dumps(inputs), json.dumps(e["alert"])))
                            out.append({**e, "runbook": name, "result": "queued",
                                        "id": cur.lastrowid})
                    else:
                        out.append({**e, "result": "resolved (not seen firing)", "id": None})
                    continue
                if latest is not None and latest["status"] == "firing" and \
                        now - latest["received"] < cooldown:
                    c.execute("UPDATE alerts SET repeats=repeats+1 WHERE id=?", (latest["id"],))
                    out.append({**e, "result": "repeat", "id": latest["id"]})
                    continue
                cur = c.execute(
                    "INSERT INTO alerts (received, source, fingerprint, runbook, status, state, "
                    "inputs, alert) VALUES (?, ?, ?, ?, 'firing', 'queued', ?, ?)",
                    (now, e["source"], e["fingerprint"], e["runbook"],
                     json.dumps(e["inputs"]), json.dumps(e["alert"])))
                out.append({**e, "result": "queued", "id": cur.lastrowid})
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return out

    def next_queued(self) -> sqlite3.Row | None:
        with self.write_lock:
            c = self.conn()
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT * FROM alerts WHERE state='queued' ORDER BY id LIMIT 1"
                            ).fetchone()
            if row is not None:
                c.execute("UPDATE alerts SET state='running' WHERE id=?", (row["id"],))
            c.execute("COMMIT")
            return row

    def finish(self, alert_id: int, state: str, run_id: str | None, exit_code: int | None,
               mode: str, note: str = "") -> None:
        with self.write_lock:
            self.conn().execute("UPDATE alerts SET state=?, run_id=?, exit_code=?, mode=?, "
                                "note=? WHERE id=?",
                                (state, run_id, exit_code, mode, note, alert_id))

    def applying_since(self, since: float) -> int:
        return self.conn().execute("SELECT COUNT(*) FROM alerts WHERE mode='apply' AND "
                                   "received >= ?", (since,)).fetchone()[0]

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn().execute("SELECT id, received, source, fingerprint, runbook, status, "
                                   "state, repeats, resolved, mode, run_id, exit_code, note "
                                   "FROM alerts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def pending(self) -> int:
        return self.conn().execute("SELECT COUNT(*) FROM alerts WHERE state IN "
                                   "('queued', 'running')").fetchone()[0]
