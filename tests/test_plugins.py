"""Plugin loading: clashes name both plugins, broken plugins warn, hooks are checked."""

from __future__ import annotations

import json

from rbk import plugins


def test_builtins_load_like_plugins(cli):
    data = json.loads(cli("plugins", "--json").out)
    names = {p["name"] for p in data["plugins"]}
    assert "rbk.builtin.shell" in names and "rbk.builtin.core" in names


def test_action_claimed_by_two_plugins_is_an_error_naming_both(cli, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "clash_a")
    result = cli("actions")
    assert result.code == 4
    assert "action 'shell' is registered by two plugins: rbk.builtin.shell and clash_a" in result.err


def test_disable_plugin_by_env_and_flag(cli, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "clash_a")
    monkeypatch.setenv("RBK_DISABLE_PLUGINS", "clash_a")
    assert cli("actions").code == 0
    monkeypatch.delenv("RBK_DISABLE_PLUGINS")
    result = cli("-p", "no:clash_a", "actions")
    assert result.code == 0 and "shell" in result.out


def test_broken_plugin_is_a_named_warning_not_a_crash(cli, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "broken_import")
    result = cli("actions")
    assert result.code == 0 and "shell" in result.out
    assert "plugin 'broken_import'" in result.err and "this plugin needs libfoo" in result.err
    assert "RBK_DISABLE_PLUGINS=broken_import" in result.err
    check = cli("plugins", "--check")
    assert check.code == 4 and "FAILED TO LOAD" in check.out


def test_misspelled_hook_fails_loudly(cli, monkeypatch):
    monkeypatch.setenv("RBK_PLUGINS", "bad_hook")
    result = cli("actions")
    assert result.code == 4 and "rbk_actoins" in result.err


def test_registry_is_cached_and_resettable(rbk_home):
    first = plugins.get_registry()
    assert plugins.get_registry() is first
    plugins.reset()
    assert plugins.get_registry() is not first
