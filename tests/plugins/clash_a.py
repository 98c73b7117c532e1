from rbk import Action, Plan, hookimpl
from rbk.action import StrictInputs


class A(Action):
    name = "shell"  # clashes with the builtin
    Inputs = StrictInputs

    def check(self, ctx, inputs):
        return Plan(changed=False, summary="")


@hookimpl
def rbk_actions(register):
    register(A)
