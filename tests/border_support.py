"""Shared helpers of the test_border_* tests: every command-line parser of the project, walked
option by option, and a runner for any of its command lines that captures exit code and output."""
from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Callable, Iterator

#: The command lines of the project: ``moga-zoo`` and the module CLIs (name -> parser factory,
#: main function).


def _moga_zoo():
    from moga_zoo.cli import build_parser, main

    return build_parser, main


def _protocol():
    from search_repro import protocol

    return protocol.build_parser, protocol.main


def _verify():
    from search_repro import verify

    return verify.build_parser, verify.main


def _reproduce():
    from moga_zoo.cli.options import Parser
    from search_repro import reproduce

    def build() -> Parser:
        p = Parser(prog="python -m search_repro.reproduce")
        reproduce.add_arguments(p)
        return p
    return build, reproduce.main


def _train():
    from moga_zoo.cli.options import Parser
    from search_repro.supernet import train

    def build() -> Parser:
        p = Parser(prog="python -m search_repro.supernet.train")
        train.add_train_arguments(p)
        return p
    return build, train.main


CLIS: dict[str, Callable] = {"moga-zoo": _moga_zoo, "protocol": _protocol, "verify": _verify,
                             "reproduce": _reproduce, "train": _train}


def walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    """(command path, action) of every option of ``parser`` and its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def every_option() -> list[tuple[str, argparse.Action]]:
    """Every option of every command line of the project."""
    return [item for name, cli in CLIS.items() for item in walk(cli()[0](), name)]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``argv`` (its first word names the command line of :data:`CLIS`)."""
    main = CLIS[argv[0]]()[1]
    try:
        code = main(argv[1:])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def check_one_line(code: int, err: str, needle: str, want: int = 2) -> None:
    """Exit code ``want``, no traceback, exactly one stderr line matching ``needle``."""
    assert "Traceback" not in err, err
    lines = err.strip("\n").split("\n")
    assert code == want, err
    assert len(lines) == 1, err
    assert re.search(needle, lines[0]), lines[0]


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every entry under ``roots``: type, size, mtime and (for small files) content."""
    seen = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st = p.lstat()
                content = p.read_bytes() if p.is_file() and st.st_size < 1 << 16 else None
                seen[str(p)] = (st.st_mode, st.st_size, st.st_mtime_ns, content)
    return seen
