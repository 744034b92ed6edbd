"""The ``moga-zoo`` command line: one module per subcommand, each with ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

__all__ = ["build_parser", "main"]

#: Subcommand modules (``moga_zoo.cli.<name>``), in the order ``--help`` lists them.
COMMANDS = ("models", "lut", "weights", "predict", "export", "cache", "supernet", "search")


class CommandError(Exception):
    """A user mistake: printed as one line, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moga-zoo", description="MoGA-A/B/C models and the MoGA architecture search.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CommandError, ValueError, FileNotFoundError) as e:
        print(f"moga-zoo {args.command}: error: {e}", file=sys.stderr)
        return 2
