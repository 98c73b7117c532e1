"""Secret redaction for reports, journals, logs and error messages."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

MASK = "********"
SECRET_KEYS = re.compile(r"(pass(word|phrase)?|secret|token|api[_-]?key|authorization|credentials|"
                         r"cookie|private[_-]?key|x-auth-key|fastly-key)$", re.I)
# Bounded repetitions: an unbounded scheme pattern backtracks quadratically on long
# runs of letters (a 64 KiB log line took seconds to redact).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]{0,31}://)(?P<userinfo>[^/@\s]{1,512})@",
                           re.I)


class Redactor:
    """Replaces known secret values (and their URL-encoded/base64 forms) with ``********``."""

    def __init__(self, secrets: list[str] | None = None):
        self._needles: list[str] = []
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str) -> None:
        if not secret or len(secret) < 3:
            return  # masking "a" everywhere would destroy reports, and protects nothing
        forms = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}
        for form in forms:
            if form not in self._needles:
                self._needles.append(form)
        self._needles.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for needle in self._needles:
            if needle in value:
                value = value.replace(needle, MASK)
        if "://" not in value or "@" not in value:
            return value
        return _URL_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", value)

    def __call__(self, value: Any) -> Any:
        """Redact recursively; values under secret-looking keys are masked whole."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: (MASK if isinstance(k, str) and SECRET_KEYS.search(k) and v not in (None, "")
                        else self(v)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value
