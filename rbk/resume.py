"""``rbk resume``: finish a run whose process died (crash, kill -9, lost terminal).

The journal is written before every action acts, so it says exactly which steps
took effect on which hosts and what their rollback needs (``Result.data``).
Resuming either rolls those changes back, newest first, or continues: the same
runbook with the same inputs in a new run, where steps that already took effect
plan no change. Either way the old run is marked resumed, and only once: the
resuming process holds the old journal's lock, as the running process did.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rbk.action import Result
from rbk.engine import RunOptions, RunOutcome, _Applied, _Run, load_events
from rbk.errors import ExitCode, StateError
from rbk.plugins import Registry
from rbk.runs.state import state_dir as default_state_dir
from rbk.runs.store import RunStore

RESUMABLE = ("running", "interrupted", "failed", "rollback_failed")
MASKED = "********"


@dataclass
class Change:
    """A step that took effect on a host and was not rolled back."""

    step: str
    host: str
    result: dict[str, Any]


@dataclass
class Interrupted:
    """An applying run that did not finish cleanly, and what it left changed."""

    run_id: str
    status: str
    runbook_path: Path
    inputs: dict[str, Any]
    changes: list[Change]
    outputs: dict[str, Any]
    journal: Path


def inspect_run(run_id: str, state: Path | None = None) -> Interrupted:
    """What resuming ``run_id`` would deal with; StateError when there is nothing to."""
    row, events = load_events(run_id, state)
    if row.mode != "apply":
        raise StateError(f"run {row.id} was a dry run: it changed nothing, nothing to resume")
    resumed = [e for e in events if e.get("event") == "resumed"]
    if resumed:
        raise StateError(f"run {row.id} was already resumed by run {resumed[-1].get('by')}")
    if row.status not in RESUMABLE:
        raise StateError(f"run {row.id} finished ({row.status}); nothing to resume")
    info = events[0].get("run", {}) if events else {}
    changes: list[Change] = []
    outputs: dict[str, Any] = {}
    for e in events:
        kind = e.get("event")
        if kind == "step_applied":
            changes.append(Change(e["step"], e["host"], e.get("result") or {}))
            outputs.setdefault(e["step"], {"hosts": {}})["hosts"][e["host"]] = (
                (e.get("result") or {}).get("outputs") or {})
        elif kind in ("step_rolled_back", "step_not_rolled_back"):
            for i in range(len(changes) - 1, -1, -1):
                if (changes[i].step, changes[i].host) == (e.get("step"), e.get("host")):
                    del changes[i]
                    break
    changes = [c for c in changes if c.result.get("changed", True)]
    path = Path(info.get("runbook", {}).get("path", ""))
    return Interrupted(row.id, row.status, path, dict(info.get("inputs") or {}), changes,
                       outputs, Path(row.journal))


class _Lock:
    """The old run's journal lock: proof its process is gone, held while resuming."""

    def __init__(self, run: Interrupted):
        self.fh = open(run.journal, "a", encoding="utf-8")  # noqa: SIM115 - closed in release
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise StateError(f"run {run.run_id} is still running (its process holds the "
                             f"journal) or being resumed; wait for it or stop it first") from None

    def append(self, record: dict[str, Any]) -> None:
        self.fh.write(json.dumps(record, sort_keys=True) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def release(self) -> None:
        self.fh.close()


def resume(run_id: str, registry: Registry, options: RunOptions, how: str) -> RunOutcome:
    """``how``: "rollback" or "continue". Returns the new run's outcome."""
    from rbk.validate import load_and_validate

    state = options.state_dir or default_state_dir()
    lock = _Lock(inspect_run(run_id, state))
    try:
        # Again under the lock: a resume that finished meanwhile has marked the journal.
        run = inspect_run(run_id, state)
        if not run.runbook_path.is_file():
            raise StateError(f"the runbook of run {run.run_id}, {run.runbook_path}, is gone; "
                             f"restore it (or run from the directory it was started in)")
        loaded = load_and_validate(run.runbook_path, registry)
        recorded = {k: v for k, v in run.inputs.items() if v != MASKED}
        opts = RunOptions(**{**options.__dict__, "dry_run": False,
                             "inputs": {**recorded, **options.inputs},
                             "trigger": f"resume:{run.run_id}"})
        cls = _Continue if how == "continue" else _RollBack
        outcome = cls(loaded, registry, opts, run).execute()
        lock.append({"event": "resumed", "ts": time.time(), "by": outcome.run_id, "how": how})
        RunStore(state).set_status(run.run_id, f"resumed:{how}",
                                   f"resumed by run {outcome.run_id}")
        return outcome
    finally:
        lock.release()


class _Resumed(_Run):
    """A run that takes over what an interrupted run changed."""

    def __init__(self, loaded: Any, registry: Registry, options: RunOptions, old: Interrupted):
        super().__init__(loaded, registry, options)
        self.old = old

    def take_over(self) -> None:
        """The old run's changes become this run's to roll back, in the order made."""
        self.outputs = dict(self.old.outputs)
        steps = {s.id: s for s in self.rb.steps}
        for change in self.old.changes:
            step = steps.get(change.step)
            if step is None:
                raise StateError(f"run {self.old.run_id} changed step '{change.step}', which "
                                 f"the runbook no longer has: roll it back by hand")
            action = self.registry.actions[step.action]()
            host = self.host(change.host)
            ctx = self.context(step, host, self.variables())
            r = change.result
            result = Result(outputs=r.get("outputs") or {}, changed=r.get("changed", True),
                            summary=r.get("summary", ""), data=r.get("data") or {})
            self.applied.append(_Applied(step, action, host, ctx, result))


class _Continue(_Resumed):
    """The runbook again, same inputs; if it fails, the old run's changes go back too."""

    def body(self) -> tuple[str, ExitCode, str]:
        self.take_over()
        self.outputs = {}  # every step plans afresh (what took effect plans no change)
        return super().body()


class _RollBack(_Resumed):
    """Undo what an interrupted run changed, newest first."""

    def body(self) -> tuple[str, ExitCode, str]:
        self.take_over()
        if not self.applied:
            return "nothing_to_undo", ExitCode.OK, f"run {self.old.run_id} left nothing changed"
        count = len(self.applied)
        if self.rollback(f"resuming run {self.old.run_id}"):
            return "undone", ExitCode.OK, (f"rolled back {count} change(s) of run "
                                           f"{self.old.run_id}")
        return "rollback_failed", ExitCode.ROLLBACK_FAILED, (
            f"ROLLBACK INCOMPLETE for run {self.old.run_id} — a human must check "
            f"(see 'rbk report {self.run_id}')")
