"""Append-only JSON-lines journal: one file per run, written *before* each action acts.

Every event is redacted before it is written, so nothing derived from the
journal (reports, ``rbk runs``) can show a secret.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from rbk.errors import StateError
from rbk.redact import Redactor

SCHEMA = "rbk.journal/v1"


class Journal:
    def __init__(self, path: Path, redactor: Redactor):
        self.path = path
        self.redact = redactor
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the run
        # Held while the run lives (the kernel drops it when the process dies): how
        # `rbk resume` tells a crashed run from a running one.
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = self.redact({"event": event, "ts": time.time(), **fields})
        self._fh.write(json.dumps(record, default=str, sort_keys=True) + "\n")
        self._fh.flush()
        # fsync so that a crash (or kill -9) right after leaves the record on disk.
        os.fsync(self._fh.fileno())
        return record

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    # A crash mid-write leaves a partial last line; earlier events stand.
                    if fh.readline():
                        raise StateError(f"{path}:{n}: corrupt journal line") from None
    except FileNotFoundError:
        raise StateError(f"no journal at {path}") from None
    return events
