"""The vectorised size model equals the real builder's counts."""
import numpy as np
import pytest

from moga_zoo import create
from moga_zoo.profile import count_macs, count_params
from moga_zoo.search_space import MOGA_A, MOGA_B, MOGA_C, NUM_CHOICES, NUM_LAYERS, Architecture
from search_repro.search.size_model import size_model


@pytest.fixture(scope="module")
def sizes():
    return size_model()


def test_moga_sizes_match_the_published_counts(sizes):
    codes = [a.encode() for a in (MOGA_A, MOGA_B, MOGA_C)]
    # exact counts from the authors' model definitions (docs/moga-facts.md)
    assert sizes.params(codes).tolist() == [5_159_802, 5_506_236, 5_488_200]
    assert np.round(sizes.macs(codes) / 1e5).tolist() == [3040, 2486, 2211]


def test_random_architectures_match_count_params_and_count_macs(sizes):
    rng = np.random.default_rng(7)
    codes = rng.integers(0, NUM_CHOICES, size=(4, NUM_LAYERS))
    codes[0] = 0
    codes[1] = NUM_CHOICES - 1
    params, macs = sizes.params(codes), sizes.macs(codes)
    for i, row in enumerate(codes):
        model = create(arch=Architecture.decode(row))
        assert params[i] == count_params(model)
        assert macs[i] == count_macs(model)


def test_min_macs_is_the_smallest_architecture(sizes):
    smallest = np.argmin(sizes.layer_macs, axis=1)
    assert sizes.min_macs() == sizes.macs(smallest)[0]
    assert sizes.min_macs() <= sizes.macs(np.random.default_rng(0).integers(0, 12, (200, 14))).min()


@pytest.mark.parametrize("bad", [np.zeros((2, 13), int), np.full((1, 14), 12), np.zeros((1, 14)) + 0.5])
def test_bad_codes_are_refused(sizes, bad):
    with pytest.raises(ValueError, match="codes must"):
        sizes.params(bad)
