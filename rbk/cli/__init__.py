"""The ``rbk`` command. Thin: parse, call the library, print.

``main`` answers a bare ``rbk``/``rbk --help`` from a pre-rendered text
(``help.txt``, kept equal to click's output by tests/test_cli_help.py) so the
commonest invocation does not pay for importing click.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in ([], ["--help"], ["-h"]):
        cached = os.path.join(os.path.dirname(__file__), "help.txt")
        if os.path.isfile(cached):
            with open(cached, encoding="utf-8") as fh:
                sys.stdout.write(fh.read())
            return 0
    from rbk.cli.app import run_cli

    return run_cli(args)
