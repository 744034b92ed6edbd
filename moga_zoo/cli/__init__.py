"""The ``moga-zoo`` command line: one module per subcommand, each with ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import typing
from typing import Sequence

from ..errors import MogaZooError, one_line

__all__ = ["build_parser", "main"]

#: Subcommand modules (``moga_zoo.cli.<name>``), in the order ``--help`` lists them.
COMMANDS = ("models", "lut", "weights", "predict", "export", "supernet", "search")


class CommandError(MogaZooError):
    """A user mistake found by a command itself: printed as one line, exit code 2, no traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a wrong option is reported in one line (no usage block)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="moga-zoo", description="MoGA-A/B/C models and the MoGA architecture search.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`MogaZooError` becomes one line on stderr and exit code 2, any
    other exception is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    # the hub client's notes on retries would add lines to the one-line error a fault ends in
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    try:
        return int(args.func(args) or 0)
    except MogaZooError as e:
        print(f"moga-zoo {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 2
