"""The runbook format as pydantic models (``rbk schema`` prints their JSON Schema).

The loader (``rbk.loader``) maps validation errors back to ``FILE:LINE:COL``.
A runbook is data: it never runs Python of its own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rbk.durations import parse_duration

InputType = Literal["string", "int", "float", "bool", "list", "map", "duration", "size", "path"]

STEP_ID = r"^[A-Za-z_][A-Za-z0-9_]*$"
RUNBOOK_NAME = r"^[a-z0-9][a-z0-9._-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Input(_Strict):
    """A typed runbook input, set with ``-e NAME=VALUE`` or from an alert."""

    type: InputType = "string"
    default: Any = None
    required: bool | None = Field(
        None, description="Defaults to true when no default is given.")
    help: str = ""
    choices: list[Any] | None = None
    secret: bool = Field(False, description="Redacted in reports, journals and logs.")

    @property
    def is_required(self) -> bool:
        return self.default is None if self.required is None else self.required


Duration = Annotated[float, Field(ge=0)]


class RollbackOverride(_Strict):
    """Run this action instead of the step action's own rollback."""

    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class Step(_Strict):
    """One step: an action with its inputs, on some hosts, under conditions."""

    id: str = Field(pattern=STEP_ID, description="Unique; later steps read steps.<id>.<output>.")
    action: str = Field(description="Action name, see 'rbk actions'.")
    name: str = ""
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    on: str | list[str] | None = Field(None, description="Host pattern(s); default: local.")
    when: str | bool | None = Field(None, description="Jinja expression; false skips the step.")
    retries: int = Field(0, ge=0, le=100)
    delay: Duration = Field(1.0, description="Seconds (or 5s, 1m) between retries.")
    timeout: Duration | None = Field(None, description="Seconds (or 30s, 5m) for one attempt.")
    on_failure: Literal["rollback", "continue", "stop"] = "rollback"
    rollback: bool | RollbackOverride = Field(
        True, description="false: never roll this step back; or an action to run instead.")
    approve: bool = Field(False, description="Ask a human before applying this step.")
    serial: int | str | list[int | str] | None = Field(
        None, description="Roll out in batches: 1, '25%', or [1, 5, '100%'] (canary first).")
    max_fail_percentage: float = Field(
        0, ge=0, le=100, description="Tolerate this share of failed hosts before the step fails.")

    @field_validator("serial")
    @classmethod
    def _serial(cls, v: Any) -> Any:
        for size in (v if isinstance(v, list) else [v] if v is not None else []):
            if isinstance(size, str):
                if not (size.endswith("%") and size[:-1].replace(".", "", 1).isdigit()
                        and 0 < float(size[:-1]) <= 100):
                    raise ValueError(f"serial {size!r}: use a count or a percentage like '25%'")
            elif isinstance(size, bool) or size < 1:
                raise ValueError(f"serial {size!r}: batch sizes are >= 1")
        return v

    @field_validator("delay", "timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)


class OnResolved(_Strict):
    """The runbook ``rbk serve`` starts when a matching alert it saw firing resolves."""

    runbook: str = Field(pattern=RUNBOOK_NAME, description="Name of a runbook rbk serve loads.")
    inputs: dict[str, str] = Field(default_factory=dict,
                                   description="Input name -> alert field (labels.x, annotations.y).")


class Trigger(_Strict):
    """Which alerts start this runbook (used by ``rbk serve``)."""

    source: str | None = None
    match: dict[str, str] = Field(default_factory=dict,
                                  description="Label matchers: value, or =~regex / !=x / !~regex.")
    inputs: dict[str, str] = Field(default_factory=dict,
                                   description="Input name -> alert field (labels.x, annotations.y).")
    on_resolved: OnResolved | None = Field(
        None, description="Start this runbook (same policy: a dry run unless it auto-applies) "
                          "when the alert resolves, e.g. lift the limits a spike runbook set.")


class Budget(_Strict):
    """Upper bounds on what one run may change (runaway-automation guard)."""

    max_changed_steps: int | None = Field(None, ge=0)
    max_hosts: int | None = Field(None, ge=0)


class Runbook(_Strict):
    """A runbook file."""

    name: str = Field(pattern=RUNBOOK_NAME)
    title: str = ""
    description: str = ""
    inputs: dict[str, Input] = Field(default_factory=dict)
    targets: str | list[str] | None = Field(None, description="Default host pattern for steps.")
    triggers: list[Trigger] = Field(default_factory=list)
    auto_apply: bool = Field(False, description="Alerts may start an applying run.")
    budget: Budget = Field(default_factory=Budget)
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _not_a_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a runbook is a YAML mapping with name and steps")
        return data


def runbook_json_schema() -> dict[str, Any]:
    schema = Runbook.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rbk runbook"
    return schema
