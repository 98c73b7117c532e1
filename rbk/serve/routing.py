"""Which runbooks an alert starts, and with which inputs (runbook ``triggers:``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rbk.loader import LoadedRunbook
from rbk.serve.alerts import Alert


def matches(matcher: str, value: str | None) -> bool:
    """Alertmanager-style: ``=~re``, ``!~re`` (fully anchored), ``!=x``, ``=x`` or ``x``."""
    v = value or ""
    if matcher.startswith("=~"):
        return re.fullmatch(matcher[2:], v) is not None
    if matcher.startswith("!~"):
        return re.fullmatch(matcher[2:], v) is None
    if matcher.startswith("!="):
        return v != matcher[2:]
    if matcher.startswith("="):
        return v == matcher[1:]
    return v == matcher


def field(alert: Alert, path: str) -> Any:
    """``labels.x``, ``annotations.y``, ``fingerprint``, ``status``, ``source``."""
    head, _, rest = path.partition(".")
    if head in ("labels", "annotations"):
        return getattr(alert, head).get(rest)
    if head in ("fingerprint", "status", "source", "starts_at", "url") and not rest:
        return getattr(alert, head)
    raise KeyError(path)


@dataclass
class Match:
    runbook: LoadedRunbook
    inputs: dict[str, Any]
    #: for a resolved alert whose trigger has on_resolved: (runbook name, its inputs)
    on_resolved: tuple[str, dict[str, Any]] | None = None


def _inputs(alert: Alert, mapping: dict[str, str]) -> dict[str, Any]:
    out = {}
    for name, path in mapping.items():
        try:
            value = field(alert, path)
        except KeyError:
            value = None
        if value is not None:
            out[name] = value
    return out


def route(alert: Alert, runbooks: list[LoadedRunbook]) -> list[Match]:
    out = []
    for loaded in runbooks:
        for trigger in loaded.runbook.triggers:
            if trigger.source and trigger.source != alert.source:
                continue
            if not all(matches(m, alert.labels.get(k)) for k, m in trigger.match.items()):
                continue
            follow_up = None
            if alert.status == "resolved" and trigger.on_resolved is not None:
                follow_up = (trigger.on_resolved.runbook,
                             _inputs(alert, trigger.on_resolved.inputs))
            out.append(Match(loaded, _inputs(alert, trigger.inputs), follow_up))
            break
    return out
