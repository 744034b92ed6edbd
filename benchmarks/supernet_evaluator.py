"""Evaluator throughput: prefix-sharing + cache vs naive per-candidate evaluation, same run.

    python benchmarks/supernet_evaluator.py [--checkpoint PATH] [--generations 10]

Workload 1 replays a search-like request stream (a population of 24, then per generation 24
children by uniform crossover and per-layer mutation (1/14), each generation scored in one call,
survivors = best 24); workload 2 is unique random architectures (no repeats, little shared
prefix: the worst case). Two naive references score every requested architecture separately
(no cache, no shared prefixes), timed on the first ``--naive`` requests: "full" on the whole
5000-image search-validation split with 4 x 128 calibration images, "same settings" with the
evaluator's own (smaller) split and calibration.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT, SupernetEvaluator

POP = 24


def search_like_stream(evaluator: SupernetEvaluator, generations: int, seed: int
                       ) -> tuple[list[np.ndarray], float]:
    rng = np.random.default_rng(seed)
    pop = rng.integers(0, 12, (POP, 14))
    calls, tic = [pop], time.perf_counter()
    fitness = evaluator.accuracy(pop)
    for _ in range(generations):
        a, b = pop[rng.integers(0, POP, POP)], pop[rng.integers(0, POP, POP)]
        children = np.where(rng.random((POP, 14)) < 0.5, a, b)
        mutate = rng.random((POP, 14)) < 1 / 14
        children[mutate] = rng.integers(0, 12, int(mutate.sum()))
        calls.append(children)
        child_fit = evaluator.accuracy(children)
        both, both_fit = np.concatenate([pop, children]), np.concatenate([fitness, child_fit])
        keep = np.argsort(-both_fit, kind="stable")[:POP]
        pop, fitness = both[keep], both_fit[keep]
    return calls, time.perf_counter() - tic


def naive_rate(evaluator: SupernetEvaluator, requests: np.ndarray) -> float:
    tic = time.perf_counter()
    for codes in requests:
        evaluator.naive_accuracy(codes)
    return len(requests) / (time.perf_counter() - tic)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=BUNDLED_CHECKPOINT)
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--random", type=int, default=48, help="unique random architectures")
    p.add_argument("--naive", type=int, default=16, help="requests timed for the naive rate")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    evaluator = SupernetEvaluator.from_checkpoint(args.checkpoint)
    calls, seconds = search_like_stream(evaluator, args.generations, seed=0)
    requests = np.concatenate(calls)
    stream = {"requests": len(requests), "unique": evaluator.computed,
              "seconds": round(seconds, 2), "archs_per_s": round(len(requests) / seconds, 2)}
    naive_same = naive_rate(evaluator, requests[:args.naive])
    full = SupernetEvaluator.from_checkpoint(args.checkpoint, val_size=5000, calib_batches=4)
    naive = naive_rate(full, requests[:args.naive])

    fresh = SupernetEvaluator.from_checkpoint(args.checkpoint)
    random = np.random.default_rng(1).integers(0, 12, (args.random, 14))
    tic = time.perf_counter()
    fresh.accuracy(random)
    rnd_seconds = time.perf_counter() - tic
    result = {
        "command": "python benchmarks/supernet_evaluator.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "checkpoint"),
        "settings": evaluator.describe()["settings"], "threads": args.threads,
        "naive_full_archs_per_s": round(naive, 2),
        "naive_full_settings": full.describe()["settings"],
        "naive_same_settings_archs_per_s": round(naive_same, 2),
        "search_like": {**stream, "speedup_vs_naive_full": round(stream["archs_per_s"] / naive, 2),
                        "speedup_vs_naive_same_settings": round(stream["archs_per_s"] / naive_same,
                                                                2)},
        "random_unique": {"archs": args.random, "seconds": round(rnd_seconds, 2),
                          "archs_per_s": round(args.random / rnd_seconds, 2),
                          "speedup_vs_naive_full": round(args.random / rnd_seconds / naive, 2),
                          "speedup_vs_naive_same_settings": round(
                              args.random / rnd_seconds / naive_same, 2)},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
