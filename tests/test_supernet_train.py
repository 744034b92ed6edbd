"""Training entry points: single process, resume, a real 2-process gloo DDP run, the CLI."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from supernet_helpers import fake_fashion_mnist

from moga_zoo.cli import main as cli_main
from search_repro.data import load_splits
from search_repro.depthwise import speed_up_depthwise
from search_repro.pointwise import speed_up_pointwise
from search_repro.supernet import Supernet, fair_paths, fair_step, load_supernet
from search_repro.supernet.fairness import coupling_at
from search_repro.supernet.train import (StepBatchSampler, TrainConfig, main, make_optimizer,
                                         train_supernet)

REPO = Path(__file__).resolve().parent.parent
TINY_RUN = dict(steps=3, batch_size=8, search_val_size=20, threads=1, save_every=10)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fake_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=120, n_test=20)


@pytest.fixture(scope="module")
def trained(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    weights = train_supernet(TrainConfig(out=str(out), data_root=str(root), **TINY_RUN))
    return out, weights


def test_single_process_run_writes_a_verified_supernet(trained):
    out, weights = trained
    net, meta = load_supernet(weights)
    assert meta["training"]["steps"] == 3 and meta["log_summary"]["steps_logged"] == 3
    assert len((out / "log.jsonl").read_text().splitlines()) == 3
    assert isinstance(net, Supernet) and meta["model"]["in_chans"] == 1


def test_resumed_run_equals_uninterrupted_run(root, trained, tmp_path):
    cfg = TrainConfig(out=str(tmp_path), data_root=str(root), max_minutes=1e-9, **TINY_RUN)
    results = [train_supernet(cfg) for _ in range(3)]  # each call stops after one step
    assert results[:2] == [None, None] and results[2] is not None
    a, b = load_file(str(trained[1])), load_file(str(results[2]))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_bad_data_root_is_a_clean_exit(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "o"), "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "apt-get install dataset-fashion-mnist" in err[0]


def test_cli_eval(trained, root, capsys):
    code = cli_main(["supernet", "eval", "moga_a", "moga_c", "--checkpoint", str(trained[1]),
                     "--data-root", str(root), "--val-size", "16", "--calib-batches", "1",
                     "--calib-batch-size", "16"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[1].endswith("moga_a")
    assert lines[0].startswith("supernet top-1 accuracy on the first 16 images of the "
                               "Fashion-MNIST search-validation split")
    assert 0 <= float(lines[1].split()[0]) <= 1
    assert cli_main(["supernet", "eval", "moga_a", "--checkpoint", str(trained[0] / "x")]) == 2


@pytest.mark.slow
def test_two_process_gloo_ddp_matches_averaged_gradients(root, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "search_repro.supernet.train", "--out", str(out), "--data-root", str(root),
           "--steps", "1", "--batch-size", "4", "--search-val-size", "20", "--threads", "1",
           "--device", "cpu"]
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    ddp = load_file(str(out / "supernet.safetensors"))

    # the same step in one process: per-rank gradients averaged, then one update (one
    # thread like the ranks: batch-4 BN on 1x1 maps amplifies float summation-order differences)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = _simulate_two_ranks(root)
    finally:
        torch.set_num_threads(threads)
    for name, p in net.named_parameters():
        torch.testing.assert_close(ddp[name], p.detach(), rtol=1e-5, atol=1e-5)


def _simulate_two_ranks(root: Path) -> Supernet:
    cfg = TrainConfig(out="", data_root=str(root), steps=1, batch_size=4, search_val_size=20)
    data = load_splits(root, 32, 20, 0)
    torch.manual_seed(0)
    net = Supernet(num_classes=10, in_chans=1, channel_multiplier=0.25).train()
    net = net.to(memory_format=torch.channels_last)  # as training does by default,
    speed_up_depthwise(net)  # with the same layers
    speed_up_pointwise(net)
    optimizer = make_optimizer(net, cfg)
    paths = fair_paths(np.random.default_rng([0, 1, 0]), coupling_at(0, cfg.coupled_warmup_steps))
    grads = []
    for rank in range(2):
        idx = next(iter(StepBatchSampler(len(data.train), 4, 1, 0, 0, rank, 2)))
        x = torch.stack([data.train[i][0] for i in idx])
        y = torch.tensor([data.train[i][1] for i in idx])
        replica = copy.deepcopy(net)
        torch.manual_seed(0)  # the step's dropout seed
        fair_step(replica, x, y, torch.optim.SGD(replica.parameters(), lr=0.0), paths)
        grads.append([p.grad for p in replica.parameters()])
    for p, g0, g1 in zip(net.parameters(), *grads):
        p.grad = (g0 + g1) / 2
    optimizer.step()  # the schedule starts at the base lr
    return net
