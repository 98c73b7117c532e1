"""YAML runbook files -> validated :class:`rbk.model.Runbook`, errors as FILE:LINE:COL."""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rbk import model, yamlsrc
from rbk.errors import Problem, RunbookError


@dataclass
class LoadedRunbook:
    """A runbook with where it came from, so later errors can point into the file."""

    runbook: model.Runbook
    source: yamlsrc.Source
    path: Path

    @property
    def name(self) -> str:
        return self.runbook.name

    def step_problem(self, index: int, field: tuple[str | int, ...], message: str,
                     *, key: bool = False) -> Problem:
        return self.source.problem(("steps", index, *field), message, key=key)


class SchemaError(RunbookError):
    """Schema problems, plus the runbook minus the offending fields when that still
    validates, so the caller can report the remaining (semantic) problems too."""

    def __init__(self, problems: list[Problem], partial: LoadedRunbook | None):
        super().__init__(problems)
        self.partial = partial


def load_runbook(path: str | Path) -> LoadedRunbook:
    """Parse and schema-check one runbook file (no plugin lookups)."""
    source = yamlsrc.load_file(str(path))
    try:
        runbook = model.Runbook.model_validate(source.data)
    except ValidationError as exc:
        raise SchemaError(pydantic_problems(exc, source),
                          _without_bad_fields(exc, source, Path(path))) from None
    return LoadedRunbook(runbook=runbook, source=source, path=Path(path))


def _without_bad_fields(exc: ValidationError, source: yamlsrc.Source,
                        path: Path) -> LoadedRunbook | None:
    """Drop unknown and invalid optional fields; None if the rest is still invalid."""
    data = copy.deepcopy(source.data)
    for err in exc.errors():
        loc = _data_path(source.data, tuple(err["loc"]))
        if not loc or err["type"] == "missing":
            return None
        parent = data
        for part in loc[:-1]:
            parent = parent[part]
        if not isinstance(parent, dict):
            return None
        cls = _model_at(loc[:-1])
        field = cls.model_fields.get(str(loc[-1])) if cls else None
        if field is None:
            by_alias = {f.alias: f for f in cls.model_fields.values() if f.alias} if cls else {}
            field = by_alias.get(str(loc[-1]))
        if err["type"] != "extra_forbidden" and (field is None or field.is_required()):
            return None
        parent.pop(loc[-1], None)
    try:
        runbook = model.Runbook.model_validate(data)
    except ValidationError:
        return None
    return LoadedRunbook(runbook=runbook, source=source, path=path)


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    shapes: dict[tuple[str, ...], type[BaseModel]] = {
        (): model.Runbook,
        ("inputs", "*"): model.Input,
        ("steps", "#"): model.Step,
        ("steps", "#", "rollback"): model.RollbackOverride,
        ("triggers", "#"): model.Trigger,
        ("budget",): model.Budget,
    }
    shape = tuple("#" if isinstance(p, int) else p for p in path)
    if len(shape) == 2 and shape[0] == "inputs":
        shape = ("inputs", "*")
    return shapes.get(shape)


def field_names(cls: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in cls.model_fields.items()]


def suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of a pydantic ``loc`` that exists in the data (drops union tags)."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        out.append(part)
    return tuple(out)


def pydantic_problems(exc: ValidationError, source: yamlsrc.Source,
                      prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """Turn pydantic errors into FILE:LINE problems; one per field, unions merged."""
    by_path: dict[tuple[Any, ...], list[str]] = {}
    keys: set[tuple[Any, ...]] = set()
    root = source.data
    for p in prefix:
        if isinstance(root, dict) and p in root or isinstance(root, list) and isinstance(p, int):
            root = root[p]
        else:
            root = None
            break
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            parent = prefix + loc[:-1]
            cls = _model_at(parent)
            hint = suggest(str(loc[-1]), field_names(cls)) if cls else ""
            path = prefix + loc
            by_path.setdefault(path, []).append(f"unknown field '{loc[-1]}'{hint}")
            keys.add(path)
            continue
        path = prefix + _data_path(root, loc)
        missing = err["type"] == "missing"
        msg = f"missing required field '{loc[-1]}'" if missing else _message(err)
        by_path.setdefault(path, [])
        if msg not in by_path[path]:
            by_path[path].append(msg)
    problems = [source.problem(path, " or ".join(msgs), key=path in keys)
                for path, msgs in by_path.items()]
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _message(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    value = err.get("input")
    if err["type"] in ("string_type", "int_type", "bool_type", "float_type", "list_type",
                       "dict_type", "int_parsing", "bool_parsing", "float_parsing",
                       "literal_error", "string_pattern_mismatch"):
        msg += f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return msg[0].lower() + msg[1:] if msg else msg
