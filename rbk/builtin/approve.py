"""``approve``: an explicit human gate between steps."""

from __future__ import annotations

from pydantic import Field

from rbk.action import Action, ActionContext, Plan, Result, StrictInputs
from rbk.errors import ApprovalDenied
from rbk.hookspecs import hookimpl


class ApproveInputs(StrictInputs):
    message: str = Field("Continue?", description="The question shown to the human.")


class Approve(Action):
    name = "approve"
    description = "Stop and ask a human before going on (prompt on a TTY, or --yes)."
    Inputs = ApproveInputs
    budgeted = False
    rollback_support = "not-needed"

    def check(self, ctx: ActionContext, inputs: ApproveInputs) -> Plan:
        return Plan(changed=True, summary=f"would ask: {inputs.message}",
                    data={"message": inputs.message}, outputs={"approved": ctx.dry_run})

    def apply(self, ctx: ActionContext, plan: Plan) -> Result:
        if not ctx.confirm(plan.data["message"]):
            raise ApprovalDenied(f"not approved: {plan.data['message']}")
        return Result(outputs={"approved": True}, changed=False, summary="approved")


@hookimpl
def rbk_actions(register):
    register(Approve)
