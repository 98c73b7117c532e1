"""``http.check``: status / body / latency expectations, retried until a deadline."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from typing import Any

from pydantic import Field, field_validator

from rbk.action import Action, ActionContext, Fidelity, Plan, StrictInputs
from rbk.durations import parse_duration
from rbk.errors import StepFailed
from rbk.hookspecs import hookimpl

MAX_BODY = 1024 * 1024


class HttpCheckInputs(StrictInputs):
    url: str = Field(description="http:// or https:// URL.")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    status: int | list[int] = Field(200, description="Expected status code(s).")
    body_contains: str | None = None
    body_regex: str | None = None
    max_latency_ms: float | None = Field(None, description="Slowest acceptable response.")
    timeout: float = Field(10, description="Seconds per request.")
    deadline: float = Field(0, description="Keep retrying until this many seconds have passed.")
    interval: float = Field(2, description="Seconds between attempts.")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not re.match(r"^https?://", v):
            raise ValueError(f"url must start with http:// or https:// (got {v!r})")
        return v

    @field_validator("deadline", "interval", "timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)


def probe(inputs: HttpCheckInputs) -> dict[str, Any]:
    req = urllib.request.Request(inputs.url, method=inputs.method.upper(),
                                 headers=inputs.headers,
                                 data=inputs.body.encode() if inputs.body is not None else None)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=inputs.timeout) as resp:  # noqa: S310 - scheme checked
            status, body = resp.status, resp.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(MAX_BODY) if exc.fp else b""
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"ok": False, "status": None, "latency_ms": None, "body": "",
                "problems": [f"no response: {reason}"]}
    latency = (time.monotonic() - start) * 1000
    text = body.decode("utf-8", "replace")
    problems = []
    expected = [inputs.status] if isinstance(inputs.status, int) else inputs.status
    if status not in expected:
        problems.append(f"status {status}, expected {' or '.join(map(str, expected))}")
    if inputs.body_contains is not None and inputs.body_contains not in text:
        problems.append(f"body does not contain {inputs.body_contains!r}")
    if inputs.body_regex is not None and not re.search(inputs.body_regex, text):
        problems.append(f"body does not match /{inputs.body_regex}/")
    if inputs.max_latency_ms is not None and latency > inputs.max_latency_ms:
        problems.append(f"latency {latency:.0f}ms > {inputs.max_latency_ms:g}ms")
    return {"ok": not problems, "status": status, "latency_ms": round(latency, 1),
            "body": text[:4096], "problems": problems}


class HttpCheck(Action):
    name = "http.check"
    description = "Check that a URL answers as expected (status, body, latency), with retries."
    Inputs = HttpCheckInputs
    mutating = False
    rollback_support = "not-needed"
    outputs = {"ok": "expectations met", "status": "HTTP status", "latency_ms": "response time",
               "body": "first 4 KiB of the body", "attempts": "requests made"}

    def check(self, ctx: ActionContext, inputs: HttpCheckInputs) -> Plan:
        give_up = time.monotonic() + inputs.deadline
        attempts = 0
        while True:
            attempts += 1
            result = probe(inputs)
            if result["ok"] or ctx.dry_run or time.monotonic() + inputs.interval > give_up:
                break
            if ctx.cancelled.wait(inputs.interval):
                break
        outputs = {**result, "attempts": attempts}
        what = f"{inputs.method.upper()} {inputs.url}"
        if result["ok"]:
            return Plan(changed=False, summary=f"{what}: {result['status']} in "
                                               f"{result['latency_ms']}ms", outputs=outputs)
        problems = "; ".join(result["problems"])
        if ctx.dry_run:
            # Earlier steps have not been applied in a dry run, so today's answer is
            # not a verdict on the plan: report it, do not fail the plan on it.
            return Plan(changed=False, summary=f"{what}: currently failing ({problems}); "
                                               f"checked again when the run applies",
                        fidelity=Fidelity.ESTIMATED,
                        fidelity_reason="the site's answer depends on the earlier steps",
                        outputs=outputs)
        raise StepFailed(f"{what}: {problems} after {attempts} attempt(s)", result=outputs)


@hookimpl
def rbk_actions(register):
    register(HttpCheck)
