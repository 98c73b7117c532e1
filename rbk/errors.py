"""rbk's exceptions and exit codes.

Every error a user can cause is an :class:`RbkError` whose ``str()`` is one
line saying what went wrong, where, and what to do. The CLI turns them into
that line and an :class:`ExitCode`; it never shows a traceback unless
``RBK_DEBUG=1``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit statuses, stable for scripts and alert pipelines."""

    OK = 0
    #: A step failed; what the run had changed was rolled back.
    STEP_FAILED = 1
    #: Bad command line, or an invalid runbook / inventory / input.
    USAGE = 2
    #: A rollback failed: the system may be half-changed, a human is needed.
    ROLLBACK_FAILED = 3
    #: A plugin could not be loaded or broke a contract.
    PLUGIN_ERROR = 4
    #: Interrupted (Ctrl-C); applied steps were rolled back.
    INTERRUPTED = 130


class RbkError(Exception):
    """Base of every error rbk reports to users as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(RbkError):
    """Raised for a bad command line: unknown runbook name, bad ``-e`` value."""


class RunbookError(RbkError):
    """Raised by the loader and validator: a runbook (or inventory) is invalid.

    Carries one or more :class:`Problem` s, each with file, line, column and
    the field path, so ``rbk validate`` can list every mistake at once.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Problem:
    """One validation finding: ``FILE:LINE:COL: path: message``."""

    def __init__(
        self,
        file: str,
        line: int | None,
        column: int | None,
        message: str,
        path: str = "",
    ):
        self.file, self.line, self.column = file, line, column
        self.message, self.path = message, path

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Problem({self!s})"


class InputError(RbkError):
    """Raised before a run starts: unknown, missing or mistyped runbook inputs."""


class TemplateError(RbkError):
    """Raised when a step's template cannot be rendered.

    Names the step id, the field, the template text and the undefined name.
    """

    exit_code = ExitCode.STEP_FAILED

    def __init__(self, message: str, *, step: str | None = None, field: str | None = None,
                 template: str | None = None):
        self.step, self.field, self.template = step, field, template
        where = []
        if step:
            where.append(f"step '{step}'")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        text = f" in {template!r}" if template else ""
        super().__init__(f"{prefix}: {message}{text}" if prefix else f"{message}{text}")


class StepFailed(RbkError):
    """Raised by actions (and the engine) when a step cannot do its job.

    ``result`` keeps whatever the action had produced (like invoke's
    ``Failure.result``), e.g. the command, exit code and output tail.
    """

    exit_code = ExitCode.STEP_FAILED

    def __init__(self, message: str, *, result: Any = None):
        self.result = result
        super().__init__(message)


class CommandFailed(StepFailed):
    """A command exited non-zero: shows the command, exit code and output tail."""

    def __init__(self, command: str, exited: int, stdout: str = "", stderr: str = "",
                 host: str | None = None):
        tail = (stderr.strip() or stdout.strip()).splitlines()[-3:]
        on = f" on {host}" if host else ""
        detail = f": {' | '.join(tail)}" if tail else ""
        super().__init__(f"command {command!r} exited {exited}{on}{detail}",
                         result={"rc": exited, "stdout": stdout, "stderr": stderr})
        self.command, self.exited = command, exited


class HostsFailed(StepFailed):
    """A step failed on some hosts; ``failures`` maps host name to its error."""

    def __init__(self, step: str, failures: dict[str, BaseException]):
        self.failures = failures
        names = ", ".join(sorted(failures))
        first = next(iter(failures.values()))
        super().__init__(f"step '{step}' failed on {len(failures)} host(s) ({names}): {first}")


class ApprovalDenied(RbkError):
    """A human said no at an approval gate, or nobody could be asked."""

    exit_code = ExitCode.STEP_FAILED


class BudgetExceeded(RbkError):
    """The run would change more than its change budget allows."""

    exit_code = ExitCode.STEP_FAILED


class PluginError(RbkError):
    """A plugin could not be loaded, clashes with another, or broke a contract."""

    exit_code = ExitCode.PLUGIN_ERROR


class StateError(RbkError):
    """Run history could not be read or written (unknown run id, corrupt journal)."""
