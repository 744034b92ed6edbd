"""The ONNX export cache: where it lives, its size bound (least recently used files go first),
and listing or clearing it (``moga-zoo cache``)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from .. import __version__
from ..cache import cache_dir

__all__ = ["DEFAULT_LIMIT_MB", "CacheEntry", "cache_dir", "cache_limit_bytes", "onnx_cache_path",
           "cache_entries", "touch", "prune_cache", "clear_cache"]

#: Default bound of the ONNX cache (``$MOGA_ZOO_CACHE_MAX_MB`` overrides it): about 50 exports
#: of a MoGA model at 224x224 (~20 MB each).
DEFAULT_LIMIT_MB = 1024


@dataclass(frozen=True)
class CacheEntry:
    """One cached export: its file, size in bytes and last use (seconds since the epoch)."""
    path: Path
    size: int
    last_used: float


def cache_limit_bytes() -> int:
    """The bound on the ONNX cache: ``$MOGA_ZOO_CACHE_MAX_MB`` megabytes, else the default."""
    from ..cli.options import env_number

    return int(env_number("MOGA_ZOO_CACHE_MAX_MB", DEFAULT_LIMIT_MB) * 2**20)


def onnx_cache_path(model: nn.Module, input_size: Sequence[int], root: Path | None = None) -> Path:
    """Cache file of ``model``'s ONNX export: keyed by its name, structure, weights and input shape."""
    digest = hashlib.sha256()
    digest.update(f"{__version__}|{torch.__version__}|{tuple(input_size)}|{model!r}".encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    cfg = getattr(model, "pretrained_cfg", None) or {}
    name = str(cfg.get("architecture") or type(model).__name__).replace("/", "_")
    shape = "x".join(str(s) for s in input_size)
    return (root or cache_dir()) / "onnx" / f"{name}-{shape}-{digest.hexdigest()[:24]}.onnx"


def cache_entries(root: Path | None = None) -> list[CacheEntry]:
    """The cached exports, most recently used first."""
    folder = (root or cache_dir()) / "onnx"
    entries = []
    for path in folder.glob("*.onnx") if folder.is_dir() else ():
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed meanwhile by another process
            continue
        entries.append(CacheEntry(path, stat.st_size, stat.st_mtime))
    return sorted(entries, key=lambda e: (-e.last_used, e.path.name))


def touch(path: Path) -> None:
    """Mark a cached export as just used (its modification time orders the eviction)."""
    os.utime(path)


def prune_cache(root: Path | None = None, limit: int | None = None,
                keep: Path | None = None) -> list[CacheEntry]:
    """Remove the least recently used exports until the cache is within ``limit`` bytes (default
    :func:`cache_limit_bytes`); ``keep`` (the export in use) is never removed. Returns what went."""
    limit = cache_limit_bytes() if limit is None else limit
    entries = cache_entries(root)
    total = sum(e.size for e in entries)
    removed = []
    for entry in reversed(entries):
        if total <= limit:
            break
        if keep is not None and entry.path == keep:
            continue
        entry.path.unlink(missing_ok=True)
        total -= entry.size
        removed.append(entry)
    return removed


def clear_cache(root: Path | None = None) -> list[CacheEntry]:
    """Remove every cached export; returns what was removed."""
    entries = cache_entries(root)
    for entry in entries:
        entry.path.unlink(missing_ok=True)
    return entries
