"""cdn.cache_rule, cdn.rate_limit, cdn.block, cdn.purge."""

from __future__ import annotations

import difflib
import json
from typing import Any, Literal

from pydantic import Field

from rbk import Action, Fidelity, Plan, Result
from rbk.action import StrictInputs
from rbk.errors import StepFailed
from rbk_cdn import expressions as ex
from rbk_cdn.providers import RBK_REF, connect

SIGNIFICANT = ("expression", "action", "action_parameters", "ratelimit", "description",
               "enabled")


class ProviderInputs(StrictInputs):
    zone: str = Field(description="Zone id.", pattern=r"^[A-Za-z0-9]{1,64}$")
    provider: str = Field("cloudflare", description="CDN provider.")
    token_env: str = Field("CLOUDFLARE_API_TOKEN", description="Environment variable with "
                                                               "the API token.")
    api_token: str | None = Field(None, description="The token itself (from a secret input).")
    api_base: str | None = Field(None, description="API base URL (default: the provider's).")
    timeout: float = Field(15, gt=0, le=120, description="Seconds per API request.")


class RuleInputs(ProviderInputs):
    name: str = Field(description="Names rbk's rule: ref rbk-KIND-NAME ([a-z0-9-]).",
                      pattern=ex.NAME.pattern)
    paths: list[str] = Field(default_factory=list, description="Path prefixes (/static/).")
    hosts: list[str] = Field(default_factory=list, description="Host names.")
    state: Literal["present", "absent"] = "present"


