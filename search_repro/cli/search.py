"""``moga-zoo search``: rerun MoGA's weighted NSGA-II search (see ``search_repro.reproduce``)."""
from __future__ import annotations

import argparse

COMMANDS = {"search": "rerun the MoGA search (weighted NSGA-II) on the bundled supernet and "
                      "latency table, or your own"}


def register(sub: argparse._SubParsersAction) -> None:
    from search_repro.reproduce import add_arguments, run

    p = sub.add_parser("search", help=COMMANDS["search"])
    add_arguments(p)
    p.set_defaults(func=run)
