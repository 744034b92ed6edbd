"""How much could multi-fidelity screening save? An upper bound from a finished search's history.

    python benchmarks/screening_bound.py evidence/search/cpu-torch/history.csv

Screening scores every candidate on a subset of the validation images first and re-scores on the
whole split only those that can still enter the front. A candidate can be left at its subset
score only if it is dominated even at the top of its subset score's confidence interval: some
other candidate has at least that accuracy, at most its latency and at least its parameters.
For each generation after the first, this counts the new candidates that an *earlier* candidate
of the history dominates with an accuracy margin of m (its accuracy >= the candidate's + m). The
earlier candidates are the whole history, a superset of any population, so the count is an upper
bound on what screening could skip. A 1,000-image subset has a standard error of about 0.014 at
these accuracies, so a safe margin is 2-3 of them (0.03-0.04).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("history", help="history.csv of a finished search")
    p.add_argument("--margins", default="0,0.01,0.02,0.03,0.04")
    a = p.parse_args(argv)
    h = np.genfromtxt(a.history, delimiter=",", names=True, dtype=None, encoding="utf-8")
    acc, ms, params, gen = h["accuracy"], h["latency_ms"], h["params"], h["generation"]
    later = np.flatnonzero(gen > gen.min())
    print(f"{a.history}: {len(h)} candidates, {len(later)} after the first generation\n")
    print("| accuracy margin | candidates an earlier one dominates | share |\n|---|---|---|")
    for margin in (float(m) for m in a.margins.split(",")):
        skipped = sum(bool(np.any((gen < gen[i]) & (acc >= acc[i] + margin) & (ms <= ms[i])
                                  & (params >= params[i]))) for i in later)
        print(f"| {margin:g} | {skipped} | {skipped / len(later):.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
