"""Where rbk keeps run history: ``$RBK_STATE_DIR``, else the XDG state dir."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    env = os.environ.get("RBK_STATE_DIR")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
        path = Path(base) / "rbk"
    path.mkdir(parents=True, exist_ok=True)
    return path
