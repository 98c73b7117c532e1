"""``assert``: stop the run unless conditions over inputs and earlier outputs hold."""

from __future__ import annotations

from pydantic import Field

from rbk.action import Action, ActionContext, Plan, StrictInputs
from rbk.errors import StepFailed
from rbk.hookspecs import hookimpl


class AssertInputs(StrictInputs):
    that: str | list[str] = Field(description="Expression(s) that must all be true.")
    message: str | None = Field(None, description="Shown when an expression is false.")


class Assert(Action):
    name = "assert"
    description = "Fail the step unless every expression holds."
    Inputs = AssertInputs
    mutating = False
    rollback_support = "not-needed"

    def check(self, ctx: ActionContext, inputs: AssertInputs) -> Plan:
        exprs = [inputs.that] if isinstance(inputs.that, str) else inputs.that
        for expr in exprs:
            if not ctx.evaluate(expr, None):
                raise StepFailed(inputs.message or f"assertion failed: {expr}")
        return Plan(changed=False, summary=f"{len(exprs)} assertion(s) hold",
                    outputs={"passed": True})


@hookimpl
def rbk_actions(register):
    register(Assert)
