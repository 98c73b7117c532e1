"""Run history in SQLite (one row per run; the journal holds the details)."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from rbk.errors import StateError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    runbook TEXT NOT NULL,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    finished REAL,
    exit_code INTEGER,
    summary TEXT NOT NULL DEFAULT '',
    journal TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started);
"""


@dataclass
class RunRow:
    id: str
    runbook: str
    mode: str
    status: str
    trigger: str
    started: float
    finished: float | None
    exit_code: int | None
    summary: str
    journal: str


class RunStore:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.path = state_dir / "runs.db"
        state_dir.mkdir(parents=True, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        return conn

    def journal_path(self, run_id: str) -> Path:
        return self.state_dir / "runs" / f"{run_id}.jsonl"

    def start(self, run_id: str, runbook: str, mode: str, trigger: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("INSERT INTO runs (id, runbook, mode, status, trigger, started, journal)"
                         " VALUES (?, ?, ?, 'running', ?, ?, ?)",
                         (run_id, runbook, mode, trigger, time.time(),
                          str(self.journal_path(run_id))))

    def finish(self, run_id: str, status: str, exit_code: int, summary: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("UPDATE runs SET status=?, exit_code=?, summary=?, finished=? WHERE id=?",
                         (status, exit_code, summary, time.time(), run_id))

    def set_status(self, run_id: str, status: str, summary: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("UPDATE runs SET status=?, summary=? WHERE id=?",
                         (status, summary, run_id))

    def list(self, limit: int = 50) -> list[RunRow]:
        if not self.path.exists():
            return []
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT id, runbook, mode, status, trigger, started, finished, "
                                "exit_code, summary, journal FROM runs ORDER BY started DESC "
                                "LIMIT ?", (limit,)).fetchall()
        return [RunRow(*r) for r in rows]

    def get(self, run_id: str) -> RunRow:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT id, runbook, mode, status, trigger, started, finished, "
                                "exit_code, summary, journal FROM runs WHERE id = ? OR id LIKE ? "
                                "ORDER BY started DESC", (run_id, run_id + "%")).fetchall()
        if not rows:
            raise StateError(f"no run '{run_id}' in {self.path}; see 'rbk runs'")
        if len(rows) > 1 and rows[0][0] != run_id:
            raise StateError(f"run id prefix '{run_id}' is ambiguous: "
                             f"{', '.join(r[0] for r in rows[:5])}")
        return RunRow(*rows[0])
