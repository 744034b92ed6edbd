"""The proxy: stride schedules, the cluttered canvas, the capacity ladder, the pilot summary."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from supernet_helpers import TINY, fake_fashion_mnist, randomise_bn

import moga_zoo
from moga_zoo import search_space
from moga_zoo.search_space import (IMAGENET_STRIDES, MOGA_A, MOGA_C, NUM_LAYERS, Architecture,
                                   ArchitectureError, block_path, space_hash)
from search_repro.data import (CanvasTask, DataError, load_splits, parse_task, place_garments,
                               render_canvas)
from search_repro.protocol import pilot_summary
from search_repro.proxy import CANVAS_PROXY, CANVAS_STRIDES, capacity_ladder
from search_repro.supernet import Supernet
from search_repro.supernet.checkpoint import CheckpointError, load_supernet, save_supernet


def _dw_input_sizes(strides, resolution: int) -> list[int]:
    """Input side of each searchable layer's depthwise conv, recorded on a real forward pass."""
    model = moga_zoo.create(arch=MOGA_A, num_classes=10, in_chans=1, channel_multiplier=0.25,
                            strides=strides).eval()
    sizes = {}
    for i in range(NUM_LAYERS):
        model.get_submodule(block_path(i)).conv_dw.register_forward_pre_hook(
            lambda mod, args, i=i: sizes.__setitem__(i, args[0].shape[-1]))
    with torch.no_grad():
        model(torch.zeros(1, 1, resolution, resolution))
    return [sizes[i] for i in range(NUM_LAYERS)]


def _outer_ring_reaches_pixels(kernel: int, stride: int, side: int) -> bool:
    """Does the outermost ring of a ``kernel`` depthwise conv ever touch a real pixel? If not,
    the kernel computes what ``kernel - 2`` computes with the same inner weights."""
    arch = Architecture.decode([search_space.CHOICES.index(
        search_space.Choice(kernel, 3, False))] * NUM_LAYERS)
    strides = [stride] + [1] * (NUM_LAYERS - 1)
    conv = moga_zoo.create(arch=arch, strides=strides, channel_multiplier=0.25).blocks[1][0].conv_dw
    with torch.no_grad():
        ring = torch.ones_like(conv.weight)
        ring[..., 1:-1, 1:-1] = 0
        conv.weight.copy_(ring)
        out = conv(torch.rand(1, conv.in_channels, side, side) + 1)
    return bool(out.abs().sum() > 0)


def test_proxy_schedule_leaves_no_two_kernel_choices_equivalent():
    sides = _dw_input_sizes(CANVAS_STRIDES, CANVAS_PROXY.resolution)
    assert min(sides) == 4
    for side, stride in zip(sides, CANVAS_STRIDES):
        for kernel in (5, 7):
            assert _outer_ring_reaches_pixels(kernel, stride, side), (side, stride, kernel)


def test_the_check_sees_degenerate_kernels_under_imagenet_strides_at_64px():
    sides = _dw_input_sizes(IMAGENET_STRIDES, 64)
    assert sides[-1] == 2  # layers 12-14 run on 2x2 maps
    assert not _outer_ring_reaches_pixels(5, 1, 2)
    assert not _outer_ring_reaches_pixels(7, 1, 2)


def test_default_schedule_is_moga_and_schedules_do_not_change_weights():
    assert IMAGENET_STRIDES == (2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1)
    a = moga_zoo.create(arch=MOGA_C)
    b = moga_zoo.create(arch=MOGA_C, strides=IMAGENET_STRIDES)
    c = moga_zoo.create(arch=MOGA_C, strides=CANVAS_STRIDES)
    assert str(a) == str(b)
    assert {k: v.shape for k, v in a.state_dict().items()} == \
           {k: v.shape for k, v in c.state_dict().items()}
    assert c.blocks[5][0].conv_dw.stride == (1, 1) and a.blocks[5][0].conv_dw.stride == (2, 2)


