"""Interrupting a long command: one line that says what was saved and how to go on.

Ctrl-C (SIGINT) or SIGTERM during a command run by :func:`moga_zoo.errors.run_reporting` ends it
with one line on stderr instead of a traceback, and exit code 128 + the signal's number (130 for
Ctrl-C, 143 for SIGTERM). A long command tells this module what it has on disk as it goes:

    interrupts.resumable()                                   # nothing saved yet
    ...
    interrupts.resumable(f"generation {g} of {n} in {path}")  # after each save

and the line names the last thing saved and the command that resumes it (the same command line:
every resumable command continues from its saved state), or says that the next run starts over.
A command that cannot resume says what an interrupt leaves behind (:func:`leaves`).
"""
from __future__ import annotations

import shlex
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

__all__ = ["resumable", "leaves", "interrupted_line", "exit_code", "handling_interrupts",
           "close_progress_bars"]


@dataclass
class _Progress:
    kind: str = ""              # "": nothing declared; "resumable"; "leaves"
    note: "str | None" = None   # the last thing saved, or what an interrupt leaves behind
    signal_number: int = int(signal.SIGINT)


_progress = _Progress()


def resumable(saved: "str | None" = None) -> None:
    """Declare the running command resumable, with ``saved`` on disk (None: nothing yet)."""
    _progress.kind, _progress.note = "resumable", saved


def leaves(what: str) -> None:
    """Declare that an interrupt now leaves ``what`` (e.g. "moga_a.onnx unchanged")."""
    _progress.kind, _progress.note = "leaves", what


def interrupted_line(command: Sequence[str]) -> str:
    """The one line printed when ``command`` (its argv, program first) is interrupted."""
    how = "SIGTERM" if _progress.signal_number == signal.SIGTERM else "Ctrl-C"
    if _progress.kind == "leaves":
        return f"interrupted ({how}); {_progress.note}"
    if _progress.kind == "resumable" and _progress.note is None:
        return (f"interrupted ({how}) before anything was saved: the next run starts over "
                f"({shlex.join(command)})")
    if _progress.kind == "resumable":
        return (f"interrupted ({how}); saved {_progress.note}; resume with: "
                f"{shlex.join(command)}")
    return f"interrupted ({how}); nothing was saved"


def close_progress_bars() -> None:
    """Close the tqdm bars a stopped command left open, so that its last line starts a line of
    its own and no bar is redrawn after it (tqdm keeps its live bars in ``tqdm._instances``)."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()


def exit_code() -> int:
    """128 + the number of the signal that interrupted (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + _progress.signal_number


@contextmanager
def handling_interrupts() -> Iterator[None]:
    """A fresh record of progress for one command; within it SIGTERM raises KeyboardInterrupt
    like Ctrl-C (signals are left alone outside the main thread)."""
    global _progress
    _progress = _Progress()

    def on_sigterm(signum: int, frame) -> None:
        _progress.signal_number = signum
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
