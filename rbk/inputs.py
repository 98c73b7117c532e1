"""Runbook inputs: parse ``-e`` values, coerce to declared types, check before running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from rbk.durations import parse_duration, parse_size
from rbk.errors import InputError
from rbk.loader import suggest
from rbk.model import Input, Runbook

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_extra_vars(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` strings and ``@FILE`` (a YAML/JSON mapping) -> dict, later wins."""
    out: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:])
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise InputError(f"-e {item}: cannot read {path}: {exc.strerror}") from None
            except yaml.YAMLError as exc:
                raise InputError(f"-e {item}: {path} is not valid YAML: {exc}") from None
            if not isinstance(data, dict):
                raise InputError(f"-e {item}: {path} must hold a mapping of input names to values")
            out.update(data)
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"-e {item!r}: expected KEY=VALUE or @FILE")
        out[key.strip()] = value
    return out


def coerce(name: str, spec: Input, value: Any) -> Any:
    """Convert ``value`` (often a CLI string) to the input's declared type."""
    t = spec.type
    try:
        if t in ("string", "path"):
            if isinstance(value, str):
                result: Any = value
            elif isinstance(value, int | float) and not isinstance(value, bool):
                result = str(value)
            else:
                raise ValueError
        elif t == "int":
            if isinstance(value, bool):
                raise ValueError
            result = int(value) if isinstance(value, int) else int(str(value).strip(), 10)
        elif t == "float":
            if isinstance(value, bool):
                raise ValueError
            result = float(value)
        elif t == "bool":
            if isinstance(value, bool):
                result = value
            elif str(value).strip().lower() in _TRUE:
                result = True
            elif str(value).strip().lower() in _FALSE:
                result = False
            else:
                raise ValueError
        elif t == "duration":
            result = parse_duration(value)
        elif t == "size":
            result = parse_size(value)
        elif t == "list":
            if isinstance(value, list):
                result = value
            elif isinstance(value, str):
                text = value.strip()
                result = json.loads(text) if text.startswith("[") else [
                    v.strip() for v in text.split(",") if v.strip()]
                if not isinstance(result, list):
                    raise ValueError
            else:
                raise ValueError
        elif t == "map":
            result = json.loads(value) if isinstance(value, str) else value
            if not isinstance(result, dict):
                raise ValueError
        else:  # pragma: no cover - the model restricts types
            result = value
    except (ValueError, TypeError, json.JSONDecodeError):
        shown = "********" if spec.secret else repr(value)
        raise InputError(f"input '{name}': expected {t}, got {shown}"
                         f"{' — ' + spec.help if spec.help else ''}") from None
    if spec.choices is not None and result not in spec.choices:
        raise InputError(f"input '{name}': {result!r} is not one of "
                         f"{', '.join(map(repr, spec.choices))}")
    return result


def resolve_inputs(runbook: Runbook, given: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Every input's final value; all problems reported at once, before anything runs."""
    problems: list[str] = []
    out: dict[str, Any] = {}
    for key in given:
        if key not in runbook.inputs:
            hint = suggest(key, list(runbook.inputs))
            known = ", ".join(runbook.inputs) or "none"
            problems.append(f"unknown input '{key}'{hint} (inputs of {runbook.name}: {known})")
    for name, spec in runbook.inputs.items():
        if name in given:
            value = given[name]
        elif spec.default is not None:
            value = spec.default
        elif spec.is_required:
            problems.append(f"missing required input '{name}'"
                            f"{' (' + spec.help + ')' if spec.help else ''}: pass -e {name}=...")
            continue
        else:
            out[name] = None
            continue
        try:
            out[name] = coerce(name, spec, value)
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        prefix = f"{where}: " if where else ""
        raise InputError(prefix + "; ".join(problems))
    return out


def secret_values(runbook: Runbook, values: dict[str, Any]) -> list[str]:
    return [str(values[n]) for n, spec in runbook.inputs.items()
            if spec.secret and values.get(n) not in (None, "")]
