"""How many validation images per pass should the evaluator take? Uniform and per-stage chunks.

    python benchmarks/evaluator_chunks.py                  # a few minutes
    python benchmarks/evaluator_chunks.py --plans "250;125;500;5:1000"

Each plan is an evaluator of the bundled supernet on one thread: a number is its
``eval_batch_size`` (images per pass, the same at every layer); ``depth:size,...`` keeps the
default 250 and re-cuts the chunks to ``size`` images before the searchable layer ``depth``
(0-13; layers 2 and 5 are where the proxy's maps halve to 8 x 8 and 4 x 4), so that
smaller maps can go in larger passes. All evaluators first score the same 12 architectures (the
first layer's 12 outputs are then kept, as in a search), then, alternating (A B A B ...), the
same ``--archs`` new random architectures per round; medians over ``--rounds``, with the first
plan as the baseline, and the range of the per-round ratios (this machine drifts by several per
cent between rounds). The accuracies must be equal across plans (float32 rounding in the last
bits of the logits may differ); the script says if they are not.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT, SupernetEvaluator  # noqa: E402


class RechunkingEvaluator(SupernetEvaluator):
    """The evaluator with its chunks re-cut to ``plan[depth]`` images before layer ``depth``."""

    plan: dict[int, int] = {}

    def _descend(self, depth, archs, calib, val, out):
        size = self.plan.get(depth)
        if size and val[0].shape[0] != size:
            val = list(torch.cat(val).split(size))
        super()._descend(depth, archs, calib, val, out)


def build(plan: str) -> SupernetEvaluator:
    if ":" not in plan:
        return SupernetEvaluator.from_checkpoint(BUNDLED_CHECKPOINT, eval_batch_size=int(plan))
    evaluator = RechunkingEvaluator.from_checkpoint(BUNDLED_CHECKPOINT)
    evaluator.plan = dict(tuple(int(v) for v in item.split(":")) for item in plan.split(","))
    return evaluator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plans", default="250;125;500;1000;5:1000;1:125,2:250",
                   help="semicolon-separated: images per pass, or depth:images,... cuts")
    p.add_argument("--archs", type=int, default=6, help="new architectures per round")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    print(machine_line())
    plans = a.plans.split(";")
    evaluators = {plan: build(plan) for plan in plans}
    rng = np.random.default_rng(1)
    first = rng.integers(0, 12, (12, 14))
    first[:, 0] = np.arange(12)
    for ev in evaluators.values():
        ev.accuracy(first)
    seconds: dict[str, list[float]] = {plan: [] for plan in plans}
    for r in range(a.rounds):
        archs = rng.integers(0, 12, (a.archs, 14))
        accuracies = []
        for plan in (plans if r % 2 == 0 else plans[::-1]):
            tic = time.perf_counter()
            accuracies.append(evaluators[plan].accuracy(archs))
            seconds[plan].append(time.perf_counter() - tic)
        if any((acc != accuracies[0]).any() for acc in accuracies):
            print(f"round {r}: the plans' accuracies differ")
    base = statistics.median(seconds[plans[0]])
    print(f"\n| images per pass | s for {a.archs} new architectures (median of {a.rounds}) | "
          f"vs {plans[0]} | per-round ratios |")
    print("|---|---|---|---|")
    for plan in plans:
        m = statistics.median(seconds[plan])
        ratios = [s / b for s, b in zip(seconds[plan], seconds[plans[0]])]
        label = plan if ":" not in plan else f"250, re-cut to {plan}"
        print(f"| {label} | {m:.2f} | {m / base:.2f}x | {min(ratios):.2f}-{max(ratios):.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
