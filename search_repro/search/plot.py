"""Accuracy vs latency of a search: history, random cloud, final front and MoGA-A/B/C."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from moga_zoo.fileio import replace_atomic

from .outcome import SearchOutcome

__all__ = ["plot_search", "accuracy_label"]


def accuracy_label(artifacts: dict[str, Any]) -> str:
    """What the accuracy axis is: the supernet's data, split and validation size."""
    data = artifacts.get("data") or ("Fashion-MNIST" if artifacts.get("supernet") == "bundled"
                                     else "its training data's")
    images = (artifacts.get("evaluator") or {}).get("val_size")
    size = f" (first {images:,} images)" if images else ""
    return f"supernet accuracy\n{data}\nsearch-validation split{size}"


def plot_search(outcome: SearchOutcome, path: Path) -> None:
    """Save the plot to ``path`` (PNG, written atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from search_repro.supernet.report import standard_error

    h, ex, art = outcome.history.metrics, outcome.extras, outcome.config.artifacts
    fig, ax = plt.subplots(figsize=(9, 6.8), dpi=120)
    rnd = ex["random"]
    if rnd["codes"]:
        ax.scatter(rnd["latency_ms"], rnd["accuracy"], s=14, c="0.55", alpha=0.6, marker="x",
                   linewidths=0.8, label=f"random sample ({len(rnd['codes'])})")
    ax.scatter(h["latency_ms"], h["accuracy"], s=12, c="tab:blue", alpha=0.22, edgecolors="none",
               label=f"evaluated by the search ({len(outcome.history)})")
    order = np.argsort(h["latency_ms"], kind="stable")
    best = np.maximum.accumulate(h["accuracy"][order])
    ax.step(h["latency_ms"][order], best, where="post", c="tab:blue", lw=1.0,
            label="best accuracy at or below each latency")
    f, m = outcome.front, outcome.metrics
    images = (art.get("evaluator") or {}).get("val_size")
    if len(f):
        acc = m["accuracy"][f]
        if images:
            ax.errorbar(m["latency_ms"][f], acc, yerr=standard_error(acc, images), fmt="none",
                        ecolor="0.35", alpha=0.55, elinewidth=0.6, capsize=1.5, zorder=3)
        points = ax.scatter(m["latency_ms"][f], acc, s=42, c=m["params"][f] / 1e6, cmap="viridis",
                            edgecolors="black", linewidths=0.5, zorder=4,
                            label=f"final front ({len(f)}): colour = parameters"
                                  + (", bar = ±1 standard error" if images else ""))
        bar = fig.colorbar(points, ax=ax, pad=0.015, fraction=0.04)
        bar.set_label("parameters of front members (M); more is better (third objective)")
    refs = ex["references"]
    ax.scatter(refs["latency_ms"], refs["accuracy"], s=170, c="gold", marker="*",
               edgecolors="black", linewidths=0.7, label="MoGA-A/B/C, scored the same way", zorder=5)
    _label_references(ax, refs)
    ax.set_xlabel(f"latency (ms), predicted by the table {art.get('table', '?')}")
    ax.set_ylabel(accuracy_label(art))
    ax.set_title("Weighted NSGA-II search: accuracy, latency and parameters")
    note = ("Front members below the blue staircase are kept for their larger parameter count.")
    if images:
        se = standard_error(float(np.median(h["accuracy"])), images)
        note += (f"\nOne standard error of the accuracy at {images:,} images: {se:.3f}; "
                 f"gaps under ~{2 * se:.2f} are within noise.")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False,
              title=note, title_fontsize=8)
    fig.tight_layout()
    try:
        replace_atomic(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)


def _label_references(ax: Any, refs: dict[str, Any]) -> None:
    """Name the MoGA stars at the bottom of the axes, each label joined to its star by a dotted
    line; labels closer than 8% of the axis width are stacked."""
    xs, ys = np.asarray(refs["latency_ms"]), np.asarray(refs["accuracy"])
    width = np.ptp(ax.get_xlim())
    level, last_x = 0, -np.inf
    for i in np.argsort(xs, kind="stable"):
        level = level + 1 if xs[i] - last_x < 0.08 * width else 0
        last_x = xs[i]
        ax.annotate(f"MoGA-{refs['names'][i].split('_')[-1].upper()}", (xs[i], ys[i]),
                    xytext=(xs[i], 0.01 + 0.045 * level), textcoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=9, zorder=6,
                    arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6, "ls": ":",
                                "shrinkA": 2, "shrinkB": 6})
