"""Supernet training step and evaluator: contiguous vs channels_last memory format, same run.

    flock /tmp/moga_timing.lock python benchmarks/supernet_step.py --threads 2

One strict-fairness step (12 paths, forward + backward, one SGD update) on random 32x32 grey
images at width 0.25 (the bundled proxy's shape), per batch size and memory format; then the
evaluator scoring random architectures of the bundled supernet. Baseline: the contiguous format
at the same batch size, measured in the same run. Medians of ``--repeats`` timed runs after one
warm-up.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from machine import machine_line
from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT, SupernetEvaluator
from search_repro.supernet.fairness import fair_paths, fair_step
from search_repro.supernet.model import Supernet
from search_repro.supernet.train import TrainConfig, make_optimizer

FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def step_seconds(batch: int, fmt: torch.memory_format, repeats: int) -> float:
    """Median seconds of one strict-fairness step on a random batch."""
    torch.manual_seed(0)
    net = Supernet(num_classes=10, in_chans=1, channel_multiplier=0.25).to(memory_format=fmt)
    optimizer = make_optimizer(net, TrainConfig(out=""))
    rng = np.random.default_rng(0)
    x = torch.randn(batch, 1, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    times = []
    for i in range(repeats + 1):
        tic = time.perf_counter()
        fair_step(net, x, y, optimizer, fair_paths(rng))
        if i:
            times.append(time.perf_counter() - tic)
    return statistics.median(times)


def evaluator_seconds(fmt: torch.memory_format, archs: int, repeats: int) -> float:
    """Median seconds to score ``archs`` new random architectures (a fresh evaluator each run)."""
    times = []
    for r in range(repeats):
        evaluator = SupernetEvaluator.from_checkpoint(
            BUNDLED_CHECKPOINT, channels_last=fmt is torch.channels_last)
        codes = np.random.default_rng(r).integers(0, 12, (archs, 14))
        tic = time.perf_counter()
        evaluator.accuracy(codes)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-sizes", default="64,256")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--archs", type=int, default=8, help="random architectures per evaluator run")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{machine_line()}; medians of {args.repeats} runs\n")
    print("| workload | batch | contiguous | channels_last | speed-up |")
    print("|---|---|---|---|---|")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        t = {name: step_seconds(batch, fmt, args.repeats) for name, fmt in FORMATS.items()}
        print(f"| fair step (12 paths), images/s | {batch} | {batch / t['contiguous']:.0f} | "
              f"{batch / t['channels_last']:.0f} | {t['contiguous'] / t['channels_last']:.2f}x |",
              flush=True)
    t = {name: evaluator_seconds(fmt, args.archs, args.repeats) for name, fmt in FORMATS.items()}
    print(f"| evaluator, architectures/s | 1000 val | {args.archs / t['contiguous']:.2f} | "
          f"{args.archs / t['channels_last']:.2f} | {t['contiguous'] / t['channels_last']:.2f}x |")


if __name__ == "__main__":
    main()
