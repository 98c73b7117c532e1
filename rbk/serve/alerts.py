"""Webhook payloads -> one normalised Alert model (builtin sources; plugins add more).

Payload values are untrusted data: they are kept as strings and only ever used
as values (inputs), never rendered as templates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from rbk.hookspecs import hookimpl


class PayloadError(ValueError):
    """The body is JSON but not the source's documented shape (HTTP 400)."""


@dataclass
class Alert:
    source: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    starts_at: str = ""
    ends_at: str = ""
    url: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def parse_alertmanager(payload: Any, headers: dict[str, str]) -> list[Alert]:
    """Alertmanager webhook v4: every alert of the group, handled separately."""
    if not isinstance(payload, dict) or payload.get("version") != "4" or \
            not isinstance(payload.get("alerts"), list):
        raise PayloadError("not an Alertmanager webhook (version 4 with alerts[])")
    out = []
    for a in payload["alerts"]:
        if not isinstance(a, dict):
            raise PayloadError("alerts[] must hold objects")
        labels = _strings(a.get("labels"), "labels")
        status = a.get("status") if a.get("status") in ("firing", "resolved") else "firing"
        out.append(Alert("alertmanager", status, labels, _strings(a.get("annotations"),
                                                                  "annotations"),
                         str(a.get("fingerprint") or _fingerprint(labels)),
                         str(a.get("startsAt", "")), str(a.get("endsAt", "")),
                         str(a.get("generatorURL", "")), a))
    return out


def parse_grafana(payload: Any, headers: dict[str, str]) -> list[Alert]:
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise PayloadError("not a Grafana webhook (alerts[])")
    alerts = parse_alertmanager({**payload, "version": "4"}, headers)
    for a in alerts:
        a.source = "grafana"
        a.url = str(a.raw.get("panelURL") or a.raw.get("dashboardURL") or a.url)
    return alerts


def parse_pagerduty(payload: Any, headers: dict[str, str]) -> list[Alert]:
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
        raise PayloadError("not a PagerDuty V3 webhook ({event: {event_type, data}})")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    kind = event["event_type"]
    if kind == "pagey.ping" or not kind.startswith("incident."):
        return []
    status = "resolved" if kind == "incident.resolved" else "firing"
    service = data.get("service") if isinstance(data.get("service"), dict) else {}
    labels = {"alertname": str(data.get("title", "")), "event_type": kind,
              "service": str(service.get("summary", "")),
              "urgency": str(data.get("urgency", "")),
              "incident_key": str(data.get("incident_key", ""))}
    return [Alert("pagerduty", status, labels, {}, str(data.get("id") or _fingerprint(labels)),
                  str(data.get("created_at", "")), "", str(data.get("html_url", "")), payload)]


def parse_generic(payload: Any, headers: dict[str, str]) -> list[Alert]:
    """``{"alerts": [{"labels": {...}, "annotations": {...}, "status": "firing",
    "fingerprint": "optional"}]}`` (docs/serve.md)."""
    items = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise PayloadError('generic payload must be {"alerts": [{"labels": {...}}]}')
    out = []
    for a in items:
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
            raise PayloadError("each alert needs labels")
        labels = _strings(a["labels"], "labels")
        status = "resolved" if a.get("status") == "resolved" else "firing"
        out.append(Alert("generic", status, labels, _strings(a.get("annotations"), "annotations"),
                         str(a.get("fingerprint") or _fingerprint(labels)),
                         str(a.get("starts_at", "")), str(a.get("ends_at", "")),
                         str(a.get("url", "")), a))
    return out


@hookimpl
def rbk_alert_sources(register):
    register("alertmanager", parse_alertmanager)
    register("grafana", parse_grafana)
    register("pagerduty", parse_pagerduty)
    register("generic", parse_generic)
