"""Approving a planned run: apply the same runbook with the same inputs, if the plan holds.

State may have moved since the dry run. The approval re-plans first; only if the
new plan is the same as the approved one does it apply — otherwise it returns
the new plan's run id, to be reviewed and approved in its turn.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rbk.errors import UsageError

_RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def fingerprint(events: list[dict[str, Any]]) -> list[Any]:
    """What a plan would change, without run ids and timestamps."""
    out = []
    for e in events:
        if e.get("event") == "step_planned":
            plan = e["plan"]
            out.append((e["step"], e["host"], plan["changed"],
                        _RUN_ID.sub("<run>", plan.get("diff") or ""), plan.get("commands"),
                        _RUN_ID.sub("<run>", repr(plan.get("api_calls")))))
        elif e.get("event") == "step_skipped":
            out.append((e["step"], "skipped"))
    return out


def approve_run(run_id: str, registry: Any, state_dir: Path | None = None,
                inventory: str | None = None) -> dict[str, Any]:
    from rbk.engine import RunOptions, load_events, run_runbook
    from rbk.hosts.inventory import load_inventory
    from rbk.validate import load_and_validate

    row, events = load_events(run_id, state_dir)
    start = events[0]["run"]
    if start["mode"] != "plan":
        raise UsageError(f"run {row.id} applied already; approve a planned (dry) run")
    loaded = load_and_validate(start["runbook"]["path"], registry)
    secret = [k for k, spec in loaded.runbook.inputs.items() if spec.secret]
    inputs = {k: v for k, v in start["inputs"].items() if k not in secret and v is not None}
    inv = load_inventory(inventory) if inventory else None
    trigger = f"approved:{row.id}"
    replan = run_runbook(loaded, registry, RunOptions(
        dry_run=True, inputs=inputs, inventory=inv, trigger=trigger, state_dir=state_dir))
    if fingerprint(replan.events) != fingerprint(events):
        return {"applied": False, "approved_run": row.id, "new_plan": replan.run_id,
                "message": f"the state moved since run {row.id} was planned: review the new "
                           f"plan (rbk report {replan.run_id}) and approve that one"}
    applied = run_runbook(loaded, registry, RunOptions(
        dry_run=False, inputs=inputs, inventory=inv, trigger=trigger, state_dir=state_dir,
        approver=lambda question: True))
    return {"applied": True, "approved_run": row.id, "run_id": applied.run_id,
            "exit_code": int(applied.exit_code), "status": applied.status,
            "message": f"applied as run {applied.run_id}: {applied.status}"}
