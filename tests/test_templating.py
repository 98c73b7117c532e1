"""Sandboxed templating: native values, shell quoting, untrusted data stays data."""

from __future__ import annotations

import subprocess

import pytest

from rbk.errors import TemplateError
from rbk.templating import Templater

T = Templater()
HOSTILE = "x'; touch /tmp/rbk-pwned; echo '$(id) `id` {{ 7*7 }}"


def test_single_expression_keeps_native_type():
    assert T.render("{{ inputs.n }}", {"inputs": {"n": 5}}) == 5
    assert T.render("{{ inputs.l }}", {"inputs": {"l": [1, 2]}}) == [1, 2]
    assert T.render("n={{ inputs.n }}", {"inputs": {"n": 5}}) == "n=5"


def test_shell_values_are_quoted_and_cannot_inject(tmp_path):
    marker = tmp_path / "pwned"
    value = f"a; touch {marker}; echo $(touch {marker})"
    cmd = T.render("echo {{ v }}", {"v": value}, shell=True)
    out = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True)
    assert out.stdout.strip() == value
    assert not marker.exists()


def test_shell_lists_become_quoted_words():
    assert T.render("ls {{ files }}", {"files": ["a b", "c"]}, shell=True) == "ls 'a b' c"


def test_unquoted_is_an_explicit_opt_out():
    assert T.render("{{ flags | unquoted }} x", {"flags": "-l -a"}, shell=True) == "-l -a x"
    assert T.render("{{ v | quote }}", {"v": "a b"}, shell=True) == "'a b'"


def test_untrusted_data_is_never_rendered_as_a_template():
    out = T.render("label={{ alert.labels.x }}", {"alert": {"labels": {"x": HOSTILE}}})
    assert out == f"label={HOSTILE}"  # "{{ 7*7 }}" stays literal, not 49


def test_sandbox_blocks_attribute_escapes():
    with pytest.raises(TemplateError) as info:
        T.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}, step="s", field="cmd")
    assert "step 's'" in str(info.value)


def test_immutable_sandbox_blocks_mutation():
    with pytest.raises(TemplateError):
        T.render("{{ inputs.l.append(3) }}", {"inputs": {"l": [1]}})


def test_template_error_names_step_field_template_and_undefined_name():
    with pytest.raises(TemplateError) as info:
        T.render("echo {{ inputs.missing }}", {"inputs": {}}, step="deploy", field="with.cmd")
    msg = str(info.value)
    assert "step 'deploy'" in msg and "field 'with.cmd'" in msg
    assert "missing" in msg and "echo {{ inputs.missing }}" in msg


def test_duration_and_size_filters():
    assert T.render("{{ '1h30m' | duration }}", {}) == 5400
    assert T.render("{{ '10M' | size }}", {}) == 10 * 1024 * 1024
    assert T.render("{{ 90 | human_duration }}", {}) == "1m30s"


def test_ip_filter_refuses_config_injection():
    assert T.render("deny {{ v | ip }};", {"v": "2001:db8::1"}) == "deny 2001:db8::1;"
    with pytest.raises(TemplateError) as info:
        T.render("deny {{ v | ip }};", {"v": "1.2.3.4; include /etc/passwd"})
    assert "not an IP address" in str(info.value)


def test_evaluate_when_expressions():
    assert T.evaluate("steps.a.changed and inputs.n > 2",
                      {"steps": {"a": {"changed": True}}, "inputs": {"n": 3}}) is True
    assert T.evaluate(False, {}) is False
