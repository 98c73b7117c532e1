"""Runbook loading and validation: every mistake reported with FILE:LINE:COL."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import TESTS

from rbk.errors import RunbookError
from rbk.plugins import get_registry
from rbk.validate import load_and_validate


def problems_of(path) -> list[str]:
    with pytest.raises(RunbookError) as info:
        load_and_validate(path, get_registry())
    return [str(p) for p in info.value.problems]


def write(tmp_path, text: str, name: str = "rb.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_five_mistakes_give_five_located_messages(rbk_home, cli):
    shutil.copy(TESTS / "runbooks" / "five-mistakes.yaml", rbk_home / "bad.yaml")
    result = cli("validate", "bad.yaml")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    located = [line for line in lines if re.match(r"^bad\.yaml:\d+:\d+: ", line)]
    assert len(located) == 5, result.err
    joined = "\n".join(located)
    assert "bad.yaml:7:13: steps[0].action: unknown action 'ngnix.limit_conn'" in joined
    assert "bad.yaml:11:5: steps[1].whne: unknown field 'whne' — did you mean 'when'?" in joined
    assert "bad.yaml:13:12:" in joined and "'steps.third' refers to a step that has not run yet" in joined
    assert "bad.yaml:17:12:" in joined and "unknown input 'inputs.limt' — did you mean 'limit'?" in joined
    assert "bad.yaml:18:9: steps[3].id: duplicate step id 'second'" in joined
    assert "Traceback" not in result.err


def test_unknown_action_suggests_closest(rbk_home, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "fake_actions")
    p = write(rbk_home, "name: x\nsteps:\n  - id: a\n    action: fake.limti_conn\n")
    assert problems_of(p) == [f"{p}:4:13: steps[0].action: unknown action 'fake.limti_conn' "
                              "— did you mean 'fake.limit_conn'?"]


def test_unknown_action_input_suggests_and_points_at_key(rbk_home):
    p = write(rbk_home, "name: x\nsteps:\n  - id: a\n    action: shell\n    with:\n"
                        "      cmd: [echo]\n      creats: /tmp/x\n")
    (msg,) = problems_of(p)
    assert msg.startswith(f"{p}:7:7: steps[0].with.creats: unknown input 'creats' for action shell")
    assert "did you mean 'creates'?" in msg


def test_wrong_literal_input_type_is_reported_before_running(rbk_home):
    p = write(rbk_home, "name: x\nsteps:\n  - id: a\n    action: http.check\n    with:\n"
                        "      url: http://127.0.0.1:9/\n      status: lots\n")
    (msg,) = problems_of(p)
    assert f"{p}:7:" in msg and "status" in msg


def test_missing_required_action_input(rbk_home):
    p = write(rbk_home, "name: x\nsteps:\n  - id: a\n    action: shell\n")
    (msg,) = problems_of(p)
    assert "missing required input of action shell, 'cmd'" in msg or "'cmd'" in msg
    assert msg.startswith(f"{p}:3:")


def test_duplicate_keys_are_rejected(rbk_home):
    p = write(rbk_home, "name: x\nname: y\nsteps: []\n")
    assert problems_of(p) == [f"{p}:2:1: name: duplicate key 'name' (first at line 1)"]


def test_python_tags_are_rejected(rbk_home):
    p = write(rbk_home, "name: !!python/object/apply:os.system ['touch pwned']\nsteps: []\n")
    (msg,) = problems_of(p)
    assert f"{p}:1:7:" in msg and "only plain YAML" in msg
    assert not (rbk_home / "pwned").exists()


def test_alias_bomb_is_bounded(rbk_home):
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        bomb.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    p = write(rbk_home, "\n".join(bomb) + "\nname: x\nsteps: []\n")
    (msg,) = problems_of(p)
    assert "alias bomb" in msg


def test_malformed_yaml_gives_line_and_column(rbk_home, cli):
    write(rbk_home, "name: x\nsteps:\n  - id: a\n   action: shell\n")
    result = cli("validate", "rb.yaml")
    assert result.code == 2
    assert re.match(r"rb\.yaml:4:\d+: invalid YAML", result.err)
    assert "Traceback" not in result.err


def test_yaml_12_booleans_on_and_no_stay_words(rbk_home):
    p = write(rbk_home, "name: x\ntitle: NO\nsteps:\n  - id: a\n    action: wait\n"
                        "    on: localhost\n    with: {duration: 1}\n")
    loaded = load_and_validate(p, get_registry())
    assert loaded.runbook.title == "NO"
    assert loaded.runbook.steps[0].on == "localhost"


def test_template_syntax_error_is_located(rbk_home):
    p = write(rbk_home, "name: x\nsteps:\n  - id: a\n    action: shell\n"
                        "    with:\n      cmd: 'echo {{ inputs.x '\n")
    (msg,) = problems_of(p)
    assert msg.startswith(f"{p}:6:12: steps[0].with.cmd: template syntax error")


def test_input_default_of_wrong_type(rbk_home):
    p = write(rbk_home, "name: x\ninputs:\n  n: {type: int, default: ten}\nsteps:\n"
                        "  - id: a\n    action: wait\n    with: {duration: 1}\n")
    (msg,) = problems_of(p)
    assert msg.startswith(f"{p}:3:27: inputs.n.default: input 'n': expected int")


def test_schema_command_prints_json_schema(cli):
    result = cli("schema")
    schema = json.loads(result.out)
    assert result.code == 0
    assert {"name", "steps"} <= set(schema["required"])
    step = schema["$defs"]["Step"]["properties"]
    assert {"id", "action", "with", "on", "when", "retries", "delay", "timeout",
            "on_failure", "rollback", "approve"} <= set(step)


def test_every_shipped_runbook_validates(cli):
    result = cli("validate", str(TESTS.parent / "runbooks"))
    assert result.code == 0, result.err
