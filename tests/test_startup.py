"""Start-up stays cheap: the common commands import no heavy modules."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, TESTS

HEAVY = ["paramiko", "httpx", "uvicorn", "rich.progress", "rich", "polars"]

PROBE = """
import json, sys
from rbk.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}), file=sys.stderr)
"""


def probe(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE % HEAVY, *args], capture_output=True,
                          text=True, cwd=ROOT)
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_help_validate_list_import_nothing_heavy():
    for args in (["--help"], ["validate", str(TESTS / "runbooks" / "deploy-config.yaml")],
                 ["list"]):
        result = probe(*args)
        assert result["code"] in (0, None), args
        assert result["heavy"] == [], (args, result)


def test_cached_help_is_exactly_clicks_help():
    from click.testing import CliRunner

    from rbk.cli.app import cli

    rendered = CliRunner().invoke(cli, ["--help"], prog_name="rbk", terminal_width=80).output
    cached = (ROOT / "rbk" / "cli" / "help.txt").read_text()
    assert cached == rendered, "run: python -m rbk.cli.gen_help  (help.txt is stale)"
