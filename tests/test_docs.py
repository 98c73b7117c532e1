"""Docs that cannot drift: generated pages are current, every hook is documented."""

from __future__ import annotations

import inspect

from conftest import ROOT

from rbk import hookspecs
from rbk.cli import gen_docs


def test_generated_pages_are_current(rbk_home):
    for page, text in gen_docs.all_pages().items():
        current = (ROOT / "docs" / page).read_text()
        assert current == text, f"docs/{page} is stale: run python -m rbk.cli.gen_docs"


def test_every_hook_is_documented_with_its_signature():
    hooks_md = (ROOT / "docs" / "hooks.md").read_text()
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("rbk_"):
            assert func.__doc__, f"{name} has no docstring"
            sig = str(inspect.signature(func)).replace("'", "")
            assert f"def {name}{sig}" in hooks_md


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("\n", 1)[1].strip() for b in readme.split("```sh")[1:3]]
    assert blocks[0].split("\n```")[0] == "./scripts/demo"
    assert blocks[1].split("\n```")[0] == "./scripts/test"
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec ./scripts/test")
