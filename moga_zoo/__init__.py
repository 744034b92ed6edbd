"""MoGA-A/B/C (arXiv 1908.01314) as timm models, and the MoGA search space they come from.

Importing the package loads no torch, so ``moga-zoo --help`` stays fast: the search space is
imported now, ``create``, ``build_moga``, ``list_models`` and ``resolve_architecture`` on first
use. moga_a/b/c join timm's registry as soon as both timm and any part of this package are
imported, in either order (a post-import hook on timm, through wrapt).
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

import wrapt

from .search_space import MOGA_A, MOGA_B, MOGA_C, Architecture, ArchitectureError, Choice

if TYPE_CHECKING:
    from .builder import build_moga
    from .factory import create, list_models, resolve_architecture

__version__ = "0.1.0"

__all__ = [
    "Architecture", "ArchitectureError", "Choice", "MOGA_A", "MOGA_B", "MOGA_C",
    "build_moga", "create", "list_models", "resolve_architecture", "__version__",
]

#: Public names that need torch, and the submodule each loads from.
_LAZY = {"build_moga": "builder", "create": "factory", "list_models": "factory",
         "resolve_architecture": "factory"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def _register_with_timm(timm: ModuleType) -> None:
    """Register moga_a/b/c; runs once timm is imported (at once if it already is)."""
    importlib.import_module(".models", __name__)


wrapt.register_post_import_hook(_register_with_timm, "timm")
