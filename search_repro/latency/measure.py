"""Interleaved timing: warm up every timer, then run them round-robin in a shuffled order.

Interleaving spreads slow drifts of a shared machine (other jobs starting, frequency changes)
over all timed parts alike, so that their differences stay meaningful; the median of many
rounds ignores short interruptions.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from moga_zoo.errors import UsageError

__all__ = ["summarize", "measure_interleaved"]


def summarize(samples_ms: np.ndarray) -> dict[str, float | int]:
    """Median, quartiles, minimum and run count of a sample of milliseconds."""
    s = np.asarray(samples_ms, dtype=np.float64)
    p25, median, p75 = np.percentile(s, [25, 50, 75])
    return {"median_ms": round(float(median), 5), "p25_ms": round(float(p25), 5),
            "p75_ms": round(float(p75), 5), "min_ms": round(float(s.min()), 5), "runs": int(s.size)}


def measure_interleaved(
    timers: Mapping[str, Callable[[], float]],
    warmup: int,
    repeats: int,
    seed: int = 0,
    on_round: Callable[[], None] | None = None,
) -> dict[str, dict[str, float | int]]:
    """Time every timer ``repeats`` times after ``warmup`` untimed runs; statistics per key."""
    if warmup < 0 or repeats < 1:
        raise UsageError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    keys = list(timers)
    for key in keys:
        for _ in range(warmup):
            timers[key]()
    rng = np.random.default_rng(seed)
    samples = {key: np.empty(repeats) for key in keys}
    for r in range(repeats):
        for j in rng.permutation(len(keys)):
            samples[keys[j]][r] = timers[keys[j]]()
        if on_round is not None:
            on_round()
    return {key: summarize(samples[key]) for key in keys}
