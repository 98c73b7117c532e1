"""Safe YAML with source positions.

``load(text, file)`` returns the data plus a map from field paths (tuples of
keys and indices) to ``(line, column)``, so validation errors can say
``FILE:LINE:COL``. Only ``yaml.SafeLoader`` constructs values (no Python
tags); duplicate keys are errors; alias expansion is bounded (alias bombs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from rbk.errors import Problem, RunbookError

#: Logical nodes a document may expand to; a runbook is a few hundred.
MAX_NODES = 100_000

Path = tuple[str | int, ...]


class RunbookLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 makes ``on``, ``off``, ``yes``, ``no`` booleans, which would turn a
    step's ``on:`` key into ``True`` and a title ``NO`` into ``False``.
    """


RunbookLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
RunbookLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


@dataclass
class Source:
    """Parsed YAML plus where each value (and each mapping key) stands."""

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """Line/column of ``path``, falling back to the nearest known parent."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (None, None))

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, message, format_path(path))


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load(text: str, file: str) -> Source:
    loader = RunbookLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            msg = exc.problem or str(exc)
            raise RunbookError([Problem(file, line, col, f"invalid YAML: {msg}")]) from None
        if node is None:
            raise RunbookError([Problem(file, 1, 1, "the file is empty; a runbook is a YAML mapping")])
        source = Source(file=file, data=None)
        problems: list[Problem] = []
        _walk(node, (), source, problems, [0])
        if problems:
            raise RunbookError(problems)
        try:
            source.data = loader.construct_document(node)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            raise RunbookError([Problem(file, line, col,
                                        f"{exc.problem} (only plain YAML is allowed)")]) from None
        return source
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path, source: Source, problems: list[Problem],
          count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        if count[0] == MAX_NODES + 1:
            line, col = _mark(node)
            problems.append(Problem(source.file, line, col,
                                    f"document expands to more than {MAX_NODES} values "
                                    "(alias bomb?); remove the anchors/aliases"))
        return
    source.values.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key_node.tag == "tag:yaml.org,2002:merge":
                _walk(value_node, path, source, problems, count)
                continue
            if key in seen:
                line, col = _mark(key_node)
                problems.append(Problem(source.file, line, col,
                                        f"duplicate key '{key}' (first at line {seen[key]})",
                                        format_path(path + (key,))))
                continue
            seen[key] = key_node.start_mark.line + 1
            source.keys.setdefault(path + (key,), _mark(key_node))
            _walk(value_node, path + (key,), source, problems, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), source, problems, count)


def load_file(path: str) -> Source:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise RunbookError([Problem(path, None, None, "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise RunbookError([Problem(path, None, None, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise RunbookError([Problem(path, None, None, exc.strerror or str(exc))]) from None
    return load(text, path)
