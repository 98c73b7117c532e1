"""The report model, built from a run's journal (live or from history alike).

The json renderer serialises exactly :meth:`Report.to_dict`; its schema is
versioned (``rbk.report/v1``) and documented in docs/report-json.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "rbk.report/v1"

ROLLBACK_WORD = {"full": "can be rolled back", "partial": "can be rolled back in part",
                 "none": "cannot be rolled back", "not-needed": "nothing to roll back",
                 "override": "custom rollback"}


@dataclass
class HostEntry:
    host: str
    plan: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    status: str = "pending"
    error: str | None = None
    rollback: str | None = None  # rolled_back / not_rolled_back: reason / failed: error


@dataclass
class StepEntry:
    id: str
    action: str
    name: str
    mutating: bool
    approve: bool
    rollback_support: str
    budgeted: bool = True
    status: str = "not_run"
    reason: str = ""
    error: str | None = None
    hosts: dict[str, HostEntry] = field(default_factory=dict)
    approval: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    #: hosts that failed within max_fail_percentage (the step went on without them)
    failed_hosts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any((h.plan or {}).get("changed") for h in self.hosts.values())

    def host_groups(self) -> list[tuple[list[str], HostEntry]]:
        """Hosts whose plan, result and outcome read the same, grouped (50 hosts saying the
        same thing are one entry), in first-seen order."""
        groups: dict[Any, tuple[list[str], HostEntry]] = {}
        for name, h in sorted(self.hosts.items(), key=lambda kv: _natural(kv[0])):
            plan, result = h.plan or {}, h.result or {}
            key = (plan.get("summary"), plan.get("diff"), tuple(plan.get("commands") or []),
                   repr(plan.get("api_calls")), result.get("summary"), h.status, h.error,
                   h.rollback, repr(plan.get("tables")), repr(plan.get("charts")))
            groups.setdefault(key, ([], h))[0].append(name)
        return list(groups.values())

    @property
    def rollback_label(self) -> str | None:
        """"read-only", or for a change how far it can be undone; None when nothing changes."""
        if not self.mutating:
            return "read-only"
        if not self.changed:
            return None
        planned = {(h.plan or {}).get("rollback") for h in self.hosts.values() if h.plan}
        planned.discard(None)
        support = planned.pop() if len(planned) == 1 else self.rollback_support
        return ROLLBACK_WORD.get(support, support)

    @property
    def fidelity(self) -> str | None:
        order = {"exact": 0, "estimated": 1, "unknown": 2}
        found = [(h.plan or {}).get("fidelity") for h in self.hosts.values() if h.plan]
        return max(found, key=lambda f: order.get(f, 0)) if found else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "action": self.action, "name": self.name, "status": self.status,
            "mutating": self.mutating, "changed": self.changed, "fidelity": self.fidelity,
            "rollback_support": self.rollback_support, "approve": self.approve,
            "budgeted": self.budgeted,
            "reason": self.reason, "error": self.error, "approval": self.approval,
            "logs": self.logs, "failed_hosts": self.failed_hosts,
            "hosts": {n: {"plan": h.plan, "result": h.result, "status": h.status,
                          "error": h.error, "rollback": h.rollback}
                      for n, h in self.hosts.items()},
        }


@dataclass
class Report:
    run_id: str
    mode: str
    runbook: dict[str, Any]
    inputs: dict[str, Any]
    trigger: str
    started: float
    finished: float | None
    status: str
    exit_code: int | None
    message: str
    steps: list[StepEntry]
    rollback: dict[str, Any] | None = None

    @property
    def is_plan(self) -> bool:
        return self.mode == "plan"

    @property
    def changing_steps(self) -> list[StepEntry]:
        """Steps that would change (or changed) the system; notifications and waits excluded."""
        return [s for s in self.steps if s.changed and s.budgeted]

    @property
    def headline(self) -> str:
        if self.is_plan:
            if self.status == "planned":
                n = len(self.changing_steps)
                return f"PLAN — NOTHING CHANGED ({n} step(s) would change the system)"
            return "PLAN — NOTHING CHANGED (the plan failed; see below)"
        if self.status == "succeeded" and not self.changing_steps:
            return "DONE — NOTHING NEEDED CHANGING"
        return {"succeeded": "APPLIED", "rolled_back": "FAILED — CHANGES ROLLED BACK",
                "rollback_failed": "FAILED — ROLLBACK INCOMPLETE, HUMAN NEEDED",
                "interrupted": "INTERRUPTED", "failed": "FAILED",
                "stopped": "STOPPED", "running": "RUNNING (or crashed)",
                "undone": "UNDONE — THE INTERRUPTED RUN'S CHANGES WERE ROLLED BACK",
                "nothing_to_undo": "DONE — THE INTERRUPTED RUN LEFT NOTHING CHANGED"}.get(
                    self.status, self.status.upper())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "run_id": self.run_id, "mode": self.mode,
            "headline": self.headline, "status": self.status, "exit_code": self.exit_code,
            "message": self.message, "runbook": self.runbook, "inputs": self.inputs,
            "trigger": self.trigger, "started": self.started, "finished": self.finished,
            "rollback": self.rollback, "changes": [s.id for s in self.changing_steps],
            "steps": [s.to_dict() for s in self.steps],
        }


def _natural(name: str) -> list[Any]:
    """web-2 before web-10 (hosts finish in any order; reports list them stably)."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def build_report(events: list[dict[str, Any]]) -> Report:
    start = next((e for e in events if e.get("event") == "run_started"), None)
    if start is None:
        raise ValueError("journal has no run_started event")
    run = start["run"]
    steps = {s["id"]: StepEntry(id=s["id"], action=s["action"], name=s.get("name", ""),
                                mutating=s.get("mutating", True), approve=s.get("approve", False),
                                                rollback_support=s.get("rollback_support", "none"),
                                budgeted=s.get("budgeted", True))
             for s in run["steps"]}
    report = Report(run_id=run["id"], mode=run["mode"], runbook=run["runbook"],
                    inputs=run.get("inputs", {}), trigger=run.get("trigger", ""),
                    started=start["ts"], finished=None, status="running", exit_code=None,
                    message="", steps=list(steps.values()))

    def host(e: dict[str, Any]) -> HostEntry | None:
        step = steps.get(e.get("step", ""))
        name = e.get("host")
        if step is None or name is None:
            return None
        return step.hosts.setdefault(name, HostEntry(host=name))

    for e in events:
        kind = e.get("event")
        step = steps.get(e.get("step", ""))
        if kind == "step_skipped" and step:
            step.status, step.reason = "skipped", e.get("reason", "")
        elif kind == "step_planned" and step:
            h = host(e)
            h.plan, h.status = e["plan"], "planned"
            changed = step.changed
            step.status = ("would_change" if changed else "no_change") if report.is_plan else (
                "planned" if changed else "no_change")
        elif kind == "step_applying" and step:
            host(e).status = "applying"
            step.status = "applying"
        elif kind == "step_applied" and step:
            h = host(e)
            h.result, h.status = e["result"], "applied"
            step.status = "applied"
        elif kind == "step_failed" and step:
            step.status, step.error = "failed", e.get("error")
            h = host(e)
            if h:
                h.status, h.error = "failed", e.get("error")
        elif kind == "host_failed" and step:
            h = host(e)
            h.status, h.error = "failed", e.get("error")
            step.failed_hosts.append(h.host)
        elif kind == "approval" and step:
            step.approval = {k: e.get(k) for k in ("granted", "by", "question")}
        elif kind == "log" and step:
            step.logs.append(f"{e.get('host')}: {e.get('message')}")
        elif kind in ("step_rolled_back", "step_not_rolled_back", "step_rollback_failed") and step:
            h = host(e)
            label = {"step_rolled_back": "rolled back",
                     "step_not_rolled_back": f"not rolled back: {e.get('reason')}",
                     "step_rollback_failed": f"ROLLBACK FAILED: {e.get('error')}"}[kind]
            if h:
                h.rollback = label
            if kind == "step_rolled_back" and step.status in ("applied", "not_run"):
                step.status = "rolled_back"  # not_run: applied by the run being resumed
            elif kind != "step_rolled_back":
                step.status = "rollback_failed" if kind == "step_rollback_failed" else "not_rolled_back"
        elif kind == "rollback_started":
            report.rollback = {"reason": e.get("reason"), "complete": None}
        elif kind == "rollback_finished" and report.rollback is not None:
            report.rollback["complete"] = e.get("complete")
        elif kind == "run_finished":
            report.status, report.exit_code = e["status"], e["exit_code"]
            report.message, report.finished = e.get("message", ""), e["ts"]
    return report
