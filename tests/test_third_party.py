"""A separately installed package adds an action: proof that plugins need no configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import run_rbk

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rbk-hello"
version = "0.3.1"

[project.entry-points.rbk]
hello = "rbk_hello"
"""

MODULE = '''\
from pathlib import Path

from rbk import Action, Plan, Result, hookimpl
from rbk.action import StrictInputs


class GreetInputs(StrictInputs):
    path: str
    name: str


class Greet(Action):
    """Writes a greeting file; rollback removes it."""

    name = "hello.greet"
    description = "Write a greeting to a file."
    Inputs = GreetInputs
    rollback_support = "full"

    def check(self, ctx, inputs):
        p = ctx.path(inputs.path)
        text = f"hello, {inputs.name}\\n"
        current = p.read_text() if p.exists() else None
        return Plan(changed=current != text, summary=f"greet {inputs.name} in {p}",
                    data={"path": str(p), "text": text})

    def apply(self, ctx, plan):
        Path(plan.data["path"]).write_text(plan.data["text"])
        return Result(outputs={"greeted": True}, data=plan.data)

    def rollback(self, ctx, result):
        Path(result.data["path"]).unlink()


@hookimpl
def rbk_actions(register):
    register(Greet)
'''

RUNBOOK = """\
name: greet
inputs:
  who: {default: world}
steps:
  - id: greet
    action: hello.greet
    with: {path: greeting.txt, name: "{{ inputs.who }}"}
"""


def test_pip_installed_plugin_is_listed_and_runs(tmp_path):
    src = tmp_path / "rbk-hello"
    (src / "rbk_hello").mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "rbk_hello" / "__init__.py").write_text(textwrap.dedent(MODULE))
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--no-build-isolation", "--disable-pip-version-check",
                          "--target", str(site), str(src)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": str(site), "RBK_STATE_DIR": str(tmp_path / "state")}

    plugins = run_rbk("plugins", "--json", env=env, cwd=tmp_path)
    listed = {p["name"]: p for p in json.loads(plugins.stdout)["plugins"]}
    assert listed["hello"]["distribution"] == "rbk-hello"
    assert listed["hello"]["version"] == "0.3.1"
    assert listed["hello"]["hooks"] == ["rbk_actions"]

    actions = run_rbk("actions", "hello.greet", env=env, cwd=tmp_path)
    assert actions.returncode == 0
    assert "hello.greet — Write a greeting to a file." in actions.stdout
    assert "plugin: hello (rbk-hello)" in actions.stdout

    (tmp_path / "greet.yaml").write_text(RUNBOOK)
    dry = run_rbk("run", "greet.yaml", "--dry-run", "-e", "who=ops", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "greet ops in" in dry.stdout
    assert not (tmp_path / "greeting.txt").exists()

    real = run_rbk("run", "greet.yaml", "-e", "who=ops", env=env, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert (tmp_path / "greeting.txt").read_text() == "hello, ops\n"

    # Without the package on the path, the runbook is invalid, not a crash.
    gone = run_rbk("validate", "greet.yaml", env={"RBK_STATE_DIR": str(tmp_path / "state")},
                   cwd=tmp_path)
    assert gone.returncode == 2 and "unknown action 'hello.greet'" in gone.stderr
