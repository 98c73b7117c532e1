"""Inventory files and host patterns (``web``, ``web:&prod``, ``web:!web-3``, globs, ``all``).

Format (docs/inventory.md)::

    defaults: {user: deploy, port: 22}
    hosts:
      web-1: {address: web-1.example.internal}
      local: {transport: local}
    groups:
      web: [web-1]
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rbk import yamlsrc
from rbk.errors import Problem, RunbookError, UsageError
from rbk.hosts.base import Host

LOCAL = "localhost"


@dataclass
class Inventory:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    source: str = "(built-in)"

    @classmethod
    def default(cls) -> Inventory:
        return cls(hosts={LOCAL: {"transport": "local"}})

    def select(self, patterns: str | list[str] | None) -> list[str]:
        """Host names matching ``patterns`` (comma/colon separated), in inventory order.

        No pattern means this machine: ``localhost`` exists implicitly (transport
        local), like Ansible's, and is part of ``all`` only when the file declares it.
        """
        if patterns is None:
            return [LOCAL]
        if isinstance(patterns, str):
            patterns = [patterns]
        terms: list[str] = []
        for p in patterns:
            for part in p.replace(",", ":").split(":"):
                if part.strip():
                    terms.append(part.strip())
        selected: list[str] = []
        for term in terms:
            if term.startswith("!"):
                drop = set(self._expand(term[1:]))
                selected = [h for h in selected if h not in drop]
            elif term.startswith("&"):
                keep = set(self._expand(term[1:]))
                selected = [h for h in selected if h in keep]
            else:
                selected += [h for h in self._expand(term) if h not in selected]
        ordered = [h for h in self.hosts if h in selected]
        return ordered + [LOCAL] if LOCAL in selected and LOCAL not in self.hosts else ordered

    def _expand(self, term: str) -> list[str]:
        if term == "all":
            return list(self.hosts)
        if term in self.groups:
            out: list[str] = []
            for member in self.groups[term]:
                out += [h for h in self._expand(member) if h not in out]
            return out
        if term in self.hosts or term == LOCAL:
            return [term]
        if any(c in term for c in "*?["):
            return [h for h in self.hosts if fnmatch.fnmatchcase(h, term)]
        raise UsageError(f"no host or group '{term}' in inventory {self.source}; "
                         f"known: {', '.join(list(self.groups) + list(self.hosts))}")

    def host(self, name: str, transports: dict[str, Any]) -> Host:
        spec = self.hosts.get(name, {"transport": "local"} if name == LOCAL else None)
        if spec is None:
            raise UsageError(f"no host '{name}' in inventory {self.source}")
        # Only localhost is local by default: a host without an address is reached over
        # SSH by its name (or ~/.ssh/config's HostName), never silently run here.
        kind = spec.get("transport") or ("local" if name == LOCAL else "ssh")
        factory = transports.get(kind)
        if factory is None:
            raise UsageError(f"host '{name}': no transport '{kind}' is installed "
                             f"(have: {', '.join(sorted(transports))}); see 'rbk plugins'")
        return Host(name=name, vars=dict(spec), transport_kind=kind, _factory=factory)


def load_inventory(path: str | Path) -> Inventory:
    src = yamlsrc.load_file(str(path))
    data = src.data
    file = str(path)
    if not isinstance(data, dict):
        raise RunbookError([Problem(file, 1, 1, "an inventory is a mapping with hosts and groups")])
    problems = []
    for key in data:
        if key not in ("defaults", "hosts", "groups"):
            problems.append(src.problem((key,), f"unknown inventory key '{key}'", key=True))
    defaults = data.get("defaults") or {}
    hosts_in = data.get("hosts") or {}
    if not isinstance(hosts_in, dict):
        problems.append(src.problem(("hosts",), "hosts must be a mapping of name -> settings"))
        hosts_in = {}
    hosts: dict[str, dict[str, Any]] = {}
    for name, spec in hosts_in.items():
        if spec is not None and not isinstance(spec, dict):
            problems.append(src.problem(("hosts", name), "host settings must be a mapping"))
            continue
        hosts[str(name)] = {**defaults, **(spec or {})}
    groups_in = data.get("groups") or {}
    groups: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, Any]] = {}
    for name, spec in (groups_in.items() if isinstance(groups_in, dict) else []):
        # A group is a list of members, or {hosts: [...], vars: {...}}.
        members, path = spec, ("groups", name)
        if isinstance(spec, dict):
            unknown = set(spec) - {"hosts", "vars"}
            if unknown:
                problems.append(src.problem(path, f"unknown group key(s) {sorted(unknown)}; "
                                                  f"use hosts and vars"))
            members, path = spec.get("hosts") or [], path + ("hosts",)
            group_vars[str(name)] = dict(spec.get("vars") or {})
        if not isinstance(members, list):
            problems.append(src.problem(path, "a group is a list of host or group names"))
            continue
        for i, m in enumerate(members):
            if m not in hosts and m not in groups_in:
                problems.append(src.problem(path + (i,), f"unknown host or group '{m}'"))
        groups[str(name)] = [str(m) for m in members]
    if problems:
        raise RunbookError(problems)
    inventory = Inventory(hosts=hosts, groups=groups, source=file)
    # Precedence: defaults < group vars (in file order) < the host's own settings.
    for group, gvars in group_vars.items():
        for host in inventory._expand(group):
            own = hosts_in.get(host) or {}
            inventory.hosts[host] = {**defaults, **{k: v for k, v in inventory.hosts[host].items()
                                                    if k not in own}, **gvars, **own}
    return inventory


SECRET_HOST_KEYS = ("become_password", "key_passphrase")


def resolve_host_secrets(host: Host, runbook: Any, inputs: dict[str, Any],
                         add_secret: Any) -> None:
    """``become_password``/``key_passphrase`` as ``{env: NAME}`` or ``{input: NAME}`` (a
    secret input of the runbook) become their value; every such value is redacted."""
    for key in SECRET_HOST_KEYS:
        ref = host.vars.get(key)
        if isinstance(ref, dict):
            host.vars[key] = _secret_value(host.name, key, ref, runbook, inputs)
        if host.vars.get(key) is not None:
            add_secret(str(host.vars[key]))


def _secret_value(host: str, key: str, ref: dict[str, Any], runbook: Any,
                  inputs: dict[str, Any]) -> str:
    where = f"inventory: host '{host}': {key}"
    if set(ref) == {"env"}:
        value = os.environ.get(str(ref["env"]))
        if value is None:
            raise UsageError(f"{where} is ${ref['env']}, which is not set: export it first")
        return value
    if set(ref) == {"input"}:
        name = str(ref["input"])
        declared = getattr(runbook, "inputs", {}).get(name)
        if declared is None or not getattr(declared, "secret", False):
            raise UsageError(f"{where} names input '{name}', which this runbook does not "
                             f"declare with secret: true")
        if inputs.get(name) in (None, ""):
            raise UsageError(f"{where} needs input '{name}': pass it with -e {name}=...")
        return str(inputs[name])
    raise UsageError(f"{where} must be a string, {{env: NAME}} or {{input: NAME}}")
