#!/usr/bin/env python
"""How differently two latency tables (e.g. a CPU and a GPU) rank the MoGA search space.

Predicts random architectures with both tables and reports the rank correlation between them,
where MoGA-A/B/C fall on each (share of random architectures that are faster), and per layer
how the two tables order the 12 choices. Writes a JSON report and a scatter plot.

    python scripts/gpu_awareness.py --a cpu-torch-224-b1-t1 --b gpu.json \
        --samples 100000 --plot docs/latency/awareness.png --report docs/latency/awareness.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from moga_zoo.fileio import replace_atomic, write_json_atomic
from moga_zoo.search_space import CHOICES, NAMED_ARCHITECTURES, NUM_CHOICES, NUM_LAYERS
from search_repro.latency import load_table


def analyse(a, b, samples: int, seed: int, tau_subsample: int = 3000) -> dict:
    """Rank agreement of tables ``a`` and ``b`` over ``samples`` random architectures."""
    if a.resolution != b.resolution:
        raise ValueError(f"tables measured at different resolutions ({a.resolution} vs "
                         f"{b.resolution}); compare tables for the same input size")
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, NUM_CHOICES, size=(samples, NUM_LAYERS))
    pa, pb = a.predict(codes), b.predict(codes)
    sub = rng.choice(samples, size=min(tau_subsample, samples), replace=False)
    named = {}
    for name, arch in NAMED_ARCHITECTURES.items():
        la, lb = a.predict_arch(arch), b.predict_arch(arch)
        named[name] = {"a_ms": la, "b_ms": lb,
                       "a_faster_than_pct": float(100 * np.mean(pa > la)),
                       "b_faster_than_pct": float(100 * np.mean(pb > lb))}
    per_layer = [{"layer": i + 1,
                  "kendall_tau": float(kendalltau(a.layer_ms[i], b.layer_ms[i]).statistic),
                  "a_order": [str(CHOICES[j]) for j in np.argsort(a.layer_ms[i])],
                  "b_order": [str(CHOICES[j]) for j in np.argsort(b.layer_ms[i])]}
                 for i in range(NUM_LAYERS)]
    return {
        "a": {"source": a.label, "device": a.device, "runtime": a.runtime},
        "b": {"source": b.label, "device": b.device, "runtime": b.runtime},
        "samples": samples, "seed": seed,
        "spearman_rho": float(spearmanr(pa, pb).statistic),
        "kendall_tau": float(kendalltau(pa[sub], pb[sub]).statistic),
        "kendall_tau_subsample": int(sub.size),
        "named": named, "per_layer": per_layer,
        "_points": (pa, pb),
    }


def plot(report: dict, path: Path, max_points: int = 5000) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pa, pb = report["_points"]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(pa[:max_points], pb[:max_points], s=3, alpha=0.3, color="0.5",
               label=f"random architectures (ρ {report['spearman_rho']:.3f}, "
                     f"τ {report['kendall_tau']:.3f})")
    for name, v in report["named"].items():
        ax.scatter(v["a_ms"], v["b_ms"], s=40, marker="*", zorder=3)
        ax.annotate("MoGA-" + name[-1].upper(), (v["a_ms"], v["b_ms"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel=f"{report['a']['device']}, {report['a']['runtime']} (ms)",
           ylabel=f"{report['b']['device']}, {report['b']['runtime']} (ms)")
    ax.xaxis.label.set_fontsize(8)
    ax.yaxis.label.set_fontsize(8)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="first table (file or bundled name), e.g. the CPU")
    p.add_argument("--b", required=True, help="second table (file or bundled name), e.g. the GPU")
    p.add_argument("--samples", type=int, default=100_000, help="random architectures")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", type=Path, help="scatter plot (.png)")
    p.add_argument("--report", type=Path, help="full report (.json)")
    args = p.parse_args(argv)
    try:
        if args.samples < 2:
            raise ValueError("--samples must be at least 2")
        report = analyse(load_table(args.a), load_table(args.b), args.samples, args.seed)
    except (ValueError, FileNotFoundError) as e:
        print(f"gpu_awareness: error: {e}", file=sys.stderr)
        return 2
    print(f"A: {report['a']['device']}; {report['a']['runtime']}")
    print(f"B: {report['b']['device']}; {report['b']['runtime']}")
    print(f"{args.samples} random architectures: Spearman rho {report['spearman_rho']:.4f}, "
          f"Kendall tau {report['kendall_tau']:.4f} (on {report['kendall_tau_subsample']})")
    for name, v in report["named"].items():
        print(f"  {name}: A {v['a_ms']:.3f} ms (faster than {v['a_faster_than_pct']:.1f} %), "
              f"B {v['b_ms']:.3f} ms (faster than {v['b_faster_than_pct']:.1f} %)")
    print("per-layer Kendall tau of the 12 choices' costs: " + " ".join(
        f"{r['kendall_tau']:.2f}" for r in report["per_layer"]))
    if args.plot:
        plot(report, args.plot)
        print(f"wrote {args.plot}")
    if args.report:
        write_json_atomic(args.report, {k: v for k, v in report.items() if k != "_points"}, indent=1)
        print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
