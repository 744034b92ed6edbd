"""Building tables: the timed parts are the model's own, resume works, bad input is refused."""
import json

import numpy as np
import pytest
import torch

from moga_zoo.builder import build_moga
from moga_zoo.profile import count_params
from moga_zoo.search_space import CHOICES, LAYERS, MOGA_A, MOGA_C, NUM_LAYERS
from search_repro.latency import TableFormatError, build_table, load_table
from search_repro.latency import builder as builder_mod
from search_repro.latency.blocks import fixed_parts, input_shapes, layer_part, layer_parts
from search_repro.latency.end_to_end import fit_correction
from search_repro.latency.measure import measure_interleaved
from search_repro.latency.runtimes import get_runtime

TINY = dict(resolution=32, warmup=1, repeats=2, calibration_samples=3, e2e_repeats=2,
            progress=False)


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    path = tmp_path_factory.mktemp("lut") / "tiny.json"
    return path, build_table(path, **TINY)


def test_input_shapes_follow_the_skeleton():
    shapes = input_shapes(224, 2)
    side, chs = 112, 16
    assert shapes["stem"] == (2, 3, 224, 224) and shapes["first_block"] == (2, 16, 112, 112)
    for i, spec in enumerate(LAYERS):
        assert shapes[f"layer{i + 1}"] == (2, chs, side, side)
        side, chs = side // spec.stride, spec.out_chs
    assert shapes["head"] == (2, 160, 7, 7)


@pytest.mark.parametrize("arch, params", [(MOGA_A, 5_159_802), (MOGA_C, 5_488_200)])
def test_timed_parts_are_exactly_the_network(arch, params):
    """Fixed parts + the chosen blocks hold every parameter of the zoo model, nothing more."""
    total = sum(count_params(p.module) for p in fixed_parts(64, 1))
    codes = arch.encode()
    total += sum(count_params(layer_part(i, c, 64, 1).module) for i, c in enumerate(codes))
    assert total == params == count_params(build_moga(arch))
    assert [p.key for p in layer_parts(0, 64, 1)] == [str(c) for c in CHOICES]


def test_timed_parts_compute_the_network():
    """Chaining the timed parts (with the model's weights) gives the model's output."""
    torch.manual_seed(0)
    model = build_moga(MOGA_A).eval()
    fixed = {p.key: p.module for p in fixed_parts(64, 1)}
    blocks = [layer_part(i, c, 64, 1).module for i, c in enumerate(MOGA_A.encode())]
    parts = [fixed["stem"], fixed["first_block"], *blocks, fixed["head"]]
    src = iter(model.state_dict().values())  # copy the model's weights, in network order
    with torch.no_grad():
        for p in parts:
            for v in p.state_dict().values():
                v.copy_(next(src))
    assert next(src, None) is None
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        y = x
        for p in parts:
            y = p(y)
        np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_tiny_table_structure(tiny_table):
    path, table = tiny_table
    data = json.loads(path.read_text())
    assert data["resolution"] == 32 and data["device"]["threads"] == 1
    assert [l["layer"] for l in data["layers"]] == list(range(1, NUM_LAYERS + 1))
    shapes = input_shapes(32, 1)
    for i, layer in enumerate(data["layers"]):
        assert tuple(layer["input_shape"]) == shapes[f"layer{i + 1}"]
        assert set(layer["choices"]) == {str(c) for c in CHOICES}
        for s in layer["choices"].values():
            assert s["runs"] == 2 and s["min_ms"] <= s["median_ms"] <= s["p75_ms"]
    calib = data["correction"]["calibration"]
    assert [c["arch"] for c in calib[:2]] == ["-".join(["e3k3"] * 14), "-".join(["e6k7se"] * 14)]
    # the stored sums are the table's own raw predictions
    sums = table.predict(np.array([[CHOICES.index(c) for c in _codes(a["arch"])] for a in calib]),
                         corrected=False)
    np.testing.assert_allclose(sums, [c["table_sum_ms"] for c in calib], rtol=1e-4)
    a, b = fit_correction(sums, np.array([c["median_ms"] for c in calib]))
    assert table.correction == pytest.approx((a, b), rel=1e-4, abs=1e-5)


def _codes(arch_string):
    from moga_zoo.search_space import Architecture
    return Architecture.from_string(arch_string).choices


