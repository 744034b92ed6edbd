"""glibc's malloc thresholds as they are, against search_repro/allocator.py's, same run.

    python benchmarks/allocator.py                 # 3 rounds, about 5 minutes
    python benchmarks/allocator.py --rounds 1      # a quick look

Each measurement is a fresh process on one thread, the two settings alternating (A B A B):

* ``evaluator block``: one BN-folded e6k7se block of the proxy network on 5,000 16 x 16 maps in
  the evaluator's chunks of 250 images (seconds per pass, median of 3 passes);
* ``scoring``: the bundled evaluator scoring 8 random architectures (seconds, after loading);
* ``training step``: a stand-alone MoGA-A step at the proxy's recipe, batch 128 (steps/s over
  6 steps after 2).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

SETTINGS = ("glibc default", "reuse freed memory")
WORKLOADS = {"evaluator block": "s per pass", "scoring": "s for 8 archs",
             "training step": "steps/s"}


def _block() -> float:
    import torch

    import moga_zoo
    from moga_zoo.search_space import Architecture
    from search_repro.proxy import CANVAS_PROXY
    from search_repro.supernet.evaluator import fold_batchnorm

    model = moga_zoo.create(arch=Architecture.parse("-".join(["e6k7se"] * 14)), num_classes=10,
                            in_chans=1, **CANVAS_PROXY.model_kwargs()).eval()
    block = fold_batchnorm(model.blocks[2][1]).to(memory_format=torch.channels_last)
    x = torch.randn(5000, 16, 16, 16).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        for _ in range(4):  # the first is a warm-up
            tic = time.perf_counter()
            torch.cat([block(chunk) for chunk in x.split(250)])
            times.append(time.perf_counter() - tic)
    return statistics.median(times[1:])


def _scoring() -> float:
    import numpy as np

    from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS
    from search_repro.supernet import load_bundled_evaluator

    evaluator = load_bundled_evaluator()
    codes = np.random.default_rng(0).integers(0, NUM_CHOICES, (8, NUM_LAYERS))
    tic = time.perf_counter()
    evaluator.accuracy(codes)
    return time.perf_counter() - tic


def _training_step() -> float:
    import torch
    import torch.nn.functional as F

    import moga_zoo
    from moga_zoo.search_space import MOGA_A
    from search_repro.depthwise import speed_up_depthwise
    from search_repro.proxy import CANVAS_PROXY

    torch.manual_seed(0)
    model = moga_zoo.create(arch=MOGA_A, num_classes=10, in_chans=1,
                            **CANVAS_PROXY.model_kwargs()).to(memory_format=torch.channels_last)
    speed_up_depthwise(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    x = torch.randn(128, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))
    for step in range(8):
        if step == 2:
            tic = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return 6 / (time.perf_counter() - tic)


def child(setting: str, workload: str) -> None:
    import torch

    from search_repro import allocator

    torch.set_num_threads(1)
    if setting == "glibc default":
        allocator._applied = False  # as if already tried, and not applied
    else:
        assert allocator.reuse_freed_memory(), "mallopt did not apply on this machine"
    fn = {"evaluator block": _block, "scoring": _scoring, "training step": _training_step}
    print(json.dumps(fn[workload]()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(*a.child)
        return 0
    import torch

    torch.set_num_threads(1)  # what each measurement runs with
    print(machine_line())
    results = {(w, s): [] for w in WORKLOADS for s in SETTINGS}
    for _ in range(a.rounds):
        for workload in WORKLOADS:
            for setting in SETTINGS:  # alternating
                out = subprocess.run([sys.executable, __file__, "--child", setting, workload],
                                     check=True, capture_output=True, text=True).stdout
                results[workload, setting].append(float(out.strip().splitlines()[-1]))
    print("\n| workload | unit | glibc default | reuse freed memory | speed-up |")
    print("|---|---|---|---|---|")
    for workload, unit in WORKLOADS.items():
        base, new = (statistics.median(results[workload, s]) for s in SETTINGS)
        speedup = new / base if unit == "steps/s" else base / new
        print(f"| {workload} | {unit} (median of {a.rounds}) | {base:.3g} | {new:.3g} | "
              f"{speedup:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
