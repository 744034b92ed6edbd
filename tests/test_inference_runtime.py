"""Runtime selection and the ONNX export cache: keyed by model, weights and shape; reused when
valid; a damaged or stale entry is replaced, never kept."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import moga_zoo
from moga_zoo.inference import export_model, make_runner, onnx_cache_path, resolve_runtime
from moga_zoo.inference import runtimes

from authors_reference import randomize_and_calibrate

SIZE = (3, 64, 64)


@pytest.fixture(scope="module")
def model():
    m = moga_zoo.create("moga_b")
    randomize_and_calibrate(m, size=64)
    return m.eval()


def test_auto_picks_onnxruntime_when_installed():
    assert resolve_runtime("auto") == "onnxruntime"
    assert resolve_runtime("torch") == "torch"
    with pytest.raises(ValueError, match="unknown runtime"):
        resolve_runtime("tensorrt")


def test_cache_key_follows_model_weights_and_shape(model):
    key = onnx_cache_path(model, SIZE)
    assert key == onnx_cache_path(model, SIZE) and key.name.startswith("moga_b-3x64x64-")
    assert onnx_cache_path(model, (3, 96, 96)) != key
    changed = moga_zoo.create("moga_b")
    changed.load_state_dict(model.state_dict())
    with torch.no_grad():
        changed.conv_head.weight[0, 0] += 1e-3
    assert onnx_cache_path(changed, SIZE) != key
    assert onnx_cache_path(moga_zoo.create("moga_c"), SIZE).name.startswith("moga_c-")


def test_export_is_cached_reused_and_repaired(model, tmp_path, monkeypatch):
    x = torch.randn(3, *SIZE, generator=torch.Generator().manual_seed(1))
    expected = make_runner(model, "torch")(x)
    fast = make_runner(model, "onnxruntime", input_size=SIZE, cache=tmp_path)
    np.testing.assert_allclose(fast(x), expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    entry = onnx_cache_path(model, SIZE, tmp_path)
    assert entry.is_file() and [p.name for p in entry.parent.iterdir()] == [entry.name]
    good_bytes = entry.read_bytes()

    exports = []
    real_export = runtimes.export_model
    monkeypatch.setattr(runtimes, "export_model", lambda *a, **k: exports.append(1) or real_export(*a, **k))
    make_runner(model, "onnxruntime", input_size=SIZE, cache=tmp_path)
    assert exports == []  # a valid entry is reused

    entry.write_bytes(good_bytes[: len(good_bytes) // 2])  # damaged (truncated) entry
    repaired = make_runner(model, "onnxruntime", input_size=SIZE, cache=tmp_path)
    assert exports == [1] and entry.stat().st_size == len(good_bytes)
    np.testing.assert_allclose(repaired(x), expected, rtol=0, atol=1e-4 * np.abs(expected).max())


@pytest.mark.slow
def test_stale_entry_for_other_weights_is_replaced(model, tmp_path):
    other = moga_zoo.create("moga_b")
    randomize_and_calibrate(other, size=64, seed=5)
    entry = onnx_cache_path(model, SIZE, tmp_path)
    entry.parent.mkdir(parents=True)
    export_model(other, entry, input_size=SIZE, opset=17)  # loads fine, computes the wrong model
    x = torch.randn(2, *SIZE, generator=torch.Generator().manual_seed(2))
    expected = make_runner(model, "torch")(x)
    got = make_runner(model, "onnxruntime", input_size=SIZE, cache=tmp_path)(x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_threads_apply_to_the_torch_runtime(model):
    wanted = torch.get_num_threads() + 1  # the fixture in conftest.py puts the old count back
    make_runner(model, "torch", threads=wanted)
    assert torch.get_num_threads() == wanted
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            make_runner(model, "torch", threads=bad)
