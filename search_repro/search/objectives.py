"""What a search optimises: raw measurements of candidates and their pymoo problem.

MoGA's objectives are accuracy (maximise), latency (minimise) and the number of parameters
(**maximise**: more capacity at no latency cost). MACs can be added as a fourth objective
(minimise); latency and MACs can also be bounded by constraints.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from pymoo.core.problem import Problem

from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS, check_codes

from .defaults import OBJECTIVES, check_objectives
from .history import History
from .size_model import SizeModel

__all__ = ["Scorer", "ArchitectureProblem", "fastest_architecture"]

ArrayFn = Callable[[np.ndarray], np.ndarray]


class Scorer:
    """Measures candidates: accuracy from a supernet evaluator, latency from a table, sizes exactly."""

    def __init__(self, accuracy: ArrayFn, latency: ArrayFn, sizes: SizeModel):
        self.accuracy, self.latency, self.sizes = accuracy, latency, sizes

    def __call__(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        codes = check_codes(codes)
        out = {"accuracy": np.asarray(self.accuracy(codes), dtype=np.float64),
               "latency_ms": np.asarray(self.latency(codes), dtype=np.float64),
               "params": self.sizes.params(codes), "macs": self.sizes.macs(codes)}
        for m in ("accuracy", "latency_ms"):
            if out[m].shape != (len(codes),) or not np.all(np.isfinite(out[m])):
                raise RuntimeError(f"the {m} function returned {out[m].shape} values (or non-"
                                   f"finite ones) for {len(codes)} architectures")
        return out


def fastest_architecture(latency: ArrayFn) -> tuple[np.ndarray, float]:
    """The minimum-latency architecture and its latency.

    Exact for per-layer lookup tables (latency a monotone function of a sum of per-(layer,
    choice) costs): each layer's cheapest choice is found by changing one layer at a time.
    """
    probes = np.zeros((1 + NUM_LAYERS * NUM_CHOICES, NUM_LAYERS), dtype=np.int64)
    for layer in range(NUM_LAYERS):
        probes[1 + layer * NUM_CHOICES: 1 + (layer + 1) * NUM_CHOICES, layer] = np.arange(NUM_CHOICES)
    ms = np.asarray(latency(probes), dtype=np.float64)[1:].reshape(NUM_LAYERS, NUM_CHOICES)
    best = ms.argmin(axis=1)[None, :]
    return best[0], float(np.asarray(latency(best))[0])


class ArchitectureProblem(Problem):
    """The search as a pymoo problem over integer codes; every measurement lands in ``history``.

    ``generation`` is set by the driver before each evaluation so the history records which
    generation proposed each architecture. Constraints: ``latency_ms <= max_latency_ms``,
    ``macs <= max_macs`` (each only when given).
    """

    def __init__(self, scorer: Scorer, history: History, objectives: Sequence[str],
                 max_latency_ms: float | None = None, max_macs: int | None = None):
        self.scorer, self.history = scorer, history
        self.objectives = check_objectives(objectives)
        self.limits = {m: v for m, v in (("latency_ms", max_latency_ms), ("macs", max_macs))
                       if v is not None}
        self.generation = 0
        super().__init__(n_var=NUM_LAYERS, n_obj=len(self.objectives),
                         n_ieq_constr=len(self.limits), xl=0, xu=NUM_CHOICES - 1, vtype=int)

    def minimised(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        """Objective matrix F (every column minimised) from measured metrics."""
        cols = [-OBJECTIVES[n][1] * metrics[OBJECTIVES[n][0]].astype(np.float64)
                for n in self.objectives]
        return np.column_stack(cols)

    def violations(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        """Constraint matrix G (feasible where every column <= 0)."""
        cols = [metrics[m].astype(np.float64) - limit for m, limit in self.limits.items()]
        return np.column_stack(cols) if cols else np.zeros((len(metrics["accuracy"]), 0))

    def measure(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics of ``codes``, scoring (and recording) only those not in the history yet."""
        codes = check_codes(codes)
        index = self.history.lookup(codes)
        new = index < 0
        if new.any():
            fresh = codes[new]
            self.history.add(fresh, self.generation, self.scorer(fresh))
            index[new] = self.history.lookup(fresh)
        return self.history.rows(index)

    def _evaluate(self, X, out, *args, **kwargs):  # noqa: ANN001 (pymoo signature)
        metrics = self.measure(np.asarray(X).astype(np.int64))
        out["F"] = self.minimised(metrics)
        if self.limits:
            out["G"] = self.violations(metrics)

