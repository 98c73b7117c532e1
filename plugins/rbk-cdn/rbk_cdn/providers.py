"""The provider interface: what a CDN must offer for rbk's cdn.* actions.

Providers register under the entry-point group ``rbk_cdn.providers``
(``name = "package.module:ProviderClass"``); ``cloudflare`` is built in.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any, Protocol

from rbk.errors import StepFailed

RBK_REF = "rbk-"


class Provider(Protocol):
    """Rules owned by rbk are identified by a stable ``ref``; everyone else's are kept."""

    def rules(self, zone: str, kind: str) -> list[dict[str, Any]]:
        """Current rules of a kind (``cache``, ``ratelimit``)."""

    def put_rules(self, zone: str, kind: str, rules: list[dict[str, Any]]) -> None:
        """Replace the whole list of that kind (the provider's semantics)."""

    def endpoint(self, zone: str, kind: str) -> str:
        """The API path that put_rules writes, for the plan."""

    def blocks(self, zone: str, tag: str) -> list[dict[str, Any]]:
        """rbk's access rules with this tag: [{id, target, value, mode}]."""

    def create_block(self, zone: str, target: str, value: str, mode: str, tag: str) -> dict:
        ...

    def delete_block(self, zone: str, rule_id: str) -> None:
        ...

    def purge(self, zone: str, body: dict[str, Any]) -> None:
        ...


class CloudflareProvider:
    PHASES = {"cache": "http_request_cache_settings", "ratelimit": "http_ratelimit"}

    def __init__(self, token: str, api_base: str | None = None, timeout: float = 15):
        from rbk_cdn.cloudflare import API, Cloudflare

        self.api = Cloudflare(token, api_base or API, timeout=timeout)

    def rules(self, zone: str, kind: str) -> list[dict[str, Any]]:
        return self.api.phase_rules(zone, self.PHASES[kind])

    def put_rules(self, zone: str, kind: str, rules: list[dict[str, Any]]) -> None:
        keep = ("id", "ref", "expression", "action", "action_parameters", "ratelimit",
                "description", "enabled")
        self.api.put_phase_rules(zone, self.PHASES[kind],
                                 [{k: r[k] for k in keep if k in r} for r in rules])

    def endpoint(self, zone: str, kind: str) -> str:
        return f"/zones/{zone}/rulesets/phases/{self.PHASES[kind]}/entrypoint"

    def blocks(self, zone: str, tag: str) -> list[dict[str, Any]]:
        return [{"id": r["id"], "target": r["configuration"]["target"],
                 "value": r["configuration"]["value"], "mode": r.get("mode")}
                for r in self.api.access_rules(zone, tag)]

    def create_block(self, zone: str, target: str, value: str, mode: str, tag: str) -> dict:
        return self.api.create_access_rule(zone, mode, target, value, tag)

    def delete_block(self, zone: str, rule_id: str) -> None:
        self.api.delete_access_rule(zone, rule_id)

    def purge(self, zone: str, body: dict[str, Any]) -> None:
        self.api.purge(zone, body)


BUILTIN = {"cloudflare": CloudflareProvider}


def provider_class(name: str) -> type:
    if name in BUILTIN:
        return BUILTIN[name]
    for ep in metadata.entry_points(group="rbk_cdn.providers"):
        if ep.name == name:
            return ep.load()
    known = sorted(set(BUILTIN) | {ep.name for ep in metadata.entry_points(
        group="rbk_cdn.providers")})
    raise StepFailed(f"unknown CDN provider {name!r} (have: {', '.join(known)})")


def connect(ctx: Any, inputs: Any) -> Provider:
    token = inputs.api_token or os.environ.get(inputs.token_env, "")
    if token:
        ctx.add_secret(token)  # never in reports, journals or errors
    return provider_class(inputs.provider)(token, api_base=inputs.api_base,
                                           timeout=inputs.timeout)
