"""Helpers for testing runbooks and plugins, usable without pytest.

    outcome = RunbookHarness("runbooks/x.yaml", state_dir=tmp).plan(n=3)
    outcome.assert_changes(step="config")
    outcome.assert_no_changes()
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rbk.engine import RunOptions, RunOutcome, run_runbook
from rbk.plugins import get_registry
from rbk.report.model import Report, StepEntry
from rbk.validate import load_and_validate


@dataclass
class Outcome:
    """A finished run with assertions that print the report on failure."""

    run: RunOutcome
    report: Report

    @property
    def exit_code(self) -> int:
        return int(self.run.exit_code)

    @property
    def steps(self) -> dict[str, StepEntry]:
        return {s.id: s for s in self.report.steps}

    def assert_ok(self) -> Outcome:
        assert self.exit_code == 0, f"run failed: {self.report.message}"
        return self

    def assert_changes(self, step: str) -> Outcome:
        assert self.steps[step].changed, f"step {step} plans no change: {self.steps[step].status}"
        return self

    def assert_no_changes(self) -> Outcome:
        changing = [s.id for s in self.report.changing_steps]
        assert not changing, f"steps would change: {changing}"
        return self


class RunbookHarness:
    def __init__(self, path_or_text: str | Path, state_dir: Path, workdir: Path | None = None,
                 inventory: str | Path | None = None):
        from rbk.hosts.inventory import load_inventory

        self.inventory = load_inventory(inventory) if inventory else None
        path = Path(path_or_text)
        if not path.is_file():
            workdir = workdir or state_dir
            path = workdir / "runbook.yaml"
            path.write_text(str(path_or_text), encoding="utf-8")
        self.loaded = load_and_validate(path, get_registry())
        self.state_dir = state_dir

    def _run(self, dry_run: bool, inputs: dict[str, Any], yes: bool) -> Outcome:
        options = RunOptions(dry_run=dry_run, inputs=inputs, state_dir=self.state_dir,
                             approver=(lambda q: True) if yes else None,
                             inventory=self.inventory)
        outcome = run_runbook(self.loaded, get_registry(), options)
        return Outcome(outcome, outcome.report())

    def plan(self, **inputs: Any) -> Outcome:
        return self._run(True, inputs, False)

    def apply(self, yes: bool = True, **inputs: Any) -> Outcome:
        return self._run(False, inputs, yes)


def port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on address:port."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
