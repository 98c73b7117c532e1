"""The action contract: ``check`` / ``apply`` / ``rollback`` / ``verify``.

An action is a class registered by a plugin through the ``rbk_actions`` hook.
The engine never calls anything else, so a dry run is exactly "``check`` for
every step" and a real run is "``check``, then ``apply`` where the plan says
something changes".

Writing one::

    from pydantic import BaseModel
    from rbk import Action, Plan, Result, Fidelity

    class Touch(Action):
        name = "demo.touch"
        description = "Create an empty file."
        rollback_support = "full"

        class Inputs(BaseModel):
            path: str

        def check(self, ctx, inputs):
            exists = os.path.exists(inputs.path)
            return Plan(changed=not exists, summary=f"create {inputs.path}",
                        fidelity=Fidelity.EXACT, data={"path": inputs.path})

        def apply(self, ctx, plan):
            open(plan.data["path"], "x").close()
            return Result(outputs={"path": plan.data["path"]}, data=plan.data)

        def rollback(self, ctx, result):
            os.unlink(result.data["path"])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from rbk.hosts.base import Host


class Fidelity(StrEnum):
    """How far a plan can be trusted."""

    #: The change is fully known (a file diff, an exact API call).
    EXACT = "exact"
    #: Depends on state that may move between plan and apply (traffic, a command's effect).
    ESTIMATED = "estimated"
    #: Cannot be predicted; ``Plan.fidelity_reason`` says why.
    UNKNOWN = "unknown"


RollbackSupport = Literal["full", "partial", "none", "not-needed"]


@dataclass
class Plan:
    """What ``check`` found: what would change, and how sure that is.

    ``outputs`` are the step's predicted outputs (for read-only actions, the
    real ones): later steps' templates and ``when`` see them in a dry run.
    ``data`` is private state handed to ``apply``; it is journaled (redacted)
    but not shown in reports.
    """

    changed: bool
    summary: str
    fidelity: Fidelity = Fidelity.EXACT
    fidelity_reason: str = ""
    diff: str = ""
    commands: list[str] = field(default_factory=list)
    api_calls: list[dict[str, Any]] = field(default_factory=list)
    before: Any = None
    after: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    #: How far *this* change can be undone, when it differs from the action's
    #: ``rollback_support`` (e.g. a shell step with or without ``undo``).
    rollback: RollbackSupport | None = None
    #: Time series for reports: ``{"title", "unit", "points": [[label, value], ...]}``;
    #: text and markdown show a sparkline, html a chart.
    charts: list[dict[str, Any]] = field(default_factory=list)
    #: Findings as tables for reports: ``{"title", "columns": [...], "rows": [[...], ...]}``.
    tables: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollback": self.rollback,
            "changed": self.changed,
            "summary": self.summary,
            "fidelity": str(self.fidelity),
            "fidelity_reason": self.fidelity_reason,
            "diff": self.diff,
            "commands": list(self.commands),
            "api_calls": list(self.api_calls),
            "before": self.before,
            "after": self.after,
            "outputs": dict(self.outputs),
            "charts": list(self.charts),
            "tables": list(self.tables),
        }


@dataclass
class Result:
    """What ``apply`` did. ``data`` is what ``rollback`` needs (backup paths, ids)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    changed: bool = True
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Action:
    """Base class of every action. Subclasses set the class attributes and
    implement :meth:`check` (always) and :meth:`apply` (mutating actions).

    Class attributes:

    ``name``
        Dotted, unique across all plugins (``nginx.limit_conn``).
    ``description``
        One line for ``rbk actions``.
    ``Inputs``
        A pydantic model of the ``with:`` block. Unknown keys are errors.
    ``mutating``
        ``False`` for read-only actions: the engine calls only ``check``, in
        dry runs and real runs alike, so a dry run shows real findings.
    ``budgeted``
        Whether a change by this action counts against the run's change budget
        (notifications and waits do not).
    ``rollback_support``
        ``full``, ``partial``, ``none`` or ``not-needed``; reports show it.
    ``plan_fidelity``
        The fidelity its plans usually have, shown by ``rbk actions``.
    ``shell_fields``
        ``with:`` fields rendered by the shell-quoting template environment.
    ``raw_fields``
        ``with:`` fields the engine leaves unrendered for the action to render
        itself (e.g. a template body).
    ``outputs``
        Documented output keys -> description.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Inputs: ClassVar[type[BaseModel]]
    mutating: ClassVar[bool] = True
    budgeted: ClassVar[bool | None] = None
    rollback_support: ClassVar[RollbackSupport] = "none"
    plan_fidelity: ClassVar[str] = "exact"
    shell_fields: ClassVar[frozenset[str]] = frozenset()
    raw_fields: ClassVar[frozenset[str]] = frozenset()
    outputs: ClassVar[dict[str, str]] = {}

    def check(self, ctx: ActionContext, inputs: Any) -> Plan:
        """Read current state and return what would change. No side effects."""
        raise NotImplementedError

    def apply(self, ctx: ActionContext, plan: Plan) -> Result:
        """Perform ``plan``. Raise :class:`rbk.StepFailed` on failure."""
        raise NotImplementedError(f"action {self.name} is read-only")

    def rollback(self, ctx: ActionContext, result: Result) -> None:
        """Undo ``apply`` where possible (``rollback_support`` says how far)."""
        raise NotImplementedError(f"action {self.name} cannot be rolled back")

    def verify(self, ctx: ActionContext, result: Result) -> None:
        """Optional post-condition after ``apply``; raise StepFailed if unmet."""

    @classmethod
    def is_budgeted(cls) -> bool:
        return cls.mutating if cls.budgeted is None else cls.budgeted


class StrictInputs(BaseModel):
    """Convenient base for ``Inputs`` models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ActionContext:
    """What an action may use while it runs.

    ``host`` is the target (``host.run(...)`` runs a command there);
    ``render``/``evaluate`` give sandboxed templating with the run's variables;
    ``confirm`` asks the human at an approval gate.
    """

    run_id: str
    step_id: str
    dry_run: bool
    host: Host
    workdir: Path
    runbook_dir: Path
    state_dir: Path
    render: Callable[[str, dict[str, Any] | None], str]
    evaluate: Callable[[str, dict[str, Any] | None], Any]
    confirm: Callable[[str], bool]
    log: Callable[[str], None]
    timeout: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    variables: dict[str, Any] = field(default_factory=dict)
    #: Other inventory hosts by pattern, with the run's reused connections (for actions
    #: that coordinate a group, such as hosts.scale).
    select_hosts: Callable[[str], list[Host]] | None = None
    #: Register a secret found at run time (an API token read from the environment):
    #: it is redacted from everything the run records from then on.
    add_secret: Callable[[str], None] = lambda value: None

    def path(self, value: str | Path) -> Path:
        """A path on the target host. On this machine a relative path means "from the
        directory rbk was started in"; on a remote host it is left for the remote side
        (relative to the login directory)."""
        if getattr(self.host, "transport_kind", "local") != "local":
            return Path(value)
        return self.local_path(value)

    def local_path(self, value: str | Path) -> Path:
        """A path on the machine rbk runs on (e.g. a file to upload)."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.workdir / p)
