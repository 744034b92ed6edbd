"""Read the timings out of the phone benchmark tools' own logs.

* LiteRT / TensorFlow Lite ``benchmark_model``: the last ``count=N first=... min=... avg=...``
  line is the timed run (the one before it is the warm-up); recent releases append
  ``p5=... median=... p95=...``. Microseconds, possibly in ``1.24027e+06`` notation.
* ExecuTorch ``executor_runner``: ``Iteration i of N: x ms`` per execution (recent releases) and
  the summary ``Model executed successfully N time(s) in T ms.``
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from moga_zoo.errors import MogaZooError

__all__ = ["LogParseError", "ToolRun", "parse_benchmark_model", "parse_executor_runner", "PARSERS"]

_NUMBER = r"([0-9.]+(?:[eE][+-]?[0-9]+)?)"
_COUNT = re.compile(rf"count=(\d+) first={_NUMBER} curr={_NUMBER} min={_NUMBER} max={_NUMBER} "
                    rf"avg={_NUMBER} std={_NUMBER}(?: p5={_NUMBER} median={_NUMBER} p95={_NUMBER})?")
_GRAPH = re.compile(r"Graph: \[(.*)\]")
_DONE = re.compile(r"Inference timings in us: Init: ")
_LOADED = re.compile(r"Model file (\S+) is loaded\.")
_ITERATION = re.compile(rf"Iteration (\d+) of (\d+): {_NUMBER} ms")
_SUMMARY = re.compile(rf"Model executed successfully (\d+) time\(s\) in {_NUMBER} ms\.")


class LogParseError(MogaZooError, ValueError):
    """A benchmark log without the timing lines its tool prints after a successful run."""


@dataclass(frozen=True)
class ToolRun:
    """What one invocation of a benchmark tool measured (milliseconds)."""

    model_path: str | None
    samples_ms: tuple[float, ...]  #: per-execution times, or the run's median (or mean) alone
    runs: int                      #: timed executions
    min_ms: float


def parse_benchmark_model(text: str, warmup: int = 0) -> ToolRun:
    """The timed run of a ``benchmark_model`` log: its median (the mean on releases that print
    no median) as the one sample, its minimum and count. ``warmup`` is unused (the tool times
    its warm-up separately)."""
    counts = [m for m in _COUNT.finditer(text)]
    if not counts or not _DONE.search(text):
        raise LogParseError("no benchmark_model timing lines ('count=... avg=...' and "
                            "'Inference timings in us'): the run failed or was cut short")
    m = counts[-1]
    count, minimum, avg, median = int(m[1]), float(m[4]), float(m[6]), m[9]
    graph = _GRAPH.search(text)
    typical = float(median) if median is not None else avg
    return ToolRun(graph[1] if graph else None, (typical / 1000,), count, minimum / 1000)


def parse_executor_runner(text: str, warmup: int = 0) -> ToolRun:
    """Every execution after the first ``warmup`` from the ``Iteration`` lines; on releases
    without them, the summary line's mean (which then includes the warm-up executions)."""
    summary = _SUMMARY.search(text)
    if summary is None:
        raise LogParseError("no executor_runner line 'Model executed successfully N time(s) in "
                            "T ms.': the run failed or was cut short")
    loaded = _LOADED.search(text)
    path = loaded[1] if loaded else None
    iterations = [float(m[3]) for m in _ITERATION.finditer(text)]
    if iterations:
        timed = iterations[warmup:]
        if not timed:
            raise LogParseError(f"executor_runner ran {len(iterations)} times, all of them "
                                f"warm-up ({warmup})")
        return ToolRun(path, tuple(timed), len(timed), min(timed))
    n, total = int(summary[1]), float(summary[2])
    return ToolRun(path, (total / n,), n, total / n)


#: Parser of each runtime's tool.
PARSERS = {"litert": parse_benchmark_model, "executorch": parse_executor_runner}
