"""The ``moga-zoo`` command line.

A command module has ``COMMANDS`` (each subcommand's name and one-line help) and
``register(subparsers)``, which adds those subcommands with their options. moga_zoo's own modules
are listed in :data:`MODULES`; other installed packages (``search_repro``: ``lut``, ``supernet``,
``search``) add theirs through the ``moga_zoo.commands`` entry-point group, so this package never
imports them. Only the chosen subcommand's module registers options and imports what it needs,
so ``moga-zoo --help`` or ``moga-zoo list`` loads none of the reproduction's search, supernet or
latency code.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib.metadata import entry_points
from types import ModuleType
from typing import Sequence

from ..errors import MogaZooError, run_reporting
from .options import Parser as _Parser

__all__ = ["build_parser", "command_modules", "main", "ENTRY_POINT_GROUP", "MODULES"]

#: moga_zoo's own command modules (``moga_zoo.cli.<name>``), listed first by ``--help``.
MODULES = ("models", "weights", "predict", "export", "cache")

#: Entry-point group through which other packages contribute command modules.
ENTRY_POINT_GROUP = "moga_zoo.commands"


class CommandError(MogaZooError):
    """A user mistake found by a command itself: printed as one line, exit code 2, no traceback."""


def command_modules() -> list[ModuleType]:
    """moga_zoo's command modules, then those installed packages declare under the entry-point group."""
    own = [importlib.import_module(f"{__name__}.{name}") for name in MODULES]
    return own + [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; with ``command``, only that one gets its options (the
    others are listed by name and help), so parsing imports only what ``command`` needs."""
    parser = _Parser(
        prog="moga-zoo", description="MoGA-A/B/C models and the MoGA architecture search.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        if command is None or command in module.COMMANDS:
            module.register(sub)
        else:
            for name, help_ in module.COMMANDS.items():
                sub.add_parser(name, help=help_)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`MogaZooError` becomes one line on stderr and exit code 2, any
    other exception is a bug and keeps its traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), "")
    try:
        args = build_parser(chosen).parse_args(argv)
    except KeyboardInterrupt:  # while the chosen command's modules load
        print("moga-zoo: interrupted (Ctrl-C); nothing was saved", file=sys.stderr)
        return 130
    # the hub client's notes on retries would add lines to the one-line error a fault ends in
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    return run_reporting(f"moga-zoo {args.command}", lambda: args.func(args), ["moga-zoo", *argv])
