"""Per-candidate progress: a scorer reports each finished architecture to whoever listens.

The search's bar counts scored candidates, but an evaluator scores a whole generation in one call
(to share work between architectures). Inside :func:`listening`, every :func:`advance` call of
the scoring code moves the listener's count; without a listener :func:`advance` does nothing.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

__all__ = ["advance", "listening"]

_listener: ContextVar["Callable[[int], None] | None"] = ContextVar("scoring_listener",
                                                                  default=None)


def advance(n: int = 1) -> None:
    """``n`` more architectures are scored (tell the listener, if any)."""
    listener = _listener.get()
    if listener is not None and n:
        listener(n)


@contextmanager
def listening(callback: Callable[[int], None]) -> Iterator[Callable[[], int]]:
    """Route :func:`advance` to ``callback`` inside the block; yields a function that returns
    how many architectures were reported so far (so a caller can make up for a scorer that
    reports nothing)."""
    count = 0

    def hear(n: int) -> None:
        nonlocal count
        count += n
        callback(n)

    token = _listener.set(hear)
    try:
        yield lambda: count
    finally:
        _listener.reset(token)
