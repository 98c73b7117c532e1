"""``file.template``: render a jinja2 template to a file, with diff, backup and rollback."""

from __future__ import annotations

import difflib
import hashlib
import shlex
from typing import Any

from pydantic import Field, model_validator

from rbk.action import Action, ActionContext, Fidelity, Plan, Result, StrictInputs
from rbk.errors import CommandFailed, StepFailed
from rbk.hookspecs import hookimpl

MAX_DIFF_LINES = 400


class FileTemplateInputs(StrictInputs):
    dest: str = Field(description="File to write.")
    src: str | None = Field(None, description="Template file, relative to the runbook.")
    content: str | None = Field(None, description="Inline template text (instead of src).")
    vars: dict[str, Any] = Field(default_factory=dict, description="Extra template variables.")
    mode: str | None = Field(None, description="Octal file mode, e.g. '0644'.")
    backup: bool = Field(True, description="Keep the previous file for rollback.")
    validate_cmd: list[str] | str | None = Field(
        None, alias="validate",
        description="Command run on the new file before it replaces the old; '{path}' is "
                    "replaced by the temporary file's path. Non-zero exit aborts the write.")

    @model_validator(mode="after")
    def _one_source(self) -> FileTemplateInputs:
        if (self.src is None) == (self.content is None):
            raise ValueError("give exactly one of 'src' (a template file) or 'content'")
        if self.mode is not None:
            int(self.mode, 8)
        return self


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


class FileTemplateAction(Action):
    name = "file.template"
    description = "Render a template to a file: plan is a unified diff; atomic write with backup."
    Inputs = FileTemplateInputs
    rollback_support = "full"
    raw_fields = frozenset({"content"})
    outputs = {"path": "the file written", "sha256": "hash of the new content",
               "diff": "unified diff old -> new", "created": "whether the file is new"}

    def check(self, ctx: ActionContext, inputs: FileTemplateInputs) -> Plan:
        if inputs.src is not None:
            template_path = ctx.runbook_dir / inputs.src
            try:
                text = template_path.read_text(encoding="utf-8")
            except OSError as exc:
                raise StepFailed(f"cannot read template {template_path}: {exc.strerror}") from None
        else:
            text = inputs.content or ""
        new = ctx.render(text, {"vars": inputs.vars, **inputs.vars})
        if not isinstance(new, str):
            new = str(new)
        dest = str(ctx.path(inputs.dest))
        old = ctx.host.transport.read_file(dest)
        new_bytes = new.encode("utf-8")
        mode = int(inputs.mode, 8) if inputs.mode else None
        old_mode = ctx.host.transport.stat_mode(dest) if old is not None else None
        mode_change = mode is not None and old_mode is not None and old_mode != mode
        changed = old != new_bytes or mode_change
        diff = ""
        if old != new_bytes:
            old_text = old.decode("utf-8", "replace") if old is not None else ""
            lines = list(difflib.unified_diff(
                old_text.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=dest if old is not None else "/dev/null", tofile=dest))
            if len(lines) > MAX_DIFF_LINES:
                lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines\n"]
            diff = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                           for line in lines)
        if not changed:
            summary = f"{dest} is up to date"
        elif old is None:
            summary = f"would create {dest} ({len(new_bytes)} bytes)"
        elif old == new_bytes:
            summary = f"would change mode of {dest} to {inputs.mode}"
        else:
            summary = f"would update {dest}"
        return Plan(changed=changed, summary=summary, fidelity=Fidelity.EXACT, diff=diff,
                    before=_sha(old), after=_sha(new_bytes),
                    outputs={"path": dest, "sha256": _sha(new_bytes), "diff": diff,
                             "created": old is None},
                    data={"dest": dest, "content": new, "mode": mode,
                          "validate": inputs.validate_cmd, "backup": inputs.backup,
                          "old_sha": _sha(old)})

    def apply(self, ctx: ActionContext, plan: Plan) -> Result:
        t = ctx.host.transport
        dest, content = plan.data["dest"], plan.data["content"].encode("utf-8")
        old = t.read_file(dest)
        if _sha(old) != plan.data["old_sha"]:
            raise StepFailed(f"{dest} changed since it was planned; re-run to see the new plan")
        old_mode = t.stat_mode(dest) if old is not None else None
        if plan.data["validate"] is not None:
            self._validate(ctx, dest, content, plan.data["validate"])
        backup = None
        if old is not None and plan.data["backup"]:
            backup = f"{dest}.rbk-{ctx.run_id}.bak"
            t.write_file(backup, old, old_mode)
        mode = plan.data["mode"] if plan.data["mode"] is not None else old_mode
        try:
            t.write_file(dest, content, mode)
        except BaseException:
            if backup:
                t.remove(backup)  # dest is untouched (atomic write), so the backup is noise
            raise
        return Result(outputs=plan.outputs, changed=True,
                      summary=f"wrote {dest}" + (f" (backup {backup})" if backup else ""),
                      data={"dest": dest, "backup": backup, "existed": old is not None,
                            "old_mode": old_mode, "sha256": _sha(content)})

    def _validate(self, ctx: ActionContext, dest: str, content: bytes, cmd: list[str] | str) -> None:
        t = ctx.host.transport
        candidate = f"{dest}.rbk-{ctx.run_id}.new"
        t.write_file(candidate, content)
        try:
            if isinstance(cmd, str):
                command: list[str] | str = cmd.replace("{path}", shlex.quote(candidate))
            else:
                command = [a.replace("{path}", candidate) for a in cmd]
            r = ctx.host.run(command, timeout=ctx.timeout or 60)
            if r.exited != 0:
                raise CommandFailed(r.command, r.exited, r.stdout, r.stderr, ctx.host.name)
        finally:
            t.remove(candidate)

    def verify(self, ctx: ActionContext, result: Result) -> None:
        now = ctx.host.transport.read_file(result.data["dest"])
        if _sha(now) != result.data["sha256"]:
            raise StepFailed(f"{result.data['dest']} does not hold the written content")

    def rollback(self, ctx: ActionContext, result: Result) -> None:
        t = ctx.host.transport
        dest = result.data["dest"]
        if not result.data["existed"]:
            t.remove(dest)
            return
        backup = result.data["backup"]
        if backup is None:
            from rbk.engine import RollbackUnsupported

            raise RollbackUnsupported(f"no backup of {dest} was kept (backup: false)")
        data = t.read_file(backup)
        if data is None:
            raise StepFailed(f"backup {backup} is missing; {dest} cannot be restored")
        t.write_file(dest, data, result.data["old_mode"])
        t.remove(backup)


@hookimpl
def rbk_actions(register):
    register(FileTemplateAction)
