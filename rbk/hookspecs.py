"""Every rbk hook, each docstring its reference.

Hooks are called with keyword arguments only; an implementation may accept any
subset of a hook's arguments (pluggy passes only what it names). Registration
hooks take a ``register`` callback so that rbk can tell which plugin provided
what and report clashes naming both plugins.

Implement them in a module or class with :data:`hookimpl`::

    from rbk import hookimpl

    @hookimpl
    def rbk_actions(register):
        register(MyAction)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from rbk.action import Action
    from rbk.hosts.base import Transport
    from rbk.report.model import Report

hookspec = pluggy.HookspecMarker("rbk")
hookimpl = pluggy.HookimplMarker("rbk")

# ---------------------------------------------------------------------------
# load: what plugins provide
# ---------------------------------------------------------------------------


@hookspec
def rbk_actions(register: Callable[[type[Action]], None]) -> None:
    """Register action classes.

    :param register: call ``register(ActionClass)`` once per action. The class
        must subclass :class:`rbk.Action` and set ``name`` and ``Inputs``.
        An action name registered by two plugins is an error naming both.
    """


@hookspec
def rbk_runbook_paths() -> list[str | Path] | None:
    """Return directories of runbooks this package ships.

    Searched after ``./runbooks``, ``$RBK_PATH`` and the configured paths, in
    plugin load order (builtins first).
    """


@hookspec
def rbk_reporters(register: Callable[[str, Callable[[Report], str]], None]) -> None:
    """Register report formats.

    :param register: ``register(name, render)`` where ``render(report)``
        returns the report as text (``text``, ``markdown``, ``json``, ``html``
        are builtin).
    """


@hookspec
def rbk_notifiers(register: Callable[[str, Callable[..., None]], None]) -> None:
    """Register notification channels.

    :param register: ``register(name, send)``; ``send(url, message, payload)``
        delivers one notification and raises :class:`rbk.StepFailed` on error.
    """


@hookspec
def rbk_template_filters() -> dict[str, Callable[..., Any]] | None:
    """Return extra jinja filters, name -> function, for every template.

    Filters run inside the sandbox and receive values, never templates.
    """


@hookspec
def rbk_transports(register: Callable[[str, Callable[..., Transport]], None]) -> None:
    """Register connection kinds for inventory hosts.

    :param register: ``register(kind, factory)``; ``factory(host)`` returns a
        :class:`rbk.hosts.base.Transport`. ``local`` is builtin.
    """


@hookspec
def rbk_alert_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register webhook payload parsers for ``rbk serve``.

    :param register: ``register(name, parse)``; the source is served at
        ``POST /hooks/<name>``. ``parse(payload, headers)`` gets the parsed JSON
        (already authenticated, size- and depth-checked) and the lower-cased
        headers, and returns a list of :class:`rbk.serve.alerts.Alert`; it raises
        :class:`rbk.serve.alerts.PayloadError` (HTTP 400) for a wrong shape.
        Builtin: ``alertmanager``, ``grafana``, ``pagerduty``, ``generic``.
    """


# ---------------------------------------------------------------------------
# execute: observe a run (audit, metrics, notifications)
# ---------------------------------------------------------------------------


@hookspec
def rbk_run_started(run: dict[str, Any]) -> None:
    """A run is starting.

    :param run: ``{"id", "runbook", "mode", "inputs" (redacted), "trigger"}``.
    """


@hookspec
def rbk_step_finished(run: dict[str, Any], step: dict[str, Any]) -> None:
    """A step has finished (planned, applied, skipped or failed).

    :param step: the step's report entry (redacted), as in the json report.
    """


@hookspec
def rbk_run_finished(run: dict[str, Any], report: Report) -> None:
    """A run has finished; ``report`` is its final report model."""
