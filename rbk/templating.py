"""Sandboxed jinja2 environments for runbook values and shell commands.

* Immutable sandbox, ``StrictUndefined``, no HTML autoescape.
* A field that is one ``{{ expression }}`` keeps its native type
  (``"{{ inputs.n }}"`` stays an int).
* In the shell environment every ``{{ }}`` result is ``shlex.quote``d (lists
  become quoted words) unless the author opts out with ``| unquoted``.
* Only runbook text is ever a template. Values from outside (alerts, command
  output, log lines, API responses) are passed in as data and never rendered.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from rbk.durations import format_duration, format_size, parse_duration, parse_size
from rbk.errors import TemplateError

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)

#: Names a runbook template may use at the top level.
CONTEXT_NAMES = frozenset({"inputs", "steps", "run", "alert"})


class Unquoted(str):
    """A string the shell environment inserts as-is (``| unquoted``, ``| quote``)."""


def _shell_finalize(value: Any) -> Any:
    if isinstance(value, Unquoted):
        return value
    if isinstance(value, list | tuple):
        return shlex.join(str(v) for v in value)
    return shlex.quote(str(value))


def _quote(value: Any) -> Unquoted:
    if isinstance(value, list | tuple):
        return Unquoted(shlex.join(str(v) for v in value))
    return Unquoted(shlex.quote(str(value)))


def _ip(value: Any) -> str:
    """Validate an IP address or CIDR from data before it reaches a config file."""
    import ipaddress

    text = str(value).strip()
    try:
        return str(ipaddress.ip_network(text, strict=False) if "/" in text
                   else ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"not an IP address or network: {text!r}") from None


def _must_match(value: Any, pattern: str) -> str:
    """Refuse a value that does not fully match ``pattern`` (config-file safety)."""
    text = str(value)
    if not re.fullmatch(pattern, text):
        raise ValueError(f"value {text!r} does not match {pattern!r}")
    return text


def _from_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


BUILTIN_FILTERS: dict[str, Callable[..., Any]] = {
    "ip": _ip,
    "must_match": _must_match,
    "from_json": _from_json,
    "duration": parse_duration,
    "size": parse_size,
    "human_duration": format_duration,
    "human_size": format_size,
    "quote": _quote,
    "unquoted": lambda v: Unquoted(str(v)),
    "to_json": lambda v, indent=None: json.dumps(v, indent=indent, sort_keys=True, default=str),
}


def is_single_expression(text: str) -> str | None:
    """The inner expression if ``text`` is exactly one ``{{ ... }}``, else None."""
    m = _SINGLE.match(text)
    if not m or "{{" in m.group("expr") or "}}" in m.group("expr") or "{%" in text:
        return None
    return m.group("expr")


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class Templater:
    """Renders runbook fields; one per run (filters come from plugins)."""

    def __init__(self, extra_filters: dict[str, Callable[..., Any]] | None = None):
        filters = {**BUILTIN_FILTERS, **(extra_filters or {})}
        self.values = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                                    keep_trailing_newline=True)
        self.shell = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                                   finalize=_shell_finalize,
                                                   keep_trailing_newline=True)
        for env in (self.values, self.shell):
            env.filters.update(filters)

    # -- rendering -----------------------------------------------------------

    def render(self, value: Any, variables: dict[str, Any], *, shell: bool = False,
               step: str | None = None, field: str | None = None) -> Any:
        """Render every template string inside ``value`` (dicts and lists recursively)."""
        if isinstance(value, str):
            return self._render_str(value, variables, shell, step, field)
        if isinstance(value, dict):
            return {k: self.render(v, variables, shell=shell, step=step,
                                   field=f"{field}.{k}" if field else str(k))
                    for k, v in value.items()}
        if isinstance(value, list):
            # An argv list is never parsed by a shell: its elements are plain values.
            return [self.render(v, variables, shell=False, step=step, field=f"{field}[{i}]")
                    for i, v in enumerate(value)]
        return value

    def _render_str(self, text: str, variables: dict[str, Any], shell: bool,
                    step: str | None, field: str | None) -> Any:
        if not is_template(text):
            return text
        try:
            expr = None if shell else is_single_expression(text)
            if expr is not None:
                return self._evaluate(expr, variables)
            env = self.shell if shell else self.values
            return env.from_string(text).render(variables)
        except TemplateError as exc:
            raise TemplateError(str(exc), step=step, field=field, template=text) from None
        except (UndefinedError, SecurityError) as exc:
            raise TemplateError(str(exc), step=step, field=field, template=text) from None
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", step=step, field=field,
                                template=text) from None
        except Exception as exc:  # a filter failing on a value, e.g. duration('x')
            raise TemplateError(f"{type(exc).__name__}: {exc}", step=step, field=field,
                                template=text) from None

    def evaluate(self, expression: str | bool, variables: dict[str, Any], *,
                 step: str | None = None, field: str | None = None) -> Any:
        """Evaluate a bare expression (``when:``); ``{{ expr }}`` is accepted too."""
        if isinstance(expression, bool):
            return expression
        expr = is_single_expression(expression) or expression
        try:
            return self._evaluate(expr, variables)
        except TemplateError as exc:
            raise TemplateError(str(exc), step=step, field=field, template=expression) from None
        except (UndefinedError, SecurityError) as exc:
            raise TemplateError(str(exc), step=step, field=field, template=expression) from None
        except TemplateSyntaxError as exc:
            raise TemplateError(f"expression syntax error: {exc.message}", step=step,
                                field=field, template=expression) from None
        except Exception as exc:
            raise TemplateError(f"{type(exc).__name__}: {exc}", step=step, field=field,
                                template=expression) from None

    def _evaluate(self, expr: str, variables: dict[str, Any]) -> Any:
        result = self.values.compile_expression(expr, undefined_to_none=False)(**variables)
        if isinstance(result, Undefined):
            # Touching it raises UndefinedError with jinja's message ("'x' is undefined").
            str(result)
        return result

    # -- static analysis (rbk validate) --------------------------------------

    def check_syntax(self, text: str, *, expression: bool = False) -> str | None:
        """A syntax error message, or None."""
        try:
            self._parse(text, expression)
        except TemplateSyntaxError as exc:
            return exc.message
        return None

    def _parse(self, text: str, expression: bool) -> nodes.Template:
        if expression:
            inner = is_single_expression(text) or text
            return self.values.parse("{{ " + inner + " }}")
        return self.values.parse(text)

    def references(self, text: str, *, expression: bool = False) -> list[tuple[str, str | None]]:
        """``(top_name, first_attribute)`` pairs a template reads, e.g. ("steps", "inspect")."""
        tree = self._parse(text, expression)
        assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
        refs: list[tuple[str, str | None]] = []
        attrs: dict[int, str] = {}
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if isinstance(node.node, nodes.Name):
                if isinstance(node, nodes.Getattr):
                    attrs[id(node.node)] = node.attr
                elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                    attrs[id(node.node)] = node.arg.value
        for name in tree.find_all(nodes.Name):
            if name.ctx == "load" and name.name not in assigned:
                refs.append((name.name, attrs.get(id(name))))
        return refs
