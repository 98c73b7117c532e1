"""Human and machine descriptions of runbooks and actions (``rbk show``, ``rbk actions``)."""

from __future__ import annotations

import json
from typing import Any

from rbk.loader import LoadedRunbook
from rbk.plugins import Registry


def action_info(registry: Registry, cls: type) -> dict[str, Any]:
    schema = cls.Inputs.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    inputs = []
    for name, prop in schema.get("properties", {}).items():
        inputs.append({"name": name, "type": _type(prop), "required": name in required,
                       "default": prop.get("default"), "help": prop.get("description", "")})
    owner = registry.action_owner.get(cls.name, "")
    return {"name": cls.name, "description": cls.description, "plugin": owner,
            "distribution": registry.distributions.get(owner, (None,))[0],
            "mutating": cls.mutating, "dry_run": "full" if not cls.mutating else "plan",
            "plan_fidelity": cls.plan_fidelity, "rollback": cls.rollback_support,
            "inputs": inputs, "outputs": dict(cls.outputs)}


def _type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " | ".join(_type(p) for p in prop["anyOf"])
    t = prop.get("type", "any")
    if t == "array":
        return f"list[{_type(prop.get('items', {}))}]"
    return t


def list_actions(registry: Registry, as_json: bool) -> str:
    infos = [action_info(registry, cls) for _, cls in sorted(registry.actions.items())]
    if as_json:
        return json.dumps({"actions": infos}, indent=2) + "\n"
    width = max((len(i["name"]) for i in infos), default=0)
    lines = []
    for i in infos:
        kind = "read-only" if not i["mutating"] else f"rollback: {i['rollback']}"
        lines.append(f"{i['name']:<{width}}  {kind:<20} {i['description']}  [{i['plugin']}]")
    return "\n".join(lines) + "\n"


def describe_action(registry: Registry, cls: type, as_json: bool) -> str:
    info = action_info(registry, cls)
    if as_json:
        return json.dumps(info, indent=2) + "\n"
    lines = [f"{info['name']} — {info['description']}",
             f"  plugin: {info['plugin']}" + (f" ({info['distribution']})" if info["distribution"] else ""),
             f"  dry run: {'does its real (read-only) work' if not info['mutating'] else 'plans the change'}"
             f"; plan fidelity: {info['plan_fidelity']}",
             f"  rollback: {info['rollback']}", "", "inputs:"]
    for inp in info["inputs"]:
        req = "required" if inp["required"] else f"default {json.dumps(inp['default'])}"
        lines.append(f"  {inp['name']:<16} {inp['type']:<22} {req}")
        if inp["help"]:
            lines.append(f"      {inp['help']}")
    if info["outputs"]:
        lines += ["", "outputs:"] + [f"  {k:<16} {v}" for k, v in info["outputs"].items()]
    return "\n".join(lines) + "\n"


def describe_runbook(loaded: LoadedRunbook, registry: Registry, fmt: str = "text") -> str:
    rb = loaded.runbook
    md = fmt == "markdown"
    out = [f"# {rb.title or rb.name}" if md else f"{rb.name} — {rb.title}", ""]
    if rb.description:
        out += [rb.description.strip(), ""]
    out.append(f"Run: `rbk run {rb.name} --dry-run`" if md else f"run: rbk run {rb.name} --dry-run")
    out.append("")
    if rb.inputs:
        out += ["## Inputs", "", "| name | type | default | help |", "|---|---|---|---|"] if md \
            else ["inputs:"]
        for name, spec in rb.inputs.items():
            default = "(required)" if spec.is_required else json.dumps(spec.default)
            if spec.secret:
                default += " secret"
            if md:
                out.append(f"| `{name}` | {spec.type} | {default} | {spec.help} |")
            else:
                out.append(f"  {name:<20} {spec.type:<9} {default:<14} {spec.help}")
        out.append("")
    out += ["## Steps", ""] if md else ["steps:"]
    for i, step in enumerate(rb.steps, 1):
        cls = registry.actions.get(step.action)
        rollback = "" if cls is None else (" (read-only)" if not cls.mutating else
                                           f" (rollback: {cls.rollback_support})")
        extra = []
        if step.when is not None:
            extra.append(f"when {step.when}")
        if step.approve:
            extra.append("approval gate")
        if step.on:
            extra.append(f"on {step.on}")
        tail = f" — {'; '.join(extra)}" if extra else ""
        title = step.name or step.id
        out.append(f"{i}. **{title}** `{step.action}`{rollback}{tail}" if md
                   else f"  {i}. {title} [{step.action}]{rollback}{tail}")
    out.append("")
    if rb.triggers:
        out += ["## Triggers", ""] if md else ["triggers:"]
        for t in rb.triggers:
            match = ", ".join(f"{k}={v}" for k, v in t.match.items())
            then = f"; when it resolves: {t.on_resolved.runbook}" if t.on_resolved else ""
            out.append(f"- {t.source or 'any source'}: {match}{then}" if md
                       else f"  {t.source or 'any source'}: {match}{then}")
        out.append("")
    return "\n".join(out)
