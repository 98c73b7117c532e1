"""Checks that need the plugin registry: actions, their inputs, template references.

Everything here runs before anything connects or changes, so ``rbk validate``
and the first moment of ``rbk run`` report every mistake at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rbk.errors import InputError, Problem, RunbookError
from rbk.loader import (
    LoadedRunbook,
    SchemaError,
    field_names,
    load_runbook,
    pydantic_problems,
    suggest,
)
from rbk.plugins import Registry, get_registry, unknown_action_message
from rbk.templating import CONTEXT_NAMES, Templater, is_template


def load_and_validate(path: str | Path, registry: Registry | None = None) -> LoadedRunbook:
    """Load a runbook and raise :class:`RunbookError` listing every problem."""
    try:
        loaded = load_runbook(path)
    except SchemaError as exc:
        problems = list(exc.problems)
        if exc.partial is not None:
            seen = {(p.line, p.message) for p in problems}
            problems += [p for p in check(exc.partial, registry or get_registry())
                         if (p.line, p.message) not in seen]
            problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise RunbookError(problems) from None
    problems = check(loaded, registry or get_registry())
    if problems:
        raise RunbookError(problems)
    return loaded


def check(loaded: LoadedRunbook, registry: Registry) -> list[Problem]:
    from rbk.inputs import coerce

    rb, src = loaded.runbook, loaded.source
    templater = Templater(registry.filters)
    allowed_names = CONTEXT_NAMES | set(templater.values.globals)
    problems: list[Problem] = []

    for name, spec in rb.inputs.items():
        if spec.default is not None:
            try:
                coerce(name, spec, spec.default)
            except InputError as exc:
                problems.append(src.problem(("inputs", name, "default"), str(exc)))

    index_of = {}
    for i, step in enumerate(rb.steps):
        if step.id in index_of:
            problems.append(src.problem(("steps", i, "id"),
                                        f"duplicate step id '{step.id}' (first used by step "
                                        f"{index_of[step.id] + 1}); step ids must be unique"))
        else:
            index_of[step.id] = i

    def check_template(text: str, path: tuple[Any, ...], step_index: int, *,
                       expression: bool = False, strict_names: bool = True) -> None:
        error = templater.check_syntax(text, expression=expression)
        if error:
            problems.append(src.problem(path, f"template syntax error: {error}"))
            return
        for top, attr in templater.references(text, expression=expression):
            if top == "inputs" and attr is not None and attr not in rb.inputs:
                hint = suggest(attr, list(rb.inputs))
                problems.append(src.problem(path, f"unknown input 'inputs.{attr}'{hint}"))
            elif top == "steps" and attr is not None:
                j = index_of.get(attr)
                if j is None:
                    hint = suggest(attr, list(index_of))
                    problems.append(src.problem(path, f"unknown step 'steps.{attr}'{hint}"))
                elif j >= step_index:
                    problems.append(src.problem(
                        path, f"'steps.{attr}' refers to a step that has not run yet "
                              f"(step {j + 1}); a step can only read earlier steps' outputs"))
            elif strict_names and top not in allowed_names:
                hint = suggest(top, sorted(CONTEXT_NAMES))
                problems.append(src.problem(path, f"unknown name '{top}' in template{hint} "
                                                  f"(use inputs., steps., run. or alert.)"))

    def walk(value: Any, path: tuple[Any, ...], i: int, strict: bool) -> None:
        if isinstance(value, str) and is_template(value):
            check_template(value, path, i, strict_names=strict)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + (k,), i, strict)
        elif isinstance(value, list):
            for n, v in enumerate(value):
                walk(v, path + (n,), i, strict)

    for i, step in enumerate(rb.steps):
        base = ("steps", i)
        if isinstance(step.when, str):
            check_template(step.when, base + ("when",), i, expression=True)
        for target in ([step.on] if isinstance(step.on, str) else step.on or []):
            if is_template(target):
                check_template(target, base + ("on",), i)
        if step.action not in registry.actions:
            problems.append(src.problem(base + ("action",),
                                        unknown_action_message(step.action, registry.actions)))
        else:
            action = registry.actions[step.action]
            for k, v in step.with_.items():
                walk(v, base + ("with", k), i, k not in action.raw_fields)
            problems.extend(_check_inputs(loaded, i, action, step.with_))
        override = step.rollback
        if not isinstance(override, bool):
            if override.action not in registry.actions:
                problems.append(src.problem(base + ("rollback", "action"),
                                            unknown_action_message(override.action,
                                                                   registry.actions)))
            walk(override.with_, base + ("rollback", "with"), i + 1, True)
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


def _check_inputs(loaded: LoadedRunbook, i: int, action: type, with_: dict[str, Any]
                  ) -> list[Problem]:
    """Validate literal ``with:`` values now; templated ones are checked at run time."""
    base = ("steps", i, "with")
    names = field_names(action.Inputs)
    problems = []
    for key in with_:
        if key not in names:
            hint = suggest(key, names)
            problems.append(loaded.source.problem(
                base + (key,), f"unknown input '{key}' for action {action.name}{hint} "
                               f"(see 'rbk actions {action.name}')", key=True))
    templated = {k for k, v in with_.items() if _templated(v)}
    try:
        action.Inputs.model_validate(with_)
    except ValidationError as exc:
        for p in pydantic_problems(exc, loaded.source, prefix=base):
            parts = p.path.split(".")
            field = parts[2].split("[")[0] if len(parts) >= 3 else None
            if field in templated or p.message.startswith("unknown field"):
                continue
            if p.path == f"steps[{i}].with" and "missing" in p.message:
                p.message = p.message.replace("field", f"input of action {action.name},")
            problems.append(p)
    return problems
