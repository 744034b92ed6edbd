"""moga_zoo's cache folder, home of the ONNX export cache and the installed weights."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_DIR_ENV", "cache_dir"]

CACHE_DIR_ENV = "MOGA_ZOO_CACHE"


def cache_dir() -> Path:
    """``$MOGA_ZOO_CACHE``, else ``$XDG_CACHE_HOME/moga_zoo``, else ``~/.cache/moga_zoo``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "moga_zoo"
