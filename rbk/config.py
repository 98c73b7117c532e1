"""User configuration: ``./rbk.yaml``, else ``~/.config/rbk/config.yaml``.

Keys: ``runbook_paths`` (list), ``inventory`` (path), ``budget``
(``max_changed_steps``, ``max_hosts``), ``forks``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rbk.errors import UsageError

KNOWN = {"runbook_paths", "inventory", "budget", "forks", "serve"}


def config_path() -> Path | None:
    local = Path("rbk.yaml")
    if local.is_file():
        return local
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    user = Path(base) / "rbk" / "config.yaml"
    return user if user.is_file() else None


def load_config() -> dict[str, Any]:
    path = config_path()
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the config must be a mapping")
    unknown = set(data) - KNOWN
    if unknown:
        raise UsageError(f"{path}: unknown config key(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(KNOWN))}")
    data["_path"] = str(path)
    return data
