"""``rbk do``: one action as a one-step runbook (like ``ansible -m``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rbk import yamlsrc
from rbk.errors import RunbookError, UsageError
from rbk.loader import LoadedRunbook, pydantic_problems
from rbk.model import Runbook
from rbk.plugins import Registry
from rbk.validate import check


def parse_args(args: tuple[str, ...] | list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UsageError(f"argument {arg!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def adhoc_runbook(action: str, args: tuple[str, ...] | list[str], on: str | None,
                  registry: Registry) -> LoadedRunbook:
    registry.action(action)  # unknown action -> PluginError with a suggestion
    step: dict[str, Any] = {"id": "do", "action": action, "with": parse_args(args)}
    if on:
        step["on"] = on
    data = {"name": "adhoc", "title": f"rbk do {action}", "steps": [step]}
    text = yaml.safe_dump(data, sort_keys=False)
    source = yamlsrc.load(text, f"<rbk do {action}>")


    try:
        runbook = Runbook.model_validate(source.data)
    except ValidationError as exc:
        raise RunbookError(pydantic_problems(exc, source)) from None
    loaded = LoadedRunbook(runbook=runbook, source=source, path=Path.cwd() / "adhoc.yaml")
    problems = check(loaded, registry)
    if problems:
        raise UsageError("; ".join(f"{p.path.replace('steps[0].with.', '')}: {p.message}"
                                   for p in problems))
    return loaded

