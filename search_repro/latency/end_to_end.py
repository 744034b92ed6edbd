"""Whole-network timing, and the linear correction from summed isolated blocks to it.

Isolated blocks run with their weights and input hot in cache and without the hand-over between
layers, so their sum can be biased against the network run end to end; a table stores
``measured ~ a * sum + b`` fitted on a few calibration architectures.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from moga_zoo.search_space import CHOICES, NUM_CHOICES, NUM_LAYERS, Architecture

from .blocks import build_model
from .measure import measure_interleaved
from .runtimes import Runtime

__all__ = ["random_architectures", "calibration_architectures", "measure_architectures",
           "fit_correction"]


def random_architectures(n: int, seed: int) -> list[Architecture]:
    """``n`` architectures with every layer's choice drawn uniformly."""
    codes = np.random.default_rng(seed).integers(0, NUM_CHOICES, size=(n, NUM_LAYERS))
    return [Architecture.decode(row.tolist()) for row in codes]


def calibration_architectures(n: int, seed: int) -> list[Architecture]:
    """The cheapest and the most expensive uniform architectures plus ``n - 2`` random ones.

    The two extremes stretch the fitted range beyond where random architectures fall.
    """
    if n < 2:
        raise ValueError(f"a correction needs at least 2 calibration architectures, got {n}")
    return [Architecture((CHOICES[0],) * NUM_LAYERS), Architecture((CHOICES[-1],) * NUM_LAYERS),
            *random_architectures(n - 2, seed)]


def measure_architectures(
    archs: Sequence[Architecture],
    runtime: Runtime,
    resolution: int,
    batch: int,
    warmup: int,
    repeats: int,
    seed: int = 0,
    on_round: Callable[[], None] | None = None,
) -> list[dict[str, float | int]]:
    """End-to-end statistics of every architecture, measured interleaved in one pass."""
    shape = (batch, 3, resolution, resolution)
    timers = {f"{i}": runtime.timer(build_model(a), shape) for i, a in enumerate(archs)}
    stats = measure_interleaved(timers, warmup, repeats, seed, on_round)
    return [stats[f"{i}"] for i in range(len(archs))]


def fit_correction(table_sums: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """Least-squares ``a, b`` of ``measured ~ a * table_sums + b``."""
    x, y = np.asarray(table_sums, np.float64), np.asarray(measured, np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError("need at least two calibration architectures with different block sums")
    a, b = np.polyfit(x, y, 1)
    if a <= 0:
        raise ValueError(f"fitted correction slope {a:.3f} is not positive: the end-to-end "
                         f"measurements are too noisy; rebuild with more --repeats")
    return float(a), float(b)
