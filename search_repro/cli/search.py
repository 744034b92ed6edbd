"""``moga-zoo search``: rerun MoGA's weighted NSGA-II search (see ``search_repro.reproduce``)."""
from __future__ import annotations

import argparse
import os

COMMANDS = {"search": "rerun the MoGA search (weighted NSGA-II) on the bundled supernet and "
                      "latency table, or your own"}


def register(sub: argparse._SubParsersAction) -> None:
    from search_repro.reproduce import add_arguments

    p = sub.add_parser("search", help=COMMANDS["search"])
    add_arguments(p)
    p.set_defaults(func=run_locked)


def run_locked(args: argparse.Namespace) -> int:
    """The search, holding the lock on its ``--out`` folder: two searches never write into one
    folder at once (the second is refused). Under torchrun only rank 0 writes, and locks."""
    from moga_zoo.fileio import folder_lock
    from search_repro.reproduce import run

    if int(os.environ.get("RANK", "0")) > 0:
        return run(args)
    with folder_lock(args.out, "--out", "another search"):
        return run(args)
