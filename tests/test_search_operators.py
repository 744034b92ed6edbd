"""Categorical variation operators and duplicate elimination."""
import numpy as np
from pymoo.core.population import Population
from pymoo.core.problem import Problem

from search_repro.search.operators import LayerResampleMutation, NewArchitecturesOnly

PROBLEM = Problem(n_var=14, n_obj=2, xl=0, xu=11, vtype=int)


def _mutate(X, prob, seed=0):
    return LayerResampleMutation(prob)._do(PROBLEM, X, random_state=np.random.default_rng(seed))


def test_mutation_switches_to_another_valid_choice():
    X = np.random.default_rng(1).integers(0, 12, (500, 14))
    Y = _mutate(X, 1.0)
    assert np.all(Y != X) and Y.min() >= 0 and Y.max() <= 11
    # every other choice is reachable, roughly uniformly
    counts = np.bincount(((Y - X) % 12).ravel(), minlength=12)
    assert counts[0] == 0 and counts[1:].min() > 0.7 * counts[1:].mean()


def test_mutation_rate_is_per_layer():
    X = np.zeros((2000, 14), dtype=np.int64)
    changed = _mutate(X, 1 / 14) != X
    assert np.array_equal(_mutate(X, 0.5, seed=3), _mutate(X, 0.5, seed=3))
    assert 0.06 < changed.mean() < 0.085  # 1/14 = 0.0714 over 28,000 draws
    assert changed.any(axis=0).all()  # every layer gets mutated somewhere


def test_only_new_architectures_pass():
    seen = {tuple([1] * 14)}
    rows = np.array([[1] * 14, [2] * 14, [2] * 14, [3] * 14, [4] * 14])
    kept = NewArchitecturesOnly(seen).do(Population.new("X", rows),
                                         Population.new("X", np.array([[4] * 14])))
    assert kept.get("X").tolist() == [[2] * 14, [3] * 14]
