"""``finding`` and ``file.read``: read-only building blocks for investigative runbooks."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from pydantic import Field

from rbk.action import Action, ActionContext, Fidelity, Plan, StrictInputs
from rbk.errors import StepFailed
from rbk.hookspecs import hookimpl


class FindingInputs(StrictInputs):
    text: str = Field(description="The conclusion, for the report (templated).")
    severity: Literal["info", "warning", "critical"] = "info"
    data: dict[str, Any] = Field(default_factory=dict, description="Evidence, as outputs.")


class Finding(Action):
    name = "finding"
    description = "State a conclusion in the report (with its evidence); changes nothing."
    Inputs = FindingInputs
    mutating = False
    rollback_support = "not-needed"
    outputs = {"text": "the conclusion", "severity": "info/warning/critical",
               "data": "the evidence"}

    def check(self, ctx: ActionContext, inputs: FindingInputs) -> Plan:
        return Plan(changed=False, summary=f"[{inputs.severity}] {inputs.text}",
                    fidelity=Fidelity.EXACT,
                    outputs={"text": inputs.text, "severity": inputs.severity,
                             "data": inputs.data})


class ReadInputs(StrictInputs):
    path: str = Field(description="File on the target host (JSON list/object, or CSV).")
    format: Literal["auto", "json", "csv"] = "auto"


class FileRead(Action):
    name = "file.read"
    description = "Read a JSON or CSV data file (e.g. daily KPIs) into outputs."
    Inputs = ReadInputs
    mutating = False
    rollback_support = "not-needed"
    outputs = {"rows": "CSV rows as objects (numbers converted), or the JSON value",
               "count": "number of rows"}

    def check(self, ctx: ActionContext, inputs: ReadInputs) -> Plan:
        path = str(ctx.path(inputs.path))
        data = ctx.host.transport.read_file(path)
        if data is None:
            raise StepFailed(f"no file {path} on {ctx.host.name}")
        text = data.decode("utf-8", "replace")
        fmt = inputs.format
        if fmt == "auto":
            fmt = "json" if text.lstrip()[:1] in "[{" else "csv"
        try:
            rows: Any = json.loads(text) if fmt == "json" else [
                {k: _number(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]
        except (json.JSONDecodeError, csv.Error) as exc:
            raise StepFailed(f"{path} is not valid {fmt}: {exc}") from None
        count = len(rows) if isinstance(rows, list) else 1
        return Plan(changed=False, summary=f"read {count} rows from {path}",
                    outputs={"rows": rows, "count": count})


def _number(value: str | None) -> Any:
    if value is None:
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


@hookimpl
def rbk_actions(register):
    register(Finding)
    register(FileRead)
