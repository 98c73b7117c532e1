"""Building the plugin manager, and the registries filled from it.

Load order (fixed, documented in docs/plugins.md):

1. builtins (``rbk.builtin.*``), registered by module name;
2. the ``rbk`` entry-point group (first-party ``plugins/`` packages and third
   parties alike), minus those disabled by ``RBK_DISABLE_PLUGINS`` or ``-p no:NAME``;
3. modules named in ``RBK_PLUGINS`` (comma-separated), handy for tests;
4. ``pm.check_pending()``, so a misspelled hook name fails loudly.

A plugin that fails to import is a warning naming it and its distribution, not
a crash: an unrelated ``rbk run`` mid-incident must still work.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from rbk.errors import PluginError

BUILTIN_PLUGINS = (
    "rbk.builtin.shell",
    "rbk.builtin.file_template",
    "rbk.builtin.http_check",
    "rbk.builtin.approve",
    "rbk.builtin.notify",
    "rbk.builtin.assert_",
    "rbk.builtin.wait",
    "rbk.builtin.finding",
    "rbk.builtin.core",
    "rbk.serve.alerts",
)


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: list[str]
    builtin: bool


@dataclass
class LoadFailure:
    name: str
    distribution: str | None
    error: str

    def __str__(self) -> str:
        dist = self.distribution or self.name
        return (f"plugin '{self.name}' (distribution {dist}) failed to load: {self.error}; "
                f"disable it with RBK_DISABLE_PLUGINS={self.name} or "
                f"'pip uninstall {dist}'")


@dataclass
class Registry:
    """Everything plugins registered, keyed by name, with the providing plugin."""

    pm: pluggy.PluginManager
    actions: dict[str, type] = field(default_factory=dict)
    action_owner: dict[str, str] = field(default_factory=dict)
    reporters: dict[str, Callable[..., str]] = field(default_factory=dict)
    notifiers: dict[str, Callable[..., None]] = field(default_factory=dict)
    transports: dict[str, Callable[..., Any]] = field(default_factory=dict)
    alert_sources: dict[str, Callable[..., Any]] = field(default_factory=dict)
    filters: dict[str, Callable[..., Any]] = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)
    distributions: dict[str, tuple[str, str]] = field(default_factory=dict)

    def action(self, name: str) -> type:
        try:
            return self.actions[name]
        except KeyError:
            raise PluginError(unknown_action_message(name, self.actions)) from None

    def plugin_label(self, plugin_name: str) -> str:
        dist = self.distributions.get(plugin_name)
        return f"{plugin_name} ({dist[0]} {dist[1]})" if dist else plugin_name

    def plugins(self) -> list[PluginInfo]:
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            dist = self.distributions.get(name)
            out.append(PluginInfo(name=name, distribution=dist[0] if dist else None,
                                  version=dist[1] if dist else None, hooks=hooks,
                                  builtin=name in BUILTIN_PLUGINS))
        return out

    def runbook_paths(self) -> list[Path]:
        paths: list[Path] = []
        # pluggy calls the last registered first; reverse to keep load order.
        for result in reversed(self.pm.hook.rbk_runbook_paths()):
            paths.extend(Path(p) for p in result or [])
        return paths


def unknown_action_message(name: str, known: dict[str, Any] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f" — did you mean '{close[0]}'?" if close else " (see 'rbk actions')"
    return f"unknown action '{name}'{hint}"


_registry: Registry | None = None
_disabled: set[str] = set()


def disable(names: list[str] | set[str]) -> None:
    """Block plugins by name (``-p no:NAME``); call before the first use."""
    _disabled.update(names)
    reset()


def reset() -> None:
    """Forget the cached plugin manager (tests, and after ``disable``)."""
    global _registry
    _registry = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        _registry = _build()
    return _registry


def get_plugin_manager() -> pluggy.PluginManager:
    return get_registry().pm


def _disabled_names() -> set[str]:
    env = os.environ.get("RBK_DISABLE_PLUGINS", "")
    return _disabled | {n.strip() for n in env.split(",") if n.strip()}


def _build() -> Registry:
    from rbk import hookspecs

    pm = pluggy.PluginManager("rbk")
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm=pm)
    disabled = _disabled_names()
    for name in disabled:
        pm.set_blocked(name)

    for modname in BUILTIN_PLUGINS:
        if modname not in disabled:
            pm.register(importlib.import_module(modname), name=modname)

    for ep in _entry_points():
        if ep.name in disabled or pm.is_blocked(ep.name):
            continue
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist else None
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break rbk
            registry.failures.append(LoadFailure(ep.name, dist_name, f"{type(exc).__name__}: {exc}"))
            continue
        if pm.get_plugin(ep.name) is not None:
            other = registry.plugin_label(ep.name)
            raise PluginError(f"two plugins are named '{ep.name}': {other} and "
                              f"{dist_name}; uninstall one")
        pm.register(plugin, name=ep.name)
        if dist is not None:
            registry.distributions[ep.name] = (dist_name, dist.version)

    for modname in filter(None, (m.strip() for m in os.environ.get("RBK_PLUGINS", "").split(","))):
        if modname in disabled:
            continue
        try:
            pm.register(importlib.import_module(modname), name=modname)
        except Exception as exc:
            registry.failures.append(LoadFailure(modname, None, f"{type(exc).__name__}: {exc}"))

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin '{pm.get_name(exc.plugin)}' implements an unknown hook: {exc}; "
                          f"check the hook name against docs/hooks.md") from None

    if os.environ.get("RBK_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()

    _collect(registry)
    return registry


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group="rbk")
    # Sorted so that load order (and clash messages) do not depend on sys.path.
    return sorted(eps, key=lambda ep: ep.name)


def _per_plugin(pm: pluggy.PluginManager, hook_name: str):
    """Yield (plugin_name, hook function) in load order."""
    caller = getattr(pm.hook, hook_name)
    for impl in caller.get_hookimpls():  # registration order (calls run in reverse)
        yield impl.plugin_name, impl.function


def _collect(registry: Registry) -> None:
    from rbk.action import Action

    pm = registry.pm

    def call(hook_name: str, kind: str, target: dict, validate=None):
        owner: dict[str, str] = {}
        for plugin_name, func in _per_plugin(pm, hook_name):
            def register(name_or_obj, obj=None, _p=plugin_name):
                if obj is None:
                    obj = name_or_obj
                    if validate:
                        validate(obj, _p)
                    name = obj.name
                else:
                    name = name_or_obj
                if name in target:
                    raise PluginError(
                        f"{kind} '{name}' is registered by two plugins: "
                        f"{registry.plugin_label(owner[name])} and {registry.plugin_label(_p)}; "
                        f"disable one with RBK_DISABLE_PLUGINS")
                target[name] = obj
                owner[name] = _p
            try:
                func(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {registry.plugin_label(plugin_name)} failed in "
                                  f"{hook_name}: {type(exc).__name__}: {exc}") from exc
        return owner

    def validate_action(cls: Any, plugin_name: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Action)):
            raise PluginError(f"plugin {registry.plugin_label(plugin_name)} registered "
                              f"{cls!r}, which is not an rbk.Action subclass")
        if not getattr(cls, "name", None) or not hasattr(cls, "Inputs"):
            raise PluginError(f"plugin {registry.plugin_label(plugin_name)}: action class "
                              f"{cls.__name__} must set 'name' and 'Inputs'")

    registry.action_owner = call("rbk_actions", "action", registry.actions, validate_action)
    call("rbk_reporters", "report format", registry.reporters)
    call("rbk_notifiers", "notifier", registry.notifiers)
    call("rbk_transports", "transport", registry.transports)
    call("rbk_alert_sources", "alert source", registry.alert_sources)
    for result in reversed(pm.hook.rbk_template_filters()):
        registry.filters.update(result or {})
