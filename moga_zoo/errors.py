"""The project's one error family: every error raised for bad input or an outside fault.

The ``moga-zoo`` command prints any :class:`MogaZooError` as one line and exits with code 2;
anything else is a bug and surfaces with its traceback. Classes that existing callers catch as
``ValueError`` or ``RuntimeError`` keep that as a second base.
"""
from __future__ import annotations

import re
import sys
from typing import Callable, Sequence

__all__ = ["MogaZooError", "UsageError", "MissingFileError", "shorten", "one_line", "run_reporting"]


class MogaZooError(Exception):
    """Base of every project error; the message says what is wrong and, where it can, what to do."""


class UsageError(MogaZooError, ValueError):
    """An argument or option value that is not acceptable (the message names it)."""


class MissingFileError(MogaZooError, FileNotFoundError):
    """A file the user named (or the package needs) is not there."""


#: Longest quoted value :func:`one_line` keeps whole.
_LONGEST_QUOTED = 120
_QUOTED = re.compile(r"""'[^'\n]{%d,}'|"[^"\n]{%d,}\"""" % (_LONGEST_QUOTED, _LONGEST_QUOTED))


def shorten(text: str, limit: int = _LONGEST_QUOTED) -> str:
    """``text`` itself, or its start and end around a count of the characters left out."""
    if len(text) <= limit:
        return text
    keep = max(limit // 2 - 10, 8)
    return f"{text[:keep]}...[{len(text) - 2 * keep} more characters]...{text[-keep:]}"


def one_line(error: BaseException) -> str:
    """The message of ``error`` as one line, with any over-long quoted value shortened."""
    text = " ".join(str(error).split()) or type(error).__name__
    return _QUOTED.sub(lambda m: m[0][0] + shorten(m[0][1:-1]) + m[0][0], text)


def run_reporting(prog: str, func: Callable[[], "int | None"],
                  command: "Sequence[str] | None" = None) -> int:
    """Run a command: a :class:`MogaZooError` becomes one line ``PROG: error: ...`` on stderr and
    exit code 2; Ctrl-C or SIGTERM one line saying what was saved and the ``command`` line that
    resumes (:mod:`moga_zoo.interrupts`); any other exception is a bug and keeps its traceback."""
    from . import interrupts

    try:
        with interrupts.handling_interrupts():
            return int(func() or 0)
    except MogaZooError as e:
        interrupts.close_progress_bars()
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        interrupts.close_progress_bars()
        command = [prog.split()[0], *sys.argv[1:]] if command is None else command
        print(f"{prog}: {interrupts.interrupted_line(command)}", file=sys.stderr)
        return interrupts.exit_code()