@pytest.mark.parametrize("bad", [[2] * 13, [3] + [1] * 13, [True] + [1] * 13, "2,1"])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ArchitectureError, match="stride schedule"):
        moga_zoo.create(arch=MOGA_A, strides=bad)


def test_space_hash_covers_what_the_builder_consumes(monkeypatch):
    before = space_hash()
    first = moga_zoo.create(arch=MOGA_A).blocks[0][0]
    monkeypatch.setitem(search_space.SKELETON, "first_block",
                        {**search_space.SKELETON["first_block"], "kernel": 5})
    assert space_hash() != before
    assert moga_zoo.create(arch=MOGA_A).blocks[0][0].conv_dw.kernel_size == (5, 5)
    assert first.conv_dw.kernel_size == (3, 3)
    monkeypatch.undo()
    monkeypatch.setitem(search_space.SKELETON, "se",
                        {**search_space.SKELETON["se"], "gate": "sigmoid"})
    assert space_hash() != before
    gate = moga_zoo.create(arch=MOGA_A).blocks[2][1].se.gate
    assert type(gate).__name__ == "Sigmoid"
    monkeypatch.undo()
    assert space_hash() == before
    assert type(moga_zoo.create(arch=MOGA_A).blocks[2][1].se.gate).__name__ == "Hardsigmoid"


def test_supernet_exports_identical_models_under_a_schedule():
    torch.manual_seed(0)
    net = Supernet(**TINY, strides=CANVAS_STRIDES)
    randomise_bn(net)
    arch = MOGA_C
    net.eval()
    model = net.export_subnet(arch)
    x = torch.randn(4, 1, 64, 64)
    with torch.no_grad():
        expected, got = net(x, arch.encode()), model(x)
    assert expected.std(0).mean() > 1e-4
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert model.blocks[5][0].conv_dw.stride == (1, 1)


def test_schedule_is_recorded_in_the_sidecar_and_checked_on_load(tmp_path):
    net = Supernet(**TINY, strides=CANVAS_STRIDES)
    weights = save_supernet(tmp_path / "sn", net, {"strides": list(CANVAS_STRIDES)}, {})
    sidecar = weights.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    assert meta["model"]["strides"] == list(CANVAS_STRIDES)
    loaded, _ = load_supernet(weights)
    assert loaded.config["strides"] == list(CANVAS_STRIDES)
    meta["model"]["strides"] = list(IMAGENET_STRIDES)
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="stride schedule"):
        load_supernet(weights)
    meta["model"]["strides"] = meta["training"]["strides"] = [5] * 14
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="invalid model settings"):
        load_supernet(weights)


def test_an_unscaled_garment_at_a_whole_pixel_lands_unchanged():
    images = torch.from_numpy(np.random.default_rng(0).integers(1, 256, (3, 28, 28))
                              .astype(np.uint8))
    canvas = place_garments(images, np.ones(3), np.array([0.0, 7.0, 20.0]),
                            np.array([20.0, 3.0, 0.0]), 48)
    for img, out, (x, y) in zip(images, canvas, [(0, 20), (7, 3), (20, 0)]):
        torch.testing.assert_close(out[y:y + 28, x:x + 28], img.float(), atol=1e-3, rtol=0)
        out[y:y + 28, x:x + 28] = 0
        assert float(out.abs().max()) < 1e-3  # nothing outside the garment


def test_a_halved_garment_keeps_its_mean_and_its_place():
    images = torch.full((1, 28, 28), 200, dtype=torch.uint8)
    canvas = place_garments(images, np.array([0.5]), np.array([10.0]), np.array([30.0]), 64)[0]
    inside = canvas[31:43, 11:23]  # away from the bilinear edge
    assert torch.allclose(inside, torch.full_like(inside, 200.0), atol=1e-3)
    assert float(canvas[:29].abs().max()) < 1e-3 and float(canvas[:, :9].abs().max()) < 1e-3