def _significant(rule: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if rule is None else {k: rule[k] for k in SIGNIFICANT if k in rule}


def _diff(old: dict | None, new: dict | None, ref: str) -> str:
    a = json.dumps(_significant(old), indent=2, sort_keys=True).splitlines(keepends=True) \
        if old else []
    b = json.dumps(_significant(new), indent=2, sort_keys=True).splitlines(keepends=True) \
        if new else []
    return "".join(difflib.unified_diff(a, b, fromfile=f"{ref} (now)", tofile=f"{ref} (planned)"))


class RuleAction(Action):
    """Read-modify-write of one rbk-owned rule (by ``ref``) in a provider's rule list:
    every other rule is resent unchanged, because writing the list replaces it whole."""

    kind: str = ""
    rollback_support = "full"
    outputs = {"ref": "rbk's rule ref", "rules": "rules in the phase after the change"}

    def desired(self, inputs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, ctx, inputs) -> Plan:
        ref = f"{RBK_REF}{self.kind}-{inputs.name}"
        try:
            new = None if inputs.state == "absent" else {
                "ref": ref, "description": f"rbk: {self.kind} {inputs.name}", "enabled": True,
                **self.desired(inputs)}
        except ex.Invalid as exc:
            raise StepFailed(f"{self.name}: {exc}") from None
        provider = connect(ctx, inputs)
        current = provider.rules(inputs.zone, self.kind)
        old = next((r for r in current if r.get("ref") == ref), None)
        changed = _significant(old) != _significant(new)
        rules = _place(current, ref, new)
        others = len(current) - (old is not None)
        verb = "add" if old is None else ("remove" if new is None else "update")
        summary = (f"would {verb} rule {ref}; the other {others} rule(s) are resent unchanged"
                   if changed else f"rule {ref} is up to date")
        return Plan(changed=changed, summary=summary, fidelity=Fidelity.EXACT,
                    diff=_diff(old, new, ref) if changed else "",
                    api_calls=[{"method": "PUT", "url": provider.endpoint(inputs.zone, self.kind),
                                "body": {"rules": rules}}] if changed else [],
                    outputs={"ref": ref, "rules": len(rules)},
                    data={"ref": ref, "old": old, "new": new, "inputs": inputs.model_dump()})

    def apply(self, ctx, plan: Plan) -> Result:
        inputs = type(self).Inputs.model_validate(plan.data["inputs"])
        provider = connect(ctx, inputs)
        current = provider.rules(inputs.zone, self.kind)
        now = next((r for r in current if r.get("ref") == plan.data["ref"]), None)
        if _significant(now) != _significant(plan.data["old"]):
            raise StepFailed(f"rule {plan.data['ref']} changed since it was planned; re-run "
                             f"to see the new plan")
        provider.put_rules(inputs.zone, self.kind, _place(current, plan.data["ref"],
                                                          plan.data["new"]))
        return Result(outputs=plan.outputs,
                      summary=f"{'removed' if plan.data['new'] is None else 'wrote'} "
                              f"{plan.data['ref']}", data=plan.data)

    def rollback(self, ctx, result: Result) -> None:
        inputs = type(self).Inputs.model_validate(result.data["inputs"])
        provider = connect(ctx, inputs)
        current = provider.rules(inputs.zone, self.kind)
        provider.put_rules(inputs.zone, self.kind, _place(current, result.data["ref"],
                                                          result.data["old"]))


def _place(current: list[dict], ref: str, want: dict | None) -> list[dict]:
    """``current`` with rbk's rule replaced in place (keeping its id), removed, or appended
    (rate-limit rules must come last; appending keeps that)."""
    out: list[dict] = []
    found = False
    for rule in current:
        if rule.get("ref") == ref:
            found = True
            if want is not None:
                out.append({**want, **({"id": rule["id"]} if "id" in rule else {})})
        else:
            out.append(rule)
    if not found and want is not None:
        out.append(want)
    return out


class CacheRuleInputs(RuleInputs):
    edge_ttl: int = Field(3600, ge=0, le=31536000, description="Seconds at the edge.")
    browser_ttl: int | None = Field(None, ge=0, le=31536000)
    cache: bool = Field(True, description="false makes the paths bypass the cache.")


class CacheRule(RuleAction):
    name = "cdn.cache_rule"
    description = "Cache eligibility and edge TTL for paths/hosts (rbk-owned rule)."
    Inputs = CacheRuleInputs
    kind = "cache"

    def desired(self, i: CacheRuleInputs) -> dict[str, Any]:
        params: dict[str, Any] = {"cache": i.cache}
        if i.cache:
            params["edge_ttl"] = {"mode": "override_origin", "default": i.edge_ttl}
            if i.browser_ttl is not None:
                params["browser_ttl"] = {"mode": "override_origin", "default": i.browser_ttl}
        return {"expression": ex.match(i.paths, i.hosts), "action": "set_cache_settings",
                "action_parameters": params}


PERIODS = (10, 60, 120, 300, 600, 3600)
TIMEOUTS = (0, 10, 60, 120, 300, 600, 3600, 86400)


class RateLimitInputs(RuleInputs):
    requests_per_period: int = Field(ge=1, le=1_000_000)
    period: int = Field(60, description=f"Seconds: one of {PERIODS}.")
    mitigation_timeout: int = Field(600, description=f"Seconds: one of {TIMEOUTS}.")
    action: Literal["block", "challenge", "js_challenge", "managed_challenge", "log"] = "block"
    per: Literal["ip", "header"] = Field("ip", description="Count per client IP or per header.")
    header: str | None = Field(None, description="With per: header — e.g. x-api-key.")


class RateLimit(RuleAction):
    name = "cdn.rate_limit"
    description = "Edge rate limit per IP (or header) on paths/hosts (rbk-owned rule)."
    Inputs = RateLimitInputs
    kind = "ratelimit"

    def desired(self, i: RateLimitInputs) -> dict[str, Any]:
        if i.period not in PERIODS:
            raise ex.Invalid(f"period {i.period} must be one of {PERIODS}")
        if i.mitigation_timeout not in TIMEOUTS:
            raise ex.Invalid(f"mitigation_timeout {i.mitigation_timeout} must be one of "
                             f"{TIMEOUTS}")
        if i.per == "header":
            if not i.header or not ex.HEADER.fullmatch(i.header):
                raise ex.Invalid("per: header needs header: a lower-case header name")
            key = f'http.request.headers["{i.header}"]'
        else:
            key = "ip.src"
        return {"expression": ex.match(i.paths, i.hosts), "action": i.action,
                "ratelimit": {"characteristics": ["cf.colo.id", key], "period": i.period,
                              "requests_per_period": i.requests_per_period,
                              "mitigation_timeout": i.mitigation_timeout}}


class BlockInputs(ProviderInputs):
    name: str = Field(pattern=ex.NAME.pattern, description="Tags rbk's access rules.")
    clients: list[str] = Field(default_factory=list, description="IPs/CIDRs, AS123, or "
                                                                 "country:XX.")
    mode: Literal["block", "challenge", "js_challenge", "managed_challenge"] = "block"
    state: Literal["present", "absent"] = "present"


def _target(value: str) -> tuple[str, str]:
    v = value.strip()
    if v.upper().startswith("AS") and v[2:].isdigit():
        return "asn", v.upper()
    if v.lower().startswith("country:") and len(v) == 10 and v[8:].isalpha():
        return "country", v[8:].upper()
    net = ex.ip_network(v)
    if net.num_addresses == 1:
        return ("ip6" if net.version == 6 else "ip"), str(net.network_address)
    return "ip_range", str(net)


class Block(Action):
    name = "cdn.block"
    description = "Block (or challenge) IPs, ranges, ASNs or countries at the edge."
    Inputs = BlockInputs
    rollback_support = "full"
    outputs = {"blocked": "rbk's entries after the change", "added": "new entries",
               "removed": "entries removed"}

    def check(self, ctx, inputs: BlockInputs) -> Plan:
        try:
            wanted = {v: t for t, v in (_target(c) for c in inputs.clients)}
        except ex.Invalid as exc:
            raise StepFailed(f"{self.name}: {exc}") from None
        tag = f"{RBK_REF}block-{inputs.name}"
        provider = connect(ctx, inputs)
        existing = {r["value"]: r for r in provider.blocks(inputs.zone, tag)}
        if inputs.state == "present":
            add = [(t, v) for v, t in wanted.items() if v not in existing]
            remove = []
        else:
            add = []
            remove = [existing[v] for v in wanted if v in existing]
        path = f"/zones/{inputs.zone}/firewall/access_rules/rules"
        calls = [{"method": "POST", "url": path, "body": {
            "mode": inputs.mode, "configuration": {"target": t, "value": v}, "notes": tag}}
            for t, v in add] + [{"method": "DELETE", "url": f"{path}/{r['id']}"} for r in remove]
        after = sorted((set(existing) | {v for _, v in add}) - {r["value"] for r in remove})
        bits = ([f"would {inputs.mode} {', '.join(v for _, v in add)}"] if add else []) + (
            [f"would unblock {', '.join(r['value'] for r in remove)}"] if remove else [])
        return Plan(changed=bool(calls), summary="; ".join(bits) or "edge blocks up to date",
                    fidelity=Fidelity.EXACT, api_calls=calls,
                    outputs={"blocked": after, "added": [v for _, v in add],
                             "removed": [r["value"] for r in remove]},
                    data={"add": add, "remove": remove, "tag": tag,
                          "inputs": inputs.model_dump()})

    def apply(self, ctx, plan: Plan) -> Result:
        inputs = BlockInputs.model_validate(plan.data["inputs"])
        provider = connect(ctx, inputs)
        created: list[dict] = []
        removed: list[dict] = []
        try:
            for target, value in plan.data["add"]:
                rule = provider.create_block(inputs.zone, target, value, inputs.mode,
                                             plan.data["tag"])
                created.append({"id": rule["id"], "target": target, "value": value})
            for r in plan.data["remove"]:
                provider.delete_block(inputs.zone, r["id"])
                removed.append(r)
        except StepFailed as exc:
            # A partial change is undone before the step fails.
            undo = self._undo(provider, inputs, plan.data["tag"], created, removed)
            raise StepFailed(f"{exc}; {undo}") from None
        return Result(outputs=plan.outputs, summary=plan.summary.replace("would ", ""),
                      data={"created": created, "removed": removed, "tag": plan.data["tag"],
                            "inputs": plan.data["inputs"]})

    def _undo(self, provider, inputs, tag, created, removed) -> str:
        problems = []
        for c in created:
            try:
                provider.delete_block(inputs.zone, c["id"])
            except StepFailed as exc:
                problems.append(str(exc))
        for r in removed:
            try:
                provider.create_block(inputs.zone, r["target"], r["value"],
                                      r.get("mode") or inputs.mode, tag)
            except StepFailed as exc:
                problems.append(str(exc))
        return ("the calls that had succeeded were undone" if not problems else
                "UNDO INCOMPLETE: " + "; ".join(problems))

    def rollback(self, ctx, result: Result) -> None:
        inputs = BlockInputs.model_validate(result.data["inputs"])
        provider = connect(ctx, inputs)
        message = self._undo(provider, inputs, result.data["tag"], result.data["created"],
                             result.data["removed"])
        if message.startswith("UNDO INCOMPLETE"):
            raise StepFailed(message)


class PurgeInputs(ProviderInputs):
    files: list[str] = Field(default_factory=list, description="Full URLs.")
    prefixes: list[str] = Field(default_factory=list, description="host/path prefixes.")
    tags: list[str] = Field(default_factory=list, description="Cache tags / surrogate keys.")
    everything: bool = Field(False, description="Purge the whole zone; needs confirm.")
    confirm: str | None = Field(None, description="Must be exactly 'purge everything' when "
                                                  "everything is true.")


class Purge(Action):
    name = "cdn.purge"
    description = "Purge cached content by URL, prefix or tag (everything only on request)."
    Inputs = PurgeInputs
    budgeted = True
    rollback_support = "not-needed"
    outputs = {"purged": "what was purged"}

    def check(self, ctx, inputs: PurgeInputs) -> Plan:
        kinds = [k for k in ("files", "prefixes", "tags") if getattr(inputs, k)]
        if inputs.everything:
            if inputs.confirm != "purge everything":
                raise StepFailed("cdn.purge: everything: true also needs confirm: "
                                 "'purge everything' written in the runbook")
            if kinds:
                raise StepFailed("cdn.purge: everything cannot be combined with files, "
                                 "prefixes or tags")
            body: dict[str, Any] = {"purge_everything": True}
        else:
            if len(kinds) != 1:
                raise StepFailed("cdn.purge: give exactly one of files, prefixes or tags")
            for f in inputs.files:
                if not f.startswith(("https://", "http://")) or any(c in f for c in " \n\""):
                    raise StepFailed(f"cdn.purge: {f!r} is not a URL")
            for p in inputs.prefixes:
                host, _, rest = p.partition("/")
                ex.host(host)
                if rest:
                    ex.path("/" + rest)
            body = {kinds[0]: getattr(inputs, kinds[0])}
        what = "everything" if inputs.everything else f"{len(body[kinds[0]])} {kinds[0]}"
        return Plan(changed=True, summary=f"would purge {what}", fidelity=Fidelity.EXACT,
                    api_calls=[{"method": "POST", "url": f"/zones/{inputs.zone}/purge_cache",
                                "body": body}],
                    outputs={"purged": body},
                    data={"body": body, "inputs": inputs.model_dump()})

    def apply(self, ctx, plan: Plan) -> Result:
        inputs = PurgeInputs.model_validate(plan.data["inputs"])
        connect(ctx, inputs).purge(inputs.zone, plan.data["body"])
        return Result(outputs=plan.outputs, summary=plan.summary.replace("would ", ""))


ACTIONS = [CacheRule, RateLimit, Block, Purge]
