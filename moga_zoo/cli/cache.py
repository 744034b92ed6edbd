"""``moga-zoo cache``: list or clear the ONNX export cache."""
from __future__ import annotations

import argparse
import json
import time

__all__ = ["COMMANDS", "register"]

COMMANDS = {"cache": "list or clear the ONNX export cache"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help=COMMANDS["cache"],
                       description="The ONNX exports that predict's onnxruntime path caches, most "
                                   "recently used first, and the cache's bound "
                                   "($MOGA_ZOO_CACHE_MAX_MB; beyond it the least recently used "
                                   "exports are removed). Installed weights are not part of it.")
    p.add_argument("action", nargs="?", choices=("list", "clear"), default="list",
                   help="list (default) or clear")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cache)


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def _cache(args: argparse.Namespace) -> int:
    from ..fileio import check_output_folder
    from ..inference.cache import cache_dir, cache_entries, cache_limit_bytes, clear_cache

    folder = cache_dir() / "onnx"
    if args.action == "clear":
        if folder.exists():
            check_output_folder(folder, "the export cache")
        removed = clear_cache()
        freed = sum(e.size for e in removed)
        if args.json:
            print(json.dumps({"folder": str(folder), "removed": len(removed), "bytes": freed}))
        else:
            print(f"removed {len(removed)} cached exports ({_mb(freed)}) from {folder}")
        return 0
    entries, limit = cache_entries(), cache_limit_bytes()
    total = sum(e.size for e in entries)
    if args.json:
        print(json.dumps({"folder": str(folder), "bytes": total, "limit_bytes": limit,
                          "entries": [{"file": e.path.name, "bytes": e.size,
                                       "last_used": e.last_used} for e in entries]}, indent=2))
        return 0
    print(f"{folder}: {len(entries)} cached exports, {_mb(total)} of {_mb(limit)}")
    for e in entries:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
        print(f"  {_mb(e.size):>10}  {used}  {e.path.name}")
    return 0
