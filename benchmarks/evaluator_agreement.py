"""Does the fast evaluator rank like the whole split? Kendall tau and time per architecture.

    python benchmarks/evaluator_agreement.py              # 24 architectures (15 refs + 9 random)
    python benchmarks/evaluator_agreement.py --random 1   # 16 architectures, a few minutes

Architectures: the protocol's 12 capacity-spread references, MoGA-A/B/C and ``--random`` random
ones. Scored with the bundled supernet by

* the default evaluator (folded BatchNorms, the uint8 image cache) with calibration seeds 0 and 1;
* the previous evaluator (unfolded BatchNorms, 1,000 images per pass) with the same settings
  and calibration seed 0 (the same function: its scores should match up to float rounding);
* the whole-split reference of ``python -m search_repro.protocol evaluator-check``: all 5,000
  images after 8 calibration batches of images no other setting uses (seed 2), unfolded.

Prints Kendall tau of the default against the other calibration seed and against the whole
split (both must be >= 0.9), the largest score difference to the previous evaluator, and the
median seconds per architecture of the default and the previous evaluator (the two alternate).
``--bf16`` also scores with the validation passes under CPU bf16 autocast (a candidate speed-up
that changes the numbers; not used by the search) and reports its time and its difference.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

from moga_zoo.fileio import write_json_atomic  # noqa: E402
from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS  # noqa: E402
from search_repro.protocol import REFERENCE_CALIB_SEED  # noqa: E402
from search_repro.proxy import reference_architectures  # noqa: E402
from search_repro.supernet.checkpoint import read_sidecar  # noqa: E402
from search_repro.supernet.evaluator import (BUNDLED_CHECKPOINT, SupernetEvaluator,  # noqa: E402
                                             load_checkpoint_data)

PREVIOUS = {"fold_bn": False, "eval_batch_size": 1000}


def _bf16(eval_chunks):
    """The evaluator's validation passes under CPU bf16 autocast (logits back in float32)."""
    def run(fn, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return [chunk.float() for chunk in eval_chunks(fn, x)]
    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--random", type=int, default=9, help="random architectures besides the 15")
    p.add_argument("--seed", type=int, default=0, help="draws the random architectures")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", metavar="FILE", help="also write the scores and results here")
    p.add_argument("--bf16", action="store_true", help="also time bf16 autocast scoring")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    codes = np.concatenate([
        np.array([arch.encode() for arch in reference_architectures().values()]),
        np.random.default_rng(a.seed).integers(0, NUM_CHOICES, (a.random, NUM_LAYERS))])
    data = load_checkpoint_data(read_sidecar(BUNDLED_CHECKPOINT))

    def evaluator(**kw) -> SupernetEvaluator:
        return SupernetEvaluator.from_checkpoint(BUNDLED_CHECKPOINT, data=data, **kw)

    variants = {"default": {}, "previous": PREVIOUS, **({"bf16": {}} if a.bf16 else {})}
    scores, seconds = {}, {name: [] for name in variants}
    for name, kw in list(variants.items()) * 2:  # A B A B: the time
        ev = evaluator(**kw)
        if name == "bf16":
            ev._eval_chunks = _bf16(ev._eval_chunks)
        tic = time.perf_counter()
        scores[name] = ev.accuracy(codes)
        seconds[name].append((time.perf_counter() - tic) / len(codes))
    scores["default_calib_seed_1"] = evaluator(calib_seed=1).accuracy(codes)
    scores["whole_split"] = evaluator(calib_seed=REFERENCE_CALIB_SEED, calib_batches=8,
                                      **PREVIOUS).accuracy(codes)
    result = {
        "architectures": len(codes),
        "tau_between_calibration_seeds": float(kendalltau(scores["default"],
                                                          scores["default_calib_seed_1"])[0]),
        "tau_vs_whole_split": float(kendalltau(scores["default"], scores["whole_split"])[0]),
        "tau_vs_previous_evaluator": float(kendalltau(scores["default"], scores["previous"])[0]),
        "max_abs_difference_vs_previous": float(np.abs(scores["default"] -
                                                       scores["previous"]).max()),
        "seconds_per_architecture": {k: statistics.median(v) for k, v in seconds.items()},
    }
    if a.bf16:
        result["max_abs_difference_bf16_vs_default"] = float(np.abs(scores["bf16"] -
                                                                 scores["default"]).max())
        result["tau_bf16_vs_default"] = float(kendalltau(scores["bf16"], scores["default"])[0])
    print(machine_line())
    print(f"{len(codes)} architectures (15 references + {a.random} random, seed {a.seed})\n")
    print("| check | value |\n|---|---|")
    for key, value in result.items():
        if key == "seconds_per_architecture":
            for k, v in value.items():
                print(f"| seconds per architecture, {k} evaluator (median of 2) | {v:.2f} |")
        else:
            print(f"| {key.replace('_', ' ')} | {value:.4g} |")
    if a.json:
        write_json_atomic(a.json, {**result, "codes": codes.tolist(),
                                   "scores": {k: v.tolist() for k, v in scores.items()}}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
