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
    out = ["# Actions reference", "",
           "Every builtin and first-party (`plugins/rbk-*`) action, generated from the "
           "actions' input models by `python -m rbk.cli.gen_docs`.", ""]
    for name, cls in sorted(registry.actions.items()):
        owner = registry.action_owner[name]
        dist = registry.distributions.get(owner, ("",))[0] or ""
        if not (owner.startswith("rbk.builtin.") or dist.startswith("rbk-")):
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


def runbook_pages() -> dict[str, str]:
    """docs/runbooks/NAME.md from each runbook's metadata (rbk show NAME --format markdown),
    and a catalogue."""
    from rbk import plugins
    from rbk.describe import describe_runbook
    from rbk.loader import load_runbook

    registry = plugins.get_registry()
    pages: dict[str, str] = {}
    rows = ["# Runbook catalogue", "",
            "Generated from `runbooks/` by `python -m rbk.cli.gen_docs`; CI checks it is current.",
            "", "| runbook | what it does |", "|---|---|"]
    for path in sorted((DOCS.parent / "runbooks").glob("*.yaml")):
        loaded = load_runbook(path)
        rb = loaded.runbook
        pages[f"runbooks/{rb.name}.md"] = describe_runbook(loaded, registry, "markdown")
        rows.append(f"| [{rb.name}]({rb.name}.md) | {rb.title} |")
    pages["runbooks/README.md"] = "\n".join(rows) + "\n"
    return pages


PAGES = {"cli.md": cli_reference, "actions.md": actions_reference, "hooks.md": hooks_reference}


def all_pages() -> dict[str, str]:
    return {**{page: make() for page, make in PAGES.items()}, **runbook_pages()}

if __name__ == "__main__":
    for page, text in all_pages().items():
        (DOCS / page).parent.mkdir(parents=True, exist_ok=True)
        (DOCS / page).write_text(text)
        print(f"wrote docs/{page}", file=sys.stderr)
