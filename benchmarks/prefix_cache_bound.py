"""How much would a search-wide cache of prefix activations save? A bound from a finished search.

    python benchmarks/prefix_cache_bound.py evidence/search/cpu-torch/history.csv

The evaluator shares the work of common prefixes within one call (one generation) and keeps the
first layer's 12 outputs across calls. A cache across generations would also keep the
validation activations of deeper prefixes, bounded in memory (least recently used out). This
replays the history's generations in the evaluator's order and counts the block evaluations
each budget saves, weighted by each layer's multiply-adds on the bundled supernet (mean over its
12 choices, measured with torch's FLOP counter on one 64 px image); a cached prefix holds its
5,000 validation images' float32 activations. Calibration and the head are left out, so this is
an upper bound on the saving of the forward passes.

It also prints what the sharing within a call saves, and, for ``--processes 2``, the larger of
the two processes' shares (each scores one contiguous block of the sorted candidates) when the
blocks hold equal counts, as they do, and when the split point is chosen to balance the work.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import OrderedDict, defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode

from moga_zoo.search_space import NUM_LAYERS
from search_repro.supernet.checkpoint import load_supernet
from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT

VALIDATION_IMAGES = 5000


def layer_costs() -> tuple[list[float], list[float]]:
    """Mean multiply-adds per image and activation MB (5,000 images) of each searchable layer."""
    net, meta = load_supernet(BUNDLED_CHECKPOINT)
    side = meta["training"]["resolution"]
    h = torch.zeros(1, net.config["in_chans"], side, side)
    macs, megabytes = [], []
    with torch.no_grad():
        h = net.stem(h)
        for layer in net.layers:
            counts = []
            for block in layer:
                with FlopCounterMode(display=False) as counter:
                    out = block(h)
                counts.append(counter.get_total_flops() / 2)
            macs.append(sum(counts) / len(counts))
            megabytes.append(out.numel() * 4 * VALIDATION_IMAGES / 1e6)
            h = out
    return macs, megabytes


def replay(batches: dict[int, list[tuple[int, ...]]], macs: list[float], megabytes: list[float],
           budget_mb: float) -> float:
    """Multiply-adds of the block evaluations a ``budget_mb`` cache leaves to compute."""
    cache: OrderedDict[tuple[int, ...], float] = OrderedDict()
    used = cost = 0.0
    for generation in sorted(batches):
        seen = set()
        for arch in sorted(set(batches[generation])):
            for depth in range(1, NUM_LAYERS):  # depth 0: already kept by the evaluator
                prefix = arch[:depth + 1]
                if prefix in seen:
                    continue
                seen.add(prefix)
                if prefix in cache:
                    cache.move_to_end(prefix)
                    continue
                cost += macs[depth]
                if budget_mb > 0:
                    cache[prefix] = megabytes[depth]
                    used += megabytes[depth]
                    while used > budget_mb:
                        used -= cache.popitem(last=False)[1]
    return cost


def tree_cost(archs: list[tuple[int, ...]], macs: list[float]) -> float:
    """Multiply-adds of the distinct prefixes (depth 1 on) of one call's architectures."""
    return sum(macs[d] * len({a[:d + 1] for a in archs}) for d in range(1, NUM_LAYERS))


def within_calls(batches: dict[int, list[tuple[int, ...]]], macs: list[float]
                 ) -> tuple[float, float, float, float]:
    """(no sharing, sharing within each call, larger process share of 2 by count, larger
    share of 2 at the best split point), in multiply-adds over all calls."""
    alone = shared = by_count = balanced = 0.0
    for generation in sorted(batches):
        archs = sorted(set(batches[generation]))
        alone += len(archs) * sum(macs[1:])
        shared += tree_cost(archs, macs)
        half = -(-len(archs) // 2)
        by_count += max(tree_cost(archs[:half], macs), tree_cost(archs[half:], macs))
        balanced += min((max(tree_cost(archs[:k], macs), tree_cost(archs[k:], macs))
                         for k in range(1, len(archs))), default=tree_cost(archs, macs))
    return alone, shared, by_count, balanced


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("history", help="history.csv of a finished search")
    p.add_argument("--budgets-gb", default="1,2,4,8,1000")
    a = p.parse_args(argv)
    batches: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    with open(a.history, newline="") as f:
        for row in csv.DictReader(f):
            batches[int(row["generation"])].append(tuple(map(int, row["codes"].split())))
    macs, megabytes = layer_costs()
    base = replay(batches, macs, megabytes, 0)
    print(f"{a.history}: {sum(map(len, batches.values()))} candidates in {len(batches)} "
          f"generations; activations per prefix {min(megabytes):.0f}-{max(megabytes):.0f} MB\n")
    print("| cache (GB) | block multiply-adds left | saved |\n|---|---|---|")
    for gb in (float(g) for g in a.budgets_gb.split(",")):
        left = replay(batches, macs, megabytes, gb * 1000) / base
        print(f"| {gb:g} | {left:.1%} | {1 - left:.1%} |")
    alone, shared, by_count, balanced = within_calls(batches, macs)
    print(f"\nsharing prefixes within each call saves {1 - shared / alone:.1%} of the block "
          f"multiply-adds; with 2 processes the larger share is {by_count / shared:.1%} of them "
          f"split by count, {balanced / shared:.1%} at the best split point (50.0% is even)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