def test_a_turned_garment_turns_counter_clockwise_about_its_centre_and_stays_whole():
    image = torch.zeros((1, 28, 28), dtype=torch.uint8)
    image[0, 2:6, 12:16] = 255  # a block at the top middle
    canvas = place_garments(image, np.ones(1), np.array([18.0]), np.array([18.0]), 64,
                            angle=np.array([90.0]))[0]
    rows, cols = torch.nonzero(canvas > 128, as_tuple=True)
    # the garment's centre is canvas pixel (31.5, 31.5); its top turns to its left
    assert 18 <= float(cols.float().mean()) <= 24 and 30 <= float(rows.float().mean()) <= 33
    turned = CanvasTask(scale=(1.3, 1.3), clutter=0, rotate=180)
    garments = torch.full((40, 28, 28), 200, dtype=torch.uint8)
    canvases = render_canvas(garments, turned, 64, seed=0).float()
    mass = canvases.sum(dim=(1, 2)) / (200 * (28 * 1.3) ** 2)
    assert float(mass.min()) > 0.97 and float(mass.max()) < 1.03  # no corner cut off
    assert len({round(float(c[32].sum())) for c in canvases}) > 30  # and the angles differ
    with pytest.raises(DataError, match="does not fit"):
        render_canvas(garments, CanvasTask(scale=(1.8, 1.8), rotate=45), 64, seed=0)
    assert parse_task("canvas:rotate=180") == CanvasTask(rotate=180.0)
    assert "rotate" not in CanvasTask().describe()  # the pinned default is described as before


def test_canvas_is_deterministic_and_clutter_comes_from_other_images():
    images = torch.zeros((50, 28, 28), dtype=torch.uint8)
    images[:, 10:18, 10:18] = 200  # only the middle of each image is bright
    task = CanvasTask(scale=(0.7, 0.7), clutter=3, patch=8)
    a = render_canvas(images, task, 64, seed=[0, 1])
    assert torch.equal(a, render_canvas(images, task, 64, seed=[0, 1]))
    assert not torch.equal(a, render_canvas(images, task, 64, seed=[0, 2]))
    without = render_canvas(images, CanvasTask(scale=(0.7, 0.7), clutter=0), 64, seed=[0, 1])
    assert int((a > 100).sum()) > int((without > 100).sum())  # the patches add bright pixels


def test_canvas_task_parsing_and_bad_tasks():
    assert parse_task("canvas") == CanvasTask()
    assert parse_task("plain") is None
    assert parse_task("canvas:clutter=6,scale=0.5-1.0") == CanvasTask(scale=(0.5, 1.0), clutter=6)
    for bad in ("mosaic", "canvas:clutter=x", "canvas:zoom=2", "plain:clutter=1"):
        with pytest.raises(DataError):
            parse_task(bad)
    with pytest.raises(DataError, match="does not fit"):
        render_canvas(torch.zeros((2, 28, 28), dtype=torch.uint8), CanvasTask(), 32, seed=0)


def test_canvas_splits_from_fashion_mnist_files(tmp_path):
    root = fake_fashion_mnist(tmp_path / "fm", n_train=60, n_test=20)
    a = load_splits(root, 64, 10, 0, "canvas")
    b = load_splits(root, 64, 10, 0, "canvas")
    assert a.describe()["train"] == 50 and a.resolution == 64
    x, y = a.train[3]
    assert x.shape == (1, 64, 64)
    assert torch.equal(x, b.train[3][0])
    assert "canvas" in a.source


def test_capacity_ladder_runs_from_smallest_to_largest():
    ladder = capacity_ladder(6)
    names = list(ladder)
    assert str(ladder[names[0]]) == "-".join(["e3k3"] * 14)
    assert str(ladder[names[-1]]) == "-".join(["e6k7se"] * 14)
    assert ladder == capacity_ladder(6)
    assert len({str(a) for a in ladder.values()}) == 6


