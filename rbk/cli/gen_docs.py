"""Regenerate the generated docs (CLI reference, builtin actions): python -m rbk.cli.gen_docs

tests/test_docs.py fails when a checked-in page differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from rbk.cli.app import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"


def cli_reference() -> str:
    runner = CliRunner()
    out = ["# CLI reference", "",
           "Generated from `rbk --help` by `python -m rbk.cli.gen_docs`; CI checks it is current.",
           ""]
    ctx = click.Context(cli, info_name="rbk")
    commands = [None] + list(cli.list_commands(ctx))
    for name in commands:
        args = ["--help"] if name is None else [name, "--help"]
        text = runner.invoke(cli, args, prog_name="rbk", terminal_width=80).output
        out += [f"## rbk{' ' + name if name else ''}", "", "```", text.rstrip(), "```", ""]
    return "\n".join(out)


def actions_reference() -> str:
    from rbk import plugins
    from rbk.describe import describe_action

    plugins.reset()
    registry = plugins.get_registry()
    out = ["# Builtin actions", "",
           "Generated from the actions' input models by `python -m rbk.cli.gen_docs`.", ""]
    for name, cls in sorted(registry.actions.items()):
        if not registry.action_owner[name].startswith("rbk.builtin."):
            continue
        out += [f"## `{name}`", "", "```", describe_action(registry, cls, False).rstrip(), "```",
                ""]
    return "\n".join(out)


def hooks_reference() -> str:
    import inspect

    from rbk import hookspecs

    out = ["# Hooks reference", "",
           "Generated from `rbk/hookspecs.py` by `python -m rbk.cli.gen_docs`. Implement hooks with",
           "`from rbk import hookimpl`; call order and registration are described in",
           "[plugins.md](plugins.md).", ""]
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("rbk_"):
            continue
        sig = str(inspect.signature(func)).replace("'", "")
        out += [f"## `{name}`", "", "```python", f"def {name}{sig}", "```", "",
                inspect.cleandoc(func.__doc__ or ""), ""]
    return "\n".join(out)


PAGES = {"cli.md": cli_reference, "actions.md": actions_reference, "hooks.md": hooks_reference}

if __name__ == "__main__":
    for page, make in PAGES.items():
        (DOCS / page).write_text(make())
        print(f"wrote docs/{page}", file=sys.stderr)
