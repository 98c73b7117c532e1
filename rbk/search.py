"""Finding runbooks by name: ./runbooks, $RBK_PATH, configured paths, then plugins'."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rbk.config import load_config
from rbk.errors import UsageError
from rbk.loader import suggest


@dataclass
class Found:
    name: str
    path: Path


def search_paths() -> list[Path]:
    from rbk.plugins import get_registry

    paths = [Path("runbooks")]
    paths += [Path(p) for p in os.environ.get("RBK_PATH", "").split(os.pathsep) if p]
    cfg = load_config()
    base = Path(cfg["_path"]).parent if "_path" in cfg else Path(".")
    paths += [base / Path(p).expanduser() for p in cfg.get("runbook_paths", [])]
    paths += get_registry().runbook_paths()
    seen, out = set(), []
    for p in paths:
        key = p.resolve() if p.exists() else p
        if key not in seen and p.is_dir():
            seen.add(key)
            out.append(p)
    return out


def list_runbooks() -> list[Found]:
    """Every runbook file on the search path; the first of a name wins."""
    found: dict[str, Found] = {}
    for directory in search_paths():
        for path in sorted(directory.glob("*.y*ml")):
            if path.suffix in (".yaml", ".yml") and path.stem not in found:
                found[path.stem] = Found(path.stem, path)
    return list(found.values())


def find_runbook(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        if p.is_file():
            return p
        raise UsageError(f"no runbook file {name_or_path}")
    for f in list_runbooks():
        if f.name == name_or_path:
            return f.path
    names = [f.name for f in list_runbooks()]
    hint = suggest(name_or_path, names)
    raise UsageError(f"no runbook named '{name_or_path}'{hint}; searched "
                     f"{', '.join(str(d) for d in search_paths()) or 'nothing'} "
                     f"(see 'rbk list')")