def test_resume_measures_only_what_is_missing(tmp_path, monkeypatch):
    path = tmp_path / "t.json"
    real = builder_mod.measure_interleaved
    calls = []

    def interrupted(timers, *args, **kwargs):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(list(timers))
        return real(timers, *args, **kwargs)

    monkeypatch.setattr(builder_mod, "measure_interleaved", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_table(path, **TINY)
    partial = json.loads(path.read_text())  # fixed parts + layers 1-3 were written
    assert partial["fixed"] is not None and partial["layers"][2] is not None
    assert partial["layers"][3] is None and "correction" not in partial
    with pytest.raises(TableFormatError, match="missing layer 4"):
        load_table(path)

    calls.clear()
    monkeypatch.setattr(builder_mod, "measure_interleaved",
                        lambda timers, *a, **k: calls.append(list(timers)) or real(timers, *a, **k))
    table = build_table(path, **TINY)
    assert len(calls) == NUM_LAYERS - 3  # layers 4..14 only; calibration uses its own path
    done = json.loads(path.read_text())
    assert done["layers"][:3] == partial["layers"][:3] and done["fixed"] == partial["fixed"]
    assert table.correction is not None


def test_resume_refuses_other_settings_and_leaves_file(tiny_table):
    path, _ = tiny_table
    before = path.read_bytes()
    with pytest.raises(TableFormatError, match=r"other settings \(resolution: file 32 vs now 64"):
        build_table(path, **{**TINY, "resolution": 64})
    assert path.read_bytes() == before
    assert build_table(path, **TINY).predict_arch(MOGA_A) > 0  # complete: nothing re-measured
    assert path.read_bytes() == before


def test_corrupt_output_is_not_overwritten(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"format": "moga_zoo.latency_table", "lay')
    with pytest.raises(TableFormatError, match="corrupt or truncated"):
        build_table(path, **TINY)
    assert path.read_text() == '{"format": "moga_zoo.latency_table", "lay'


@pytest.mark.parametrize("kwargs, match", [
    (dict(device="tpu"), "unknown device 'tpu'"),
    (dict(runtime="tensorrt"), "unknown runtime 'tensorrt'"),
    (dict(threads=0), "threads"),
    (dict(resolution=100), "multiple of 32"),
    (dict(batch=0), "batch"),
    (dict(calibration_samples=1), "calibration-samples"),
])
def test_bad_build_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_table(tmp_path / "t.json", **{**TINY, **kwargs})
    assert not (tmp_path / "t.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        get_runtime("torch", "cuda", 1)


def test_onnxruntime_block_matches_torch():
    rt = get_runtime("onnxruntime", "cpu", 1)
    part = layer_part(5, len(CHOICES) - 1, 64, 1)  # e6k7se, hard-swish, SE
    sess = rt.session(part.module, part.input_shape)
    x = torch.randn(part.input_shape)
    with torch.inference_mode():
        ref = part.module(x).numpy()
    [(name, shape)] = [(i.name, i.shape) for i in sess.get_inputs()]
    assert shape[0] == "batch" and shape[1:] == list(part.input_shape[1:])  # the predict export
    np.testing.assert_allclose(sess.run(None, {name: x.numpy()})[0], ref, rtol=1e-4, atol=1e-5)
    assert rt.timer(part.module, part.input_shape)() > 0


def test_measure_interleaved_counts_and_statistics():
    seqs = {"a": iter([9.0, 1, 2, 3, 4]), "b": iter([9.0, 10, 30, 20, 40])}
    timers = {k: (lambda it=it: next(it)) for k, it in seqs.items()}
    stats = measure_interleaved(timers, warmup=1, repeats=4)
    assert stats["a"] == {"median_ms": 2.5, "p25_ms": 1.75, "p75_ms": 3.25, "min_ms": 1.0,
                          "runs": 4}
    assert stats["b"]["median_ms"] == 25.0 and stats["b"]["min_ms"] == 10.0
    with pytest.raises(ValueError):
        measure_interleaved(timers, warmup=0, repeats=0)


def test_fit_correction_recovers_line():
    x = np.array([10.0, 12.0, 15.0, 20.0])
    a, b = fit_correction(x, 1.2 * x - 0.5)
    assert (a, b) == pytest.approx((1.2, -0.5))
    with pytest.raises(ValueError, match="not positive"):
        fit_correction(x, -x)
    with pytest.raises(ValueError, match="different block sums"):
        fit_correction(np.ones(3), np.ones(3))