def test_pilot_summary_ratio_of_range_to_pooled_seed_sd():
    def run(arch, seed, acc):
        return {"arch": arch, "seed": seed, "test_accuracy": acc, "test_nll": 1.0, "params": 1,
                "final_loss_mean_last_10pct": 1 - acc,
                "macs": 1, "train_seconds": 1.0, "proxy": {}, "recipe": {}}
    runs = {"a": [run("a", 0, 0.60), run("a", 1, 0.62)],
            "b": [run("b", 0, 0.70), run("b", 1, 0.70)],
            "c": [run("c", 0, 0.80), run("c", 1, 0.78)]}
    s = pilot_summary(runs)
    sd = np.sqrt(np.mean([np.var([0.60, 0.62], ddof=1), 0.0, np.var([0.80, 0.78], ddof=1)]))
    assert s["range_of_means"] == pytest.approx(0.18)
    assert s["seed_sd_pooled"] == pytest.approx(sd)
    assert s["range_over_seed_sd"] == pytest.approx(0.18 / sd)
    assert s["seed_to_seed_kendall_tau"] == [pytest.approx(1.0)]
    assert s["largest_seed_to_seed_difference"] == pytest.approx(0.02)
    assert s["final_train_loss_range"] == [pytest.approx(0.20), pytest.approx(0.40)]
    assert s["train_seconds_range"] == [1.0, 1.0]
    assert s["seed_sd_pooled_floor"] is None  # no run missing
    assert pilot_summary({"a": runs["a"]})["complete"] is False
    # unequal seeds: every run counts, pooled by degrees of freedom; tau on the shared seeds
    runs["d"] = [run("d", 0, 0.50), run("d", 1, 0.52), run("d", 2, 0.56)]
    runs["d"][2]["test_nll"] = 1.3
    s = pilot_summary(runs)
    pooled = (np.var([0.60, 0.62], ddof=1) + np.var([0.80, 0.78], ddof=1)
              + 2 * np.var([0.50, 0.52, 0.56], ddof=1)) / 5
    assert s["seed_sd_pooled"] == pytest.approx(np.sqrt(pooled))
    assert s["range_of_means"] == pytest.approx(0.79 - 0.5267, abs=1e-4)
    assert s["architectures"]["d"]["seeds"] == [0, 1, 2] and s["seeds"] == [0, 1, 2]
    assert s["seed_to_seed_kendall_tau"] == [pytest.approx(1.0)]
    nll_sd = np.sqrt(2 * np.var([1.0, 1.0, 1.3], ddof=1) / 5)
    assert s["nll_range_over_seed_sd"] == pytest.approx(0.1 / nll_sd)
    # seed 2 of a, b and c missing: no score for them pools below the floor, and runs at their
    # architectures' means reach it
    floor = s["seed_sd_pooled_floor"]
    assert floor == pytest.approx(np.sqrt(pooled * 5 / 8))
    filled = {n: r + [run(n, 2, float(np.mean([x["test_accuracy"] for x in r])))]
              for n, r in runs.items() if n != "d"}
    assert pilot_summary({**filled, "d": runs["d"]})["seed_sd_pooled"] == pytest.approx(floor)
    for acc in (0.0, 0.61, 1.0):
        other = {**filled, "a": runs["a"] + [run("a", 2, acc)], "d": runs["d"]}
        assert pilot_summary(other)["seed_sd_pooled"] >= floor - 1e-12
    # a seed that lifts every network alike is no noise for a ranking on shared seeds
    lifted = {n: [run(n, k, acc + 0.05 * k) for k, acc in enumerate(a)]
              for n, a in {"a": [0.60, 0.61, 0.60], "b": [0.70, 0.70, 0.71]}.items()}
    s = pilot_summary(lifted)
    assert s["seed_sd_pooled"] > 0.04
    residual = np.array([[0, 0.01, 0], [0, 0, 0.01]]) - [[0.01 / 3], [0.01 / 3]]
    residual -= residual.mean(0)
    assert s["seed_sd_net_of_shared_offsets"] == pytest.approx(np.sqrt((residual ** 2).sum() / 2))
    assert s["seed_sd_net_of_shared_offsets"] < 0.01


PINNED_CANVASES = {
    "canvas": "154cd04fe9827f2acab6f6d4584c7d7175ff5e6bc497c618ed7ed2a1d2ddcf6c",
    "canvas:rotate=180": "c744f92c9a50fe61b15f3c5f7d210c4058dbc9880af62f106db50fcab62635bf"}
