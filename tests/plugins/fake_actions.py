"""Test-only actions, loaded with RBK_PLUGINS=fake_actions (like a third-party plugin)."""

from __future__ import annotations

import time
from pathlib import Path

from rbk import Action, Fidelity, Plan, Result, StepFailed, hookimpl
from rbk.action import StrictInputs


class PathInputs(StrictInputs):
    path: str
    value: str = "on"


class SetFlag(Action):
    """Writes ``value`` into ``path``; rollback restores the old content."""

    name = "test.set_flag"
    description = "write a flag file"
    Inputs = PathInputs
    rollback_support = "full"

    def check(self, ctx, inputs):
        p = ctx.path(inputs.path)
        old = p.read_text() if p.exists() else None
        return Plan(changed=old != inputs.value, summary=f"set {p} to {inputs.value}",
                    data={"path": str(p), "old": old, "value": inputs.value},
                    outputs={"value": inputs.value})

    def apply(self, ctx, plan):
        Path(plan.data["path"]).write_text(plan.data["value"])
        return Result(outputs={"value": plan.data["value"]}, data=plan.data)

    def rollback(self, ctx, result):
        p = Path(result.data["path"])
        if result.data["old"] is None:
            p.unlink()
        else:
            p.write_text(result.data["old"])


class FlakyInputs(StrictInputs):
    counter: str
    fail_times: int = 1


class Flaky(Action):
    """Fails its first ``fail_times`` applies (counted in a file)."""

    name = "test.flaky"
    Inputs = FlakyInputs
    rollback_support = "not-needed"

    def check(self, ctx, inputs):
        return Plan(changed=True, summary="flaky", data=inputs.model_dump())

    def apply(self, ctx, plan):
        p = Path(plan.data["counter"])
        n = int(p.read_text()) if p.exists() else 0
        p.write_text(str(n + 1))
        if n < plan.data["fail_times"]:
            raise StepFailed(f"flaky failure {n + 1}")
        return Result(outputs={"attempts": n + 1})


class Interrupt(Action):
    name = "test.interrupt"
    Inputs = StrictInputs

    def check(self, ctx, inputs):
        return Plan(changed=True, summary="will be interrupted")

    def apply(self, ctx, plan):
        raise KeyboardInterrupt


class SleepInputs(StrictInputs):
    seconds: float


class Sleep(Action):
    name = "test.sleep"
    Inputs = SleepInputs
    rollback_support = "not-needed"

    def check(self, ctx, inputs):
        return Plan(changed=True, summary="sleep", data={"s": inputs.seconds})

    def apply(self, ctx, plan):
        time.sleep(plan.data["s"])
        return Result()


class NoPlan(Action):
    name = "test.noplan"
    Inputs = StrictInputs

    def check(self, ctx, inputs):
        return None


class Unknown(Action):
    name = "test.unknown_fidelity"
    Inputs = StrictInputs

    def check(self, ctx, inputs):
        return Plan(changed=True, summary="?", fidelity=Fidelity.UNKNOWN)


class LimitConn(Action):
    name = "fake.limit_conn"
    Inputs = StrictInputs

    def check(self, ctx, inputs):
        return Plan(changed=False, summary="noop")


class Findings(Action):
    """Read-only action reporting a chart and a table."""

    name = "test.findings"
    Inputs = StrictInputs
    mutating = False

    def check(self, ctx, inputs):
        return Plan(changed=False, summary="3 buckets",
                    charts=[{"title": "req", "unit": "/s",
                             "points": [["10:00", 1], ["10:01", 5], ["10:02", 9]]}],
                    tables=[{"title": "Top <clients>", "columns": ["client", "n"],
                             "rows": [["10.0.0.1", 9], ["a|b", 1]]}])


@hookimpl
def rbk_actions(register):
    for cls in (SetFlag, Flaky, Interrupt, Sleep, NoPlan, Unknown, LimitConn, Findings):
        register(cls)
