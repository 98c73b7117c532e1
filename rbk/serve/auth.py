"""Authenticating webhook requests before their bodies are parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_token(headers: dict[str, str], tokens: list[str]) -> None:
    """``Authorization: Bearer T`` (Alertmanager's http_config.authorization) or Basic with
    T as the password; constant-time, uniform 401."""
    value = headers.get("authorization", "")
    ok = False
    for token in tokens:
        ok |= _eq(value, f"Bearer {token}")
        if value.startswith("Basic "):
            try:
                _, _, password = base64.b64decode(value[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                password = ""
            ok |= _eq(password, token)
    if not ok:
        raise Rejected(401, "unauthorized")


def check_grafana(headers: dict[str, str], body: bytes, cfg: dict[str, Any]) -> None:
    """X-Grafana-Alerting-Signature: hex HMAC-SHA256 of the body (or ``ts:body``)."""
    secrets = cfg.get("secrets") or ([cfg["secret"]] if cfg.get("secret") else [])
    header = cfg.get("header", "X-Grafana-Alerting-Signature").lower()
    given = headers.get(header, "").strip().lower()
    signed = body
    ts_header = (cfg.get("timestamp_header") or "").lower()
    if ts_header:
        ts = headers.get(ts_header, "")
        try:
            age = abs(time.time() - int(ts))
        except ValueError:
            raise Rejected(401, "unauthorized") from None
        if age > float(cfg.get("max_age", 300)):
            raise Rejected(401, "unauthorized")
        signed = ts.encode() + b":" + body
    if not given or not any(_eq(given, hmac.new(s.encode(), signed, hashlib.sha256).hexdigest())
                            for s in secrets):
        raise Rejected(401, "unauthorized")


def check_pagerduty(headers: dict[str, str], body: bytes, cfg: dict[str, Any]) -> None:
    """X-PagerDuty-Signature: ``v1=<hex>[,v1=<hex>]``; any entry may match (rotation)."""
    secrets = cfg.get("secrets") or ([cfg["secret"]] if cfg.get("secret") else [])
    value = headers.get("x-pagerduty-signature", "")
    entries = [e.strip()[3:] for e in value.split(",") if e.strip().startswith("v1=")]
    if not entries:
        raise Rejected(400 if value else 401, "malformed signature" if value else "unauthorized")
    expected = [hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets]
    if not any(_eq(e.lower(), x) for e in entries for x in expected):
        raise Rejected(403, "no valid signature")
