"""Inventory files and host patterns."""

from __future__ import annotations

import pytest

from rbk.errors import RunbookError, UsageError
from rbk.hosts.inventory import load_inventory

INVENTORY = """\
defaults: {user: deploy, port: 22, key: ~/.ssh/id_ed25519, known_hosts: ~/.ssh/known_hosts}
hosts:
  web-1: {address: web-1.example.internal}
  web-2: {address: web-2.example.internal, port: 2222}
  web-3: {address: web-3.example.internal, user: ops}
  db-1: {address: db-1.example.internal}
groups:
  web: [web-1, web-2, web-3]
  prod:
    hosts: [web-1, web-2, db-1]
    vars: {user: produser, nginx: {conf: /etc/nginx/nginx.conf}}
  everything: [web, prod]
"""


@pytest.fixture
def inv(tmp_path):
    p = tmp_path / "inventory.yaml"
    p.write_text(INVENTORY)
    return load_inventory(p)


def test_the_documented_form_loads_with_precedence(inv):
    assert inv.hosts["web-2"]["port"] == 2222
    assert inv.hosts["web-1"]["user"] == "produser"  # group vars beat defaults
    assert inv.hosts["web-3"]["user"] == "ops"  # the host's own setting wins
    assert inv.hosts["db-1"]["nginx"] == {"conf": "/etc/nginx/nginx.conf"}


@pytest.mark.parametrize("pattern, hosts", [
    ("all", ["web-1", "web-2", "web-3", "db-1"]),
    ("web", ["web-1", "web-2", "web-3"]),
    ("web:&prod", ["web-1", "web-2"]),
    ("web:!web-3", ["web-1", "web-2"]),
    ("web-*", ["web-1", "web-2", "web-3"]),
    ("db-1,web-2", ["web-2", "db-1"]),
    ("everything:!db-1", ["web-1", "web-2", "web-3"]),
])
def test_host_patterns(inv, pattern, hosts):
    assert inv.select(pattern) == hosts


def test_unknown_names_are_rejected_not_guessed(inv):
    with pytest.raises(UsageError) as info:
        inv.select("web-1; reboot")
    assert "no host or group 'web-1; reboot'" in str(info.value)


def test_bad_inventory_is_located(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("hosts:\n  a: {}\ngroups:\n  g: [a, b]\nextra: 1\n")
    with pytest.raises(RunbookError) as info:
        load_inventory(p)
    messages = [str(x) for x in info.value.problems]
    assert f"{p}:4:10: groups.g[1]: unknown host or group 'b'" in messages
    assert any("unknown inventory key 'extra'" in m for m in messages)
