"""Regenerate rbk/cli/help.txt (the pre-rendered ``rbk --help``): python -m rbk.cli.gen_help"""

from pathlib import Path

from click.testing import CliRunner

from rbk.cli.app import cli

if __name__ == "__main__":
    text = CliRunner().invoke(cli, ["--help"], prog_name="rbk", terminal_width=80).output
    Path(__file__).with_name("help.txt").write_text(text)
    print(text, end="")
