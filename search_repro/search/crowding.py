"""Weighted crowding distance and the NSGA-II survival that uses it.

NSGA-II keeps, from the front that does not fit whole, the members with the largest crowding
distance. Plain crowding sums each objective's normalised gap equally; here objective ``m``'s
gap is scaled by a user weight ``w[m]`` (our reading of MoGA's "weighted" NSGA-II, whose
weights were never published). Extreme points of a weighted objective keep an infinite
distance, as in NSGA-II; an objective with weight 0 does not influence the crowding at all.
"""
from __future__ import annotations

from functools import partial
import numpy as np
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.operators.survival.rank_and_crowding.metrics import FunctionalDiversity

__all__ = ["weighted_crowding_distance", "weighted_survival"]


def weighted_crowding_distance(F: np.ndarray, weights: np.ndarray, **_: object) -> np.ndarray:
    """Crowding distance of the rows of ``F`` (minimised objectives) with per-objective weights."""
    n, n_obj = F.shape
    order = np.argsort(F, axis=0, kind="mergesort")
    sorted_f = F[order, np.arange(n_obj)]
    span = sorted_f[-1] - sorted_f[0]
    gaps = np.zeros((n, n_obj))
    inner = sorted_f[2:] - sorted_f[:-2]  # neighbour-to-neighbour gap of interior points
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps[1:-1] = np.where(span > 0, inner / span, 0.0)
    gaps[[0, -1]] = np.where(span > 0, np.inf, 0.0)
    distance = np.zeros((n, n_obj))
    distance[order, np.arange(n_obj)] = gaps
    active = weights > 0
    return (distance[:, active] * weights[active]).sum(axis=1)


def weighted_survival(weights: np.ndarray) -> RankAndCrowding:
    """pymoo's rank-and-crowding survival with :func:`weighted_crowding_distance`."""
    crowding = FunctionalDiversity(partial(weighted_crowding_distance, weights=weights),
                                   filter_out_duplicates=True)
    return RankAndCrowding(crowding_func=crowding)
