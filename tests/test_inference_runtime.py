"""Runtime selection and the ONNX export cache: keyed by model, weights and shape; reused when
valid; a damaged or stale entry is replaced, never kept."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import moga_zoo
from moga_zoo.cli import main as cli_main
from moga_zoo.inference import cache_dir, export_model, make_runner, onnx_cache_path, resolve_runtime
from moga_zoo.inference import runtimes
from moga_zoo.inference.cache import cache_entries, clear_cache, prune_cache

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
    stale = tmp_path / "onnx" / "old-export.onnx"
    stale.parent.mkdir()
    stale.write_bytes(b"x" * 1000)
    monkeypatch.setenv("MOGA_ZOO_CACHE_MAX_MB", "0")  # a new export evicts everything else
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


def _fake_entries(folder, sizes_and_ages):
    (folder / "onnx").mkdir(parents=True, exist_ok=True)
    for name, (size, age) in sizes_and_ages.items():
        path = folder / "onnx" / f"{name}.onnx"
        path.write_bytes(b"\0" * size)
        os.utime(path, (1e9 - age, 1e9 - age))


def test_cache_is_bounded_least_recently_used_first(tmp_path):
    _fake_entries(tmp_path, {"new": (400, 0), "mid": (300, 10), "old": (300, 20), "older": (300, 30)})
    assert [e.path.stem for e in cache_entries(tmp_path)] == ["new", "mid", "old", "older"]
    removed = prune_cache(tmp_path, limit=750, keep=tmp_path / "onnx" / "older.onnx")
    assert [e.path.stem for e in removed] == ["old", "mid"]  # 'older' is in use
    assert [e.path.stem for e in cache_entries(tmp_path)] == ["new", "older"]
    assert prune_cache(tmp_path, limit=750) == []
    assert [e.path.stem for e in clear_cache(tmp_path)] == ["new", "older"]
    assert cache_entries(tmp_path) == []


def test_random_weights_export_is_not_cached(model, tmp_path, monkeypatch):
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(tmp_path))
    x = torch.randn(2, *SIZE, generator=torch.Generator().manual_seed(3))
    expected = make_runner(model, "torch")(x)
    got = make_runner(model, "onnxruntime", input_size=SIZE, cache=False)(x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert cache_entries() == [] and not (tmp_path / "onnx").exists()


def test_cache_command_lists_and_clears(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(tmp_path))
    root = cache_dir()
    _fake_entries(root, {"a": (3 * 2**20, 0), "b": (2**20, 5)})
    monkeypatch.setenv("MOGA_ZOO_CACHE_MAX_MB", "10")
    assert cli_main(["cache"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{root / 'onnx'}: 2 cached exports, 4.0 MB of 10.0 MB"
    assert out[1].split()[:2] == ["3.0", "MB"] and out[1].endswith("a.onnx")
    assert cli_main(["cache", "clear"]) == 0
    assert capsys.readouterr().out == f"removed 2 cached exports (4.0 MB) from {root / 'onnx'}\n"
    assert cache_entries() == []
    monkeypatch.setenv("MOGA_ZOO_CACHE_MAX_MB", "lots")
    assert cli_main(["cache"]) == 2
    assert "MOGA_ZOO_CACHE_MAX_MB must be a number" in capsys.readouterr().err


def test_auto_exports_only_when_it_pays_off(model, tmp_path):
    """A cached export or enough images: onnxruntime; a few images and no export: torch, which
    starts at once (an export takes seconds and is never reused for random weights)."""
    pays = runtimes.EXPORT_PAYS_FROM_IMAGES
    choose = lambda **kw: runtimes.choose_runtime(model, "auto", input_size=SIZE, **kw)  # noqa: E731
    assert choose(cache=tmp_path, images=1) == (
        "torch", f"1 image and no cached export: an ONNX export (~13 s) pays off from {pays} images")
    assert choose(cache=tmp_path, images=pays)[0] == "onnxruntime"
    assert choose(cache=tmp_path, images=None)[0] == "onnxruntime"
    assert choose(cache=False, images=pays - 1)[0] == "torch"
    cached = onnx_cache_path(model, SIZE, tmp_path)  # as if exported (make_runner re-checks it)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"onnx")
    assert choose(cache=tmp_path, images=1) == ("onnxruntime", "its export of this model is cached")
    assert choose(cache=False, images=1)[0] == "torch"  # random weights never use the cache
    assert runtimes.choose_runtime(model, "onnxruntime", images=1) == ("onnxruntime", "asked for")


def test_predict_on_one_image_says_its_runtime_and_exports_nothing(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.setenv("MOGA_ZOO_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "one.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(image)
    assert cli_main(["predict", str(image), "--model", "moga_c", "--random-weights"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"moga-zoo predict: runtime torch (1 image and no cached export: an ONNX export "
                   f"(~13 s) pays off from {runtimes.EXPORT_PAYS_FROM_IMAGES} images); random "
                   f"weights: the classes are meaningless"]
    assert not (tmp_path / "cache").exists()
