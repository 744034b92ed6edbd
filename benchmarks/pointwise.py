"""1x1 convolutions of pooled maps: oneDNN's convolution against the same matrix product.

    python benchmarks/pointwise.py              # seconds
    python benchmarks/pointwise.py --rounds 20

The shapes are the 64 px proxy networks' (width 0.25): the 240 -> 1280 head and the
squeeze-excitation convolutions of the widest blocks, at the evaluator's 250 images per pass and
the training batch of 128 (forward, and forward + backward). Each row times ``F.conv2d`` and
:class:`search_repro.pointwise.PixelConv2d` alternating (A B A B ...), one thread, medians.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

from search_repro.allocator import reuse_freed_memory  # noqa: E402
from search_repro.pointwise import speed_up_pointwise  # noqa: E402

SHAPES = [("head", 240, 1280), ("SE reduce", 240, 60), ("SE expand", 60, 240),
          ("SE reduce", 96, 24), ("SE expand", 24, 96)]


def _timed(call, rounds: int) -> float:
    took = []
    for _ in range(rounds):
        tic = time.perf_counter()
        call()
        took.append(time.perf_counter() - tic)
    return statistics.median(took) * 1e3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=50, help="timed calls per variant and row")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    reuse_freed_memory()
    print(machine_line())
    print("\n| layer | channels | batch | pass | convolution (ms) | matrix product (ms) | "
          "speed-up |")
    print("|---|---|---|---|---|---|---|")
    for (name, cin, cout), (batch, backward) in (
            (s, b) for s in SHAPES for b in ((250, False), (128, True))):
        torch.manual_seed(0)
        conv = nn.Conv2d(cin, cout, 1)
        fast = nn.Conv2d(cin, cout, 1)
        fast.load_state_dict(conv.state_dict())
        speed_up_pointwise(fast)
        x = torch.randn(batch, cin, 1, 1, requires_grad=backward)

        def run(module):
            def call():
                if backward:
                    module(x).sum().backward()
                else:
                    with torch.inference_mode():
                        module(x)
            return call

        ms: dict[str, list[float]] = {"conv": [], "fast": []}
        for _ in range(2):  # warm-up, then A B A B in blocks of rounds // 5
            for key, module in (("conv", conv), ("fast", fast)):
                run(module)()
        for _ in range(5):
            for key, module in (("conv", conv), ("fast", fast)):
                ms[key].append(_timed(run(module), max(1, a.rounds // 5)))
        c, f = statistics.median(ms["conv"]), statistics.median(ms["fast"])
        what = "forward + backward" if backward else "forward"
        print(f"| {name} | {cin} -> {cout} | {batch} | {what} | {c:.3f} | {f:.3f} | "
              f"{c / f:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
