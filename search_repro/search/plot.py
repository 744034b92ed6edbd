"""Accuracy vs latency of a search: history, random cloud, final front and MoGA-A/B/C."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from moga_zoo.fileio import replace_atomic

from .outcome import SearchOutcome

__all__ = ["plot_search"]


def _size(params: np.ndarray) -> np.ndarray:
    """Marker area proportional to the parameter count (5 M params -> 60 pt^2)."""
    return 60.0 * np.asarray(params, dtype=float) / 5e6


def plot_search(outcome: SearchOutcome, path: Path) -> None:
    """Save the plot to ``path`` (PNG, written atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, ex = outcome.history.metrics, outcome.extras
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    rnd = ex["random"]
    if rnd["codes"]:
        ax.scatter(rnd["latency_ms"], rnd["accuracy"], s=_size(rnd["params"]), c="tab:gray",
                   alpha=0.35, marker="x", label=f"random sample ({len(rnd['codes'])})")
    ax.scatter(h["latency_ms"], h["accuracy"], s=_size(h["params"]), c="tab:blue", alpha=0.25,
               edgecolors="none", label=f"evaluated by the search ({len(outcome.history)})")
    order = np.argsort(h["latency_ms"], kind="stable")
    best = np.maximum.accumulate(h["accuracy"][order])
    ax.step(h["latency_ms"][order], best, where="post", c="tab:blue", lw=1.0,
            label="best accuracy at or below each latency (all evaluated)")
    f, m = outcome.front, outcome.metrics
    if len(f):
        ax.scatter(m["latency_ms"][f], m["accuracy"][f], s=_size(m["params"][f]), c="tab:red",
                   edgecolors="black", linewidths=0.5, label=f"final front ({len(f)}; non-dominated in all objectives)")
    refs = ex["references"]
    ax.scatter(refs["latency_ms"], refs["accuracy"], s=_size(refs["params"]) * 2.5, c="gold",
               marker="*", edgecolors="black", linewidths=0.7, label="MoGA-A/B/C", zorder=5)
    for name, x, y in zip(refs["names"], refs["latency_ms"], refs["accuracy"]):
        ax.annotate(f"MoGA-{name.split('_')[-1].upper()}", (x, y),
                    textcoords="offset points", xytext=(6, 4), fontsize=9)
    art = outcome.config.artifacts
    ax.set_xlabel(f"latency (ms) -- table: {art.get('table', '?')}")
    ax.set_ylabel(f"supernet accuracy -- {art.get('supernet', '?')}")
    ax.set_title("Weighted NSGA-II search (marker area proportional to parameters)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    try:
        replace_atomic(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
