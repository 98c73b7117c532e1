"""rbk: incident runbook automation.

Plugin authors import everything they need from here::

    from rbk import hookimpl, Action, Plan, Result, Fidelity

Names are resolved lazily so that ``import rbk`` (and ``rbk --help``) stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionContext",
    "Fidelity",
    "Plan",
    "Result",
    "RbkError",
    "StepFailed",
    "__version__",
    "hookimpl",
]

_LAZY = {
    "hookimpl": "rbk.hookspecs",
    "Action": "rbk.action",
    "ActionContext": "rbk.action",
    "Fidelity": "rbk.action",
    "Plan": "rbk.action",
    "Result": "rbk.action",
    "RbkError": "rbk.errors",
    "StepFailed": "rbk.errors",
}

if TYPE_CHECKING:
    from rbk.action import Action, ActionContext, Fidelity, Plan, Result
    from rbk.errors import RbkError, StepFailed
    from rbk.hookspecs import hookimpl


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rbk' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