_DIGEST_SCRIPT = """
import hashlib, sys, torch
from search_repro.data import load_fashion_mnist, parse_task, render_canvas
images = torch.from_numpy(load_fashion_mnist()["train"][0][:1000].copy())
canvas = render_canvas(images, parse_task(sys.argv[1]), 64, [0, 1])
print(hashlib.sha256(canvas.numpy().tobytes()).hexdigest())
"""


def _canvas_digest(task: str, **env: str) -> str:
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _DIGEST_SCRIPT, task], capture_output=True,
                         text=True, check=True, env={**os.environ, **env})
    return out.stdout.split()[-1]


@pytest.mark.parametrize("task, digest", PINNED_CANVASES.items())
def test_the_canvas_proxy_is_pinned(task, digest):
    """The supernet, the stand-alone references and the searches are scored on these canvases
    (the proxy's own task among them): any change to their drawing must be deliberate."""
    import hashlib

    from search_repro.data import load_fashion_mnist

    images = torch.from_numpy(load_fashion_mnist()["train"][0][:1000].copy())
    canvas = render_canvas(images, parse_task(task), 64, [0, 1])
    assert hashlib.sha256(canvas.numpy().tobytes()).hexdigest() == digest
    assert CANVAS_PROXY.task in PINNED_CANVASES  # the proxy's own drawing is among them


@pytest.mark.parametrize("capped", [
    {"ATEN_CPU_CAPABILITY": "default"},  # torch's scalar kernels, as on a CPU without AVX2
    {"ATEN_CPU_CAPABILITY": "avx2", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
     "MKL_ENABLE_INSTRUCTIONS": "AVX2"}])
def test_the_canvas_bytes_do_not_depend_on_the_cpu_features(capped):
    """Another CPU picks other SIMD code in numpy, torch and BLAS: capping the features in a
    child process must not change a byte (torch's fused sampling kernel did: an Intel AVX-512
    machine rendered other bytes than AMD ones)."""
    assert _canvas_digest(CANVAS_PROXY.task, **capped) == PINNED_CANVASES[CANVAS_PROXY.task]


def test_the_exact_geometry_matches_torchs_affine_sampling():
    """An independent reference for the placement: torch's affine_grid + grid_sample (whose last
    bits depend on the CPU) agrees with the exact rendering to float rounding."""
    import torch.nn.functional as F

    from search_repro.data import exact_cos_sin

    rng = np.random.default_rng(3)
    n, side, size = 64, 28, 64
    images = torch.from_numpy(rng.integers(0, 256, (n, side, side)).astype(np.uint8))
    scale, x0, y0 = rng.uniform(0.6, 1.3, n), rng.uniform(-4, 40, n), rng.uniform(-4, 40, n)
    angle = rng.uniform(-180, 180, n)
    phi = np.radians(angle)
    cos, sin = exact_cos_sin(angle)
    np.testing.assert_allclose(cos, np.cos(phi), atol=1e-15)
    np.testing.assert_allclose(sin, np.sin(phi), atol=1e-15)
    a = size / (side * scale)
    bx = 2.0 / side * ((size / 2 - 0.5 - x0) / scale) + 1.0 / side - 1.0
    by = 2.0 / side * ((size / 2 - 0.5 - y0) / scale) + 1.0 / side - 1.0
    theta = torch.tensor(np.stack([
        np.stack([a * cos, -a * sin, cos * bx - sin * by], 1),
        np.stack([a * sin, a * cos, sin * bx + cos * by], 1)], 1), dtype=torch.float64)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    expected = F.grid_sample(images.double()[:, None], grid, mode="bilinear",
                             padding_mode="zeros", align_corners=False)[:, 0]
    got = place_garments(images, scale, x0, y0, size, angle).double()
    assert float((got - expected).abs().max()) < 0.02  # of 255: float32 rounding only
    assert float(expected.abs().sum()) > 1e5  # the garments did land on the canvases
