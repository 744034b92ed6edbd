"""Cheap deterministic stand-ins for the supernet and the latency table, to test the optimiser.

Also a script: ``python tests/search_helpers.py OUT [--generations G] [--pop-size P]
[--sleep S] [--score-log DIR]`` runs a toy search into OUT (under torchrun the accuracy calls are
sharded; with ``--score-log`` each rank appends the codes it scored to ``DIR/rank<R>.txt``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from moga_zoo.search_space import NUM_LAYERS

_KERNEL = np.array([3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7])
_EXPANSION = np.array([3, 3, 6, 6] * 3)
_SE = np.array([0, 1] * 6)
_DEPTH = np.linspace(1.0, 2.0, NUM_LAYERS)


def toy_accuracy(codes: np.ndarray) -> np.ndarray:
    """Rises with kernel, expansion and SE, with a layer interaction; in [0, 1]."""
    c = np.asarray(codes)
    k, e, se = _KERNEL[c], _EXPANSION[c], _SE[c]
    score = (np.log(k * e) * _DEPTH).sum(1) + 0.3 * se.sum(1) + 0.2 * np.sin(c[:, :-1] - c[:, 1:]).sum(1)
    return 1.0 / (1.0 + np.exp(-(score - 64.0) / 5.0))


def toy_latency(codes: np.ndarray) -> np.ndarray:
    """Additive per-(layer, choice) milliseconds, like a lookup table."""
    c = np.asarray(codes)
    return 4.0 + (_KERNEL[c] * _EXPANSION[c] * _DEPTH).sum(1) / 40.0 + 0.15 * _SE[c].sum(1)


class RecordingAccuracy:
    """toy_accuracy that remembers every architecture it was asked to score."""

    def __init__(self, sleep: float = 0.0, log: Path | None = None):
        self.calls: list[tuple[int, ...]] = []
        self.sleep, self.log = sleep, log

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        self.calls += [tuple(int(v) for v in row) for row in codes]
        if self.log is not None:
            with open(self.log, "a") as f:
                f.writelines(" ".join(map(str, row)) + "\n" for row in codes)
        time.sleep(self.sleep)
        return toy_accuracy(codes)


def toy_scorer(accuracy=toy_accuracy):
    from search_repro.search.objectives import Scorer
    from search_repro.search.size_model import size_model

    return Scorer(accuracy, toy_latency, size_model())


def main(argv: list[str] | None = None) -> int:
    from search_repro.search.config import SearchConfig
    from search_repro.search.distributed import sharded_evaluation
    from search_repro.search.runner import run_search

    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--generations", type=int, default=6)
    p.add_argument("--pop-size", type=int, default=12)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--score-log")
    p.add_argument("--max-latency", type=float)
    a = p.parse_args(argv)
    rank = os.environ.get("RANK", "0")
    log = Path(a.score_log) / f"rank{rank}.txt" if a.score_log else None
    config = SearchConfig(pop_size=a.pop_size, generations=a.generations, random_samples=10,
                          max_latency_ms=a.max_latency, artifacts={"table": "toy"})
    with sharded_evaluation(RecordingAccuracy(a.sleep, log)) as accuracy:
        if accuracy.rank > 0:
            return 0
        run_search(config, toy_scorer(accuracy), a.out, progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
