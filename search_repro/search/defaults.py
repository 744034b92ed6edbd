"""Objective names, default weights and budgets: plain data, cheap to import (the CLI reads them)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from moga_zoo.errors import UsageError

__all__ = ["OBJECTIVES", "DEFAULT_OBJECTIVES", "DEFAULT_WEIGHTS", "BUDGETS",
           "check_objectives", "check_weights"]

#: objective name -> (measured column, +1 to maximise / -1 to minimise). Parameters are
#: maximised, as in MoGA (more capacity without necessarily more latency).
OBJECTIVES = {"accuracy": ("accuracy", +1), "latency": ("latency_ms", -1),
              "params": ("params", +1), "macs": ("macs", -1)}
DEFAULT_OBJECTIVES = ("accuracy", "latency", "params")

#: Crowding weights for (accuracy, latency, params) -- OUR choice, MoGA never published its own:
#: accuracy and latency drive the trade-off, parameters (maximised) act as a tie-breaker.
DEFAULT_WEIGHTS = (0.4, 0.4, 0.2)

#: Named budgets: population size, generations, size of the random-sample cloud.
#: ``default`` fits in 10 minutes on a 2-core CPU with the bundled supernet and the evaluator's
#: whole-split scoring (docs/search.md); ``paper`` is a full-scale run (MoGA did not publish its
#: population or generation count: our choice).
BUDGETS: dict[str, dict[str, int]] = {
    "smoke": {"pop_size": 8, "generations": 3, "random_samples": 8},
    "default": {"pop_size": 24, "generations": 15, "random_samples": 50},
    "paper": {"pop_size": 100, "generations": 200, "random_samples": 1000},
}


def check_objectives(names: Sequence[str]) -> tuple[str, ...]:
    """Normalised objective names; a clear error for unknown, repeated or too few names."""
    names = tuple(n.strip().lower() for n in names)
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        raise UsageError(f"objectives must be 2+ distinct names from {', '.join(OBJECTIVES)}; "
                         f"got {', '.join(names)}")
    return names


def check_weights(weights: Sequence[float], n_obj: int) -> np.ndarray:
    """Weights as a float array normalised to sum 1; a clear error for a wrong length or sign."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_obj,):
        raise UsageError(f"give one crowding weight per objective ({n_obj}), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise UsageError(f"crowding weights must be finite, >= 0 and not all 0, got {list(weights)}")
    return w / w.sum()
