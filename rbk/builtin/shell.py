"""``shell``: run a command locally or on inventory hosts."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from rbk.action import Action, ActionContext, Fidelity, Plan, Result, StrictInputs
from rbk.durations import parse_size
from rbk.errors import CommandFailed
from rbk.hookspecs import hookimpl
from rbk.hosts.base import display


class ShellInputs(StrictInputs):
    cmd: list[str] | str = Field(description=(
        "An argv list (no shell), or a string run by /bin/sh -c in which every "
        "{{ value }} is shell-quoted (opt out with | unquoted)."))
    chdir: str | None = Field(None, description="Working directory.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    stdin: str | None = Field(None, description="Text fed to the command's standard input.")
    readonly: bool = Field(False, description=(
        "The command changes nothing: run it in dry runs too, so the plan shows real output."))
    creates: str | None = Field(None, description="Skip (no change) if this path exists.")
    removes: str | None = Field(None, description="Skip (no change) unless this path exists.")
    unless: list[str] | str | None = Field(None, description=(
        "A read-only probe command; exit 0 means the change is already in place."))
    changed_when: str | None = Field(None, description=(
        "Expression over rc, stdout, stderr deciding whether the run changed something."))
    ok_codes: list[int] = Field(default_factory=lambda: [0], description="Exit codes that mean success.")
    undo: list[str] | str | None = Field(None, description="Command that reverses this one (rollback).")
    max_output: int | str = Field("1M", description="Cap on captured stdout/stderr each.")
    timeout: float | None = Field(None, description="Seconds before the command is killed.")

    @field_validator("cmd")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        if not v:
            raise ValueError("cmd is empty")
        if isinstance(v, list) and any("\0" in a for a in v) or isinstance(v, str) and "\0" in v:
            raise ValueError("cmd contains a NUL byte")
        return v


class Shell(Action):
    name = "shell"
    description = "Run a command (argv list, or a shell string with every value quoted)."
    Inputs = ShellInputs
    rollback_support = "partial"  # with an 'undo' command; each plan says which
    plan_fidelity = "estimated (exact for readonly/creates/unless)"
    shell_fields = frozenset({"cmd", "unless", "undo"})
    outputs = {"rc": "exit code", "stdout": "standard output (capped)",
               "stderr": "standard error (capped)", "stdout_lines": "stdout split into lines",
               "truncated": "whether output was capped"}

    def _run(self, ctx: ActionContext, command: list[str] | str, inputs: ShellInputs,
             stdin: str | None = None):
        timeout = inputs.timeout or ctx.timeout
        return ctx.host.run(command, timeout=timeout, env=inputs.env or None,
                            cwd=str(ctx.path(inputs.chdir)) if inputs.chdir else None,
                            stdin=stdin.encode() if stdin is not None else None,
                            max_output=parse_size(inputs.max_output))

    def _outputs(self, r) -> dict[str, Any]:
        return {"rc": r.exited, "stdout": r.stdout, "stderr": r.stderr,
                "stdout_lines": r.stdout.splitlines(), "truncated": r.truncated}

    def check(self, ctx: ActionContext, inputs: ShellInputs) -> Plan:
        shown = display(inputs.cmd)
        if inputs.readonly:
            r = self._run(ctx, inputs.cmd, inputs, inputs.stdin)
            if r.exited not in inputs.ok_codes:
                raise CommandFailed(shown, r.exited, r.stdout, r.stderr, ctx.host.name)
            shown_out = "\n".join(r.stdout.rstrip("\n").splitlines()[:20])
            return Plan(changed=False, summary=f"ran read-only command (exit {r.exited})"
                                               + (f": {shown_out}" if shown_out else ""),
                        commands=[shown], outputs=self._outputs(r))
        for path, exists_means_done in ((inputs.creates, True), (inputs.removes, False)):
            if path is None:
                continue
            r = ctx.host.run(["test", "-e", path])
            if (r.exited == 0) == exists_means_done:
                why = "exists" if exists_means_done else "does not exist"
                return Plan(changed=False, summary=f"nothing to do: {path} {why}",
                            commands=[shown], outputs={"rc": 0, "stdout": "", "stderr": "",
                                                       "stdout_lines": [], "truncated": False})
        if inputs.unless is not None:
            r = self._run(ctx, inputs.unless, inputs)
            if r.exited == 0:
                return Plan(changed=False,
                            summary=f"nothing to do: probe {display(inputs.unless)!r} passed",
                            commands=[shown], outputs={"rc": 0, "stdout": "", "stderr": "",
                                                       "stdout_lines": [], "truncated": False})
        return Plan(changed=True, summary=f"would run: {shown}",
                    fidelity=Fidelity.ESTIMATED,
                    fidelity_reason="the command is exact; its effect is not modelled",
                    commands=[shown], data={"inputs": inputs.model_dump()},
                    rollback="full" if inputs.undo is not None else "none",
                    outputs={"rc": 0, "stdout": "", "stderr": "", "stdout_lines": [],
                             "truncated": False})

    def apply(self, ctx: ActionContext, plan: Plan) -> Result:
        inputs = ShellInputs.model_validate(plan.data["inputs"])
        r = self._run(ctx, inputs.cmd, inputs, inputs.stdin)
        if r.exited not in inputs.ok_codes:
            raise CommandFailed(r.command, r.exited, r.stdout, r.stderr, ctx.host.name)
        outputs = self._outputs(r)
        changed = True
        if inputs.changed_when is not None:
            changed = bool(ctx.evaluate(inputs.changed_when, outputs))
        return Result(outputs=outputs, changed=changed,
                      summary=f"ran {r.command} (exit {r.exited}, {r.duration:.2f}s)",
                      data={"undo": inputs.undo, "inputs": plan.data["inputs"]})

    def rollback(self, ctx: ActionContext, result: Result) -> None:
        undo = result.data.get("undo")
        if undo is None:
            from rbk.engine import RollbackUnsupported

            raise RollbackUnsupported("shell step has no 'undo' command")
        inputs = ShellInputs.model_validate(result.data["inputs"])
        r = self._run(ctx, undo, inputs)
        if r.exited != 0:
            raise CommandFailed(r.command, r.exited, r.stdout, r.stderr, ctx.host.name)


@hookimpl
def rbk_actions(register):
    register(Shell)

