"""Weighted crowding distance and the survival built on it."""
import numpy as np
import pytest
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

from search_repro.search.crowding import weighted_crowding_distance, weighted_survival
from search_repro.search.defaults import check_weights


def test_equal_weights_reproduce_pymoo_crowding():
    F = np.random.default_rng(0).random((30, 3))
    np.testing.assert_allclose(weighted_crowding_distance(F, np.full(3, 1 / 3)),
                               calc_crowding_distance(F))


def test_weights_scale_each_objective():
    F = np.random.default_rng(1).random((25, 2))
    only_first = weighted_crowding_distance(F, np.array([1.0, 0.0]))
    plain_first = calc_crowding_distance(F[:, :1])
    np.testing.assert_allclose(only_first, plain_first)
    mixed = weighted_crowding_distance(F, np.array([0.75, 0.25]))
    finite = np.isfinite(mixed)
    expected = 0.75 * calc_crowding_distance(F[:, :1]) + 0.25 * calc_crowding_distance(F[:, 1:])
    np.testing.assert_allclose(mixed[finite], expected[finite])


def test_weight_decides_which_point_survives():
    # a 2-objective front: point 1 is crowded in objective 0, point 2 crowded in objective 1
    F = np.array([[0.0, 1.0], [0.1, 0.5], [0.5, 0.4], [1.0, 0.0]])

    def survivors(w):
        pop = Population.new("X", np.arange(4)[:, None], "F", F)
        return sorted(int(x[0]) for x in weighted_survival(np.array(w)).do(
            Problem(n_var=1, n_obj=2), pop, n_survive=3, random_state=np.random.default_rng(0)).get("X"))

    assert survivors([1.0, 0.0]) == [0, 2, 3]  # spread along objective 0 matters: drop point 1
    assert survivors([0.0, 1.0]) == [0, 1, 3]  # spread along objective 1 matters: drop point 2


@pytest.mark.parametrize("w", [[1, 1], [1, -1, 1], [0, 0, 0], [1, float("nan"), 1]])
def test_bad_weights_are_refused(w):
    with pytest.raises(ValueError, match="weight"):
        check_weights(w, 3)
