"""``wait``: pause, e.g. to let caches warm or traffic settle before checking."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from rbk.action import Action, ActionContext, Plan, Result, StrictInputs
from rbk.durations import format_duration, parse_duration
from rbk.hookspecs import hookimpl


class WaitInputs(StrictInputs):
    duration: float = Field(description="Seconds, or 30s / 2m.")

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)


class Wait(Action):
    name = "wait"
    description = "Pause for a while (not in dry runs)."
    Inputs = WaitInputs
    budgeted = False
    rollback_support = "not-needed"

    def check(self, ctx: ActionContext, inputs: WaitInputs) -> Plan:
        return Plan(changed=inputs.duration > 0,
                    summary=f"would wait {format_duration(inputs.duration)}",
                    data={"duration": inputs.duration})

    def apply(self, ctx: ActionContext, plan: Plan) -> Result:
        ctx.cancelled.wait(plan.data["duration"])
        return Result(changed=False, summary=f"waited {format_duration(plan.data['duration'])}")


@hookimpl
def rbk_actions(register):
    register(Wait)
