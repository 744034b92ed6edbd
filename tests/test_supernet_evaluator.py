"""The evaluator: prefix sharing gives the per-candidate result; cache, API, checkpoint files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from supernet_helpers import fake_fashion_mnist, tiny_supernet

from moga_zoo.search_space import MOGA_A, MOGA_B, space_hash
from search_repro.supernet import (CheckpointError, EvaluatorSettings, SupernetEvaluator,
                                   load_supernet, save_supernet)
from search_repro.supernet.evaluator import fold_batchnorm

SMALL = EvaluatorSettings(val_size=48, calib_batches=2, calib_batch_size=16, eval_batch_size=20)


def _make_evaluator(channels_last: bool = True, **kwargs) -> SupernetEvaluator:
    g = torch.Generator().manual_seed(1)
    return SupernetEvaluator(tiny_supernet(), torch.randn(32, 1, 32, 32, generator=g) * 1.5,
                             torch.randn(48, 1, 32, 32, generator=g),
                             torch.randint(0, 10, (48,), generator=g), SMALL,
                             channels_last=channels_last, **kwargs)


@pytest.fixture(scope="module")
def evaluator() -> SupernetEvaluator:
    return _make_evaluator()


def _codes(n: int, seed: int) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 12, (n, 14))
    codes[1, :6] = codes[0, :6]      # shared prefixes
    codes[2, :13] = codes[0, :13]
    codes[2, 13] = (codes[0, 13] + 1) % 12
    return codes


def _close(folded: torch.Tensor, naive: torch.Tensor) -> None:
    """Folded BatchNorms change float32 rounding only (through 16 blocks)."""
    scale = float(naive.abs().max())
    torch.testing.assert_close(folded, naive, rtol=1e-4, atol=1e-4 * scale)


def test_prefix_sharing_equals_naive_per_candidate_evaluation(evaluator):
    codes = _codes(4, 0)
    shared = evaluator.prefix_logits([tuple(map(int, c)) for c in codes])
    for c in codes:
        naive = evaluator.naive_logits(c)
        assert naive.std(0).mean() > 1e-3  # input-sensitive
        _close(shared[tuple(map(int, c))], naive)
    # different architectures really give different logits
    assert not torch.allclose(shared[tuple(map(int, codes[0]))], shared[tuple(map(int, codes[2]))])


def test_first_layer_outputs_kept_across_calls_change_nothing():
    kept, fresh = _make_evaluator(), _make_evaluator(first_layer_cache_bytes=0)
    first, second = _codes(4, 5), _codes(4, 6)
    second[:, 0] = first[:, 0]          # the second call reuses the first layer's choices
    kept.prefix_logits([tuple(map(int, c)) for c in first])
    assert set(kept._first_layer) == set(map(int, first[:, 0]))
    again = kept.prefix_logits([tuple(map(int, c)) for c in second])
    for c in second:  # kept outputs, yet the naive path (recalibrated from scratch) agrees
        key = tuple(map(int, c))
        _close(again[key], fresh.naive_logits(c))
    assert fresh._first_layer == {}     # a zero budget keeps nothing
    # a budget too small for all 12 choices keeps none of them
    small = _make_evaluator(first_layer_cache_bytes=1000)
    small.prefix_logits([tuple(map(int, c)) for c in first])
    assert small._first_layer == {}


def test_memory_format_does_not_change_the_logits(evaluator):
    codes = [tuple(map(int, c)) for c in _codes(3, 2)]
    contiguous = _make_evaluator(channels_last=False)
    assert evaluator.supernet.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert contiguous.supernet.conv_stem.weight.is_contiguous()
    fast, slow = evaluator.prefix_logits(codes), contiguous.prefix_logits(codes)
    for c in codes:  # float32 rounding differs between the layouts, through 16 blocks
        scale = float(slow[c].abs().max())
        assert slow[c].std(0).mean() > 0.05 * scale  # input-sensitive logits
        torch.testing.assert_close(fast[c], slow[c], rtol=1e-3, atol=1e-3 * scale)


def test_accuracy_api_cache_and_dedup(evaluator):
    codes = _codes(3, 1)
    before = evaluator.computed
    acc = evaluator.accuracy(np.concatenate([codes, codes[:1]]))
    assert acc.dtype == np.float64 and acc.shape == (4,)
    assert ((acc >= 0) & (acc <= 1)).all() and acc[0] == acc[3]
    assert evaluator.computed == before + 3
    again = evaluator.accuracy(codes[::-1])
    assert evaluator.computed == before + 3  # served from the cache
    np.testing.assert_array_equal(again, acc[:3][::-1])
    assert acc[0] == evaluator.naive_accuracy(codes[0])
    assert evaluator.accuracy_arch(MOGA_A) == evaluator.accuracy(np.array([MOGA_A.encode()]))[0]
    assert evaluator.space_hash == space_hash()


def test_bad_codes_are_clear_errors(evaluator):
    with pytest.raises(ValueError, match=r"shape \(N, 14\)"):
        evaluator.accuracy(np.zeros((2, 13), dtype=int))
    with pytest.raises(ValueError, match="0..11"):
        evaluator.accuracy(np.full((1, 14), 12))
    with pytest.raises(ValueError, match="integer"):
        evaluator.accuracy(np.zeros((1, 14)))


def test_checkpoint_round_trip_and_integrity(tmp_path):
    net = tiny_supernet(2)
    weights = save_supernet(tmp_path / "sn", net, {"steps": 0}, {"note": "test"})
    loaded, meta = load_supernet(weights)
    assert meta["space_hash"] == space_hash() and meta["training"] == {"steps": 0}
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    sidecar = tmp_path / "sn.json"
    bad = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**bad, "space_hash": "0" * 16}))
    with pytest.raises(CheckpointError, match="retrain"):
        load_supernet(weights)
    sidecar.write_text(json.dumps(bad))
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 1
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="sha256"):
        load_supernet(weights)
    with pytest.raises(CheckpointError, match="sidecar"):
        load_supernet(tmp_path / "nothing.safetensors")


def test_from_checkpoint_is_deterministic(tmp_path):
    root = fake_fashion_mnist(tmp_path / "data", n_train=200, n_test=20)
    weights = save_supernet(tmp_path / "sn", tiny_supernet(3),
                            {"resolution": 32, "search_val_size": 50, "seed": 0}, {})
    settings = dict(val_size=40, calib_batches=2, calib_batch_size=16)
    a = SupernetEvaluator.from_checkpoint(weights, root, **settings)
    b = SupernetEvaluator.from_checkpoint(weights, root, **settings)
    codes = np.array([MOGA_A.encode(), MOGA_B.encode()])
    np.testing.assert_array_equal(a.accuracy(codes), b.accuracy(codes))
    assert a.describe()["settings"]["val_size"] == 40
    with pytest.raises(ValueError, match="exceeds"):
        SupernetEvaluator.from_checkpoint(weights, root, val_size=51)
    # by default the whole search-validation split is scored, and the record says how much
    whole = SupernetEvaluator.from_checkpoint(weights, root, calib_batch_size=16)
    assert whole.describe()["settings"]["val_size"] == 50
    assert len(whole._labels) == 50


def test_fold_batchnorm_keeps_the_function_and_leaves_the_block_alone():
    net = tiny_supernet(3).eval()
    g = torch.Generator().manual_seed(3)
    for m in net.modules():  # calibrated-looking statistics, far from the defaults
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(6, 8, 16, 16, generator=g)
    for block in (net.layers[1][11], net.layers[1][4], net.last_block):  # SE, no SE, conv-bn-act
        y = x if block is not net.last_block else torch.randn(6, 40, 4, 4, generator=g)
        folded = fold_batchnorm(block)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        with torch.no_grad():
            expected = block(y)
            assert expected.std() > 0.1
            torch.testing.assert_close(folded(y), expected, rtol=1e-5, atol=1e-5)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
