"""Variation operators for the 14-layer x 12-choice categorical space, and the NSGA-II built on them.

* sampling: pymoo's integer sampling, every layer's code uniform in 0..11;
* crossover: pymoo's uniform crossover, each layer inherited from either parent;
* mutation: :class:`LayerResampleMutation`, each layer replaced with probability ``p`` by a
  *different* choice drawn uniformly (a categorical code has no "nearby" value);
* duplicates: :class:`NewArchitecturesOnly` keeps only offspring never seen in the run, so no
  architecture is evaluated twice.
"""
from __future__ import annotations

from typing import Container

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.operators.crossover.ux import UniformCrossover
from pymoo.operators.sampling.rnd import IntegerRandomSampling

from moga_zoo.search_space import NUM_CHOICES

from .crowding import weighted_survival

__all__ = ["LayerResampleMutation", "NewArchitecturesOnly", "make_nsga2"]


class LayerResampleMutation(Mutation):
    """Each layer, with probability ``layer_prob``, switches to another of its 12 choices."""

    def __init__(self, layer_prob: float):
        super().__init__(prob=1.0)
        self.layer_prob = layer_prob

    def _do(self, problem, X, random_state=None, **kwargs):  # noqa: ANN001 (pymoo signature)
        X = np.asarray(X).astype(np.int64)
        flip = random_state.random(X.shape) < self.layer_prob
        shift = random_state.integers(1, NUM_CHOICES, size=X.shape)
        return np.where(flip, (X + shift) % NUM_CHOICES, X)


def _keys(pop: Population) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in x) for x in pop.get("X")]


class NewArchitecturesOnly(DuplicateElimination):
    """Drop candidates already in ``seen`` (the run's history), the population or the batch."""

    def __init__(self, seen: Container[tuple[int, ...]]):
        super().__init__()
        self.seen = seen

    def _do(self, pop: Population, other: Population | None, is_duplicate: np.ndarray) -> np.ndarray:
        keys = _keys(pop)
        if other is None:
            batch: set[tuple[int, ...]] = set()
            for i, key in enumerate(keys):
                is_duplicate[i] = key in batch or key in self.seen
                batch.add(key)
        else:
            others = set(_keys(other))
            is_duplicate |= np.array([k in others for k in keys], dtype=bool)
        return is_duplicate


def make_nsga2(pop_size: int, weights: np.ndarray, layer_mutation_prob: float,
               crossover_prob: float, seed: int, seen: NewArchitecturesOnly) -> NSGA2:
    """pymoo's NSGA-II with weighted crowding and the categorical operators above."""
    return NSGA2(
        pop_size=pop_size,
        sampling=IntegerRandomSampling(),
        crossover=UniformCrossover(prob=crossover_prob),
        mutation=LayerResampleMutation(layer_mutation_prob),
        survival=weighted_survival(weights),
        eliminate_duplicates=seen,
        seed=seed,
    )
