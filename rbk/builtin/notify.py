"""``notify``: record a message in the run and optionally POST it to a webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from pydantic import Field

from rbk.action import Action, ActionContext, Plan, Result, StrictInputs
from rbk.errors import StepFailed
from rbk.hookspecs import hookimpl
from rbk.plugins import get_registry


def _post(url: str, payload: dict[str, Any], timeout: float = 10) -> None:
    data = json.dumps(payload, default=str).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "rbk"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            if resp.status >= 300:
                raise StepFailed(f"notification webhook answered {resp.status}")
    except urllib.error.HTTPError as exc:
        raise StepFailed(f"notification webhook answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise StepFailed(f"notification webhook unreachable: {getattr(exc, 'reason', exc)}") from None


def send_webhook(url: str, message: str, payload: dict[str, Any]) -> None:
    _post(url, {**payload, "message": message})


def send_slack(url: str, message: str, payload: dict[str, Any]) -> None:
    _post(url, {"text": message})


class NotifyInputs(StrictInputs):
    message: str
    level: str = Field("info", pattern=r"^(info|warning|critical)$")
    channel: str = Field("log", description="'log' (the run report only), 'webhook' or 'slack'.")
    url: str | None = Field(None, description="Webhook URL for webhook/slack channels.")
    data: dict[str, Any] = Field(default_factory=dict, description="Extra JSON fields.")


class Notify(Action):
    name = "notify"
    description = "Record a message in the run; optionally send it to a webhook or Slack."
    Inputs = NotifyInputs
    budgeted = False
    rollback_support = "not-needed"

    def check(self, ctx: ActionContext, inputs: NotifyInputs) -> Plan:
        payload = {"run_id": ctx.run_id, "step": ctx.step_id, "level": inputs.level,
                   "message": inputs.message, **inputs.data}
        calls = []
        if inputs.channel != "log":
            if inputs.channel not in get_registry().notifiers:
                raise StepFailed(f"unknown notification channel '{inputs.channel}' "
                                 f"(have: log, {', '.join(get_registry().notifiers)})")
            if not inputs.url:
                raise StepFailed(f"channel '{inputs.channel}' needs a url")
            calls.append({"method": "POST", "url": inputs.url, "body": payload})
        if ctx.dry_run:
            ctx.log(f"[{inputs.level}] {inputs.message}")
        return Plan(changed=True, summary=f"would notify ({inputs.channel}): {inputs.message}",
                    api_calls=calls, data={"payload": payload, "inputs": inputs.model_dump()},
                    outputs={"sent": False})

    def apply(self, ctx: ActionContext, plan: Plan) -> Result:
        inputs = NotifyInputs.model_validate(plan.data["inputs"])
        ctx.log(f"[{inputs.level}] {inputs.message}")
        if inputs.channel != "log":
            get_registry().notifiers[inputs.channel](inputs.url, inputs.message,
                                                     plan.data["payload"])
        return Result(outputs={"sent": inputs.channel != "log"}, changed=False,
                      summary=f"notified ({inputs.channel})")


@hookimpl
def rbk_actions(register):
    register(Notify)
