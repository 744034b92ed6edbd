"""Check a table against end-to-end runs: MoGA-A/B/C and random architectures on the same device.

Reports mean absolute percentage error, Kendall tau-b, Pearson r and the share within +-10 %,
for the raw block sum and for the table's fitted correction, and draws predicted vs measured.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau
from tqdm import tqdm

from moga_zoo.errors import UsageError
from moga_zoo.fileio import replace_atomic
from moga_zoo.search_space import NAMED_ARCHITECTURES

from .end_to_end import measure_architectures, random_architectures
from .runtimes import get_runtime
from .table import LatencyTable

__all__ = ["accuracy_metrics", "validate_table", "comparison_report", "plot_validation"]


def accuracy_metrics(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """MAPE (%), Kendall tau-b (scipy), Pearson r and share (%) of predictions within +-10 % of measured."""
    p, m = np.asarray(predicted, np.float64), np.asarray(measured, np.float64)
    rel = np.abs(p - m) / m
    return {"mape_pct": float(100 * rel.mean()), "kendall_tau": float(kendalltau(p, m).statistic),
            "pearson_r": float(np.corrcoef(p, m)[0, 1]),
            "within_10pct": float(100 * np.mean(rel <= 0.10))}


def validate_table(
    table: LatencyTable,
    samples: int = 30,
    seed: int = 1,
    warmup: int = 10,
    repeats: int = 30,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure MoGA-A/B/C and ``samples`` random architectures end to end; compare to the table."""
    if samples < 2:
        raise UsageError(f"--samples must be at least 2, got {samples}")
    d = table.data
    rt = get_runtime(d["runtime"]["name"], d["device"]["type"], d["device"]["threads"])
    notes = []
    here = rt.describe_device()["name"]
    if here != d["device"]["name"]:
        notes.append(f"table measured on {d['device']['name']!r}, validated on {here!r}")
    if rt.version != d["runtime"]["version"]:
        notes.append(f"table runtime version {d['runtime']['version']}, now {rt.version}")
    calibrated = {c["arch"] for c in (d["correction"] or {}).get("calibration", [])}
    archs = [a for a in random_architectures(samples, seed) if str(a) not in calibrated]
    named = dict(NAMED_ARCHITECTURES)
    archs = list(named.values()) + archs
    labels = list(named) + [""] * (len(archs) - len(named))
    with tqdm(total=repeats, desc="lut validate", unit="round", disable=not progress) as bar:
        stats = measure_architectures(archs, rt, table.resolution, table.batch, warmup, repeats,
                                      seed, lambda: bar.update(1))
    return comparison_report(table, archs, labels, stats, seed=seed, warmup=warmup,
                             repeats=repeats, notes=notes)


def comparison_report(table: LatencyTable, archs: list, labels: list[str], stats: list[dict],
                      *, seed: int, warmup: int, repeats: int, notes: list[str]) -> dict[str, Any]:
    """The validation report of ``table`` against measured end-to-end ``stats`` of ``archs``
    (``labels``: a name such as ``moga_a``, or "" for a random architecture)."""
    codes = np.array([a.encode() for a in archs])
    measured = np.array([s["median_ms"] for s in stats])
    raw = table.predict(codes, corrected=False)
    rows = [{"arch": str(a), "name": n, "measured_ms": s["median_ms"], "p25_ms": s["p25_ms"],
             "p75_ms": s["p75_ms"], "raw_ms": round(float(r), 5)}
            for a, n, s, r in zip(archs, labels, stats, raw)]
    report: dict[str, Any] = {
        "table": table.label, "device": table.device, "runtime": table.runtime,
        "resolution": table.resolution, "batch": table.batch,
        "samples": sum(1 for n in labels if not n),
        "seed": seed, "warmup": warmup, "repeats": repeats, "notes": notes,
        "raw": accuracy_metrics(raw, measured), "corrected": None, "architectures": rows,
        "measured_spread_pct": float(np.median([(s["p75_ms"] - s["p25_ms"]) / s["median_ms"] * 100
                                                for s in stats])),
    }
    if table.correction is not None:
        corrected = table.predict(codes)
        report["corrected"] = accuracy_metrics(corrected, measured)
        for row, c in zip(rows, corrected):
            row["corrected_ms"] = round(float(c), 5)
    return report


def plot_validation(report: dict[str, Any], path: "str | Path") -> None:
    """Predicted vs measured scatter with the y = x line and a +-10 % band."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["architectures"]
    meas = np.array([r["measured_ms"] for r in rows])
    fig, ax = plt.subplots(figsize=(5.5, 5))
    keys = ["raw_ms"] + (["corrected_ms"] if report["corrected"] is not None else [])
    values = np.concatenate([meas] + [np.array([r[k] for r in rows]) for k in keys])
    lo, hi = values.min() * 0.9, values.max() * 1.1
    line = np.array([lo, hi])
    ax.plot(line, line, "k-", lw=0.8, label="predicted = measured")
    ax.fill_between(line, line * 0.9, line * 1.1, color="0.9", label="±10 %")
    series = [("raw_ms", "block sum", "tab:orange")]
    if report["corrected"] is not None:
        series.append(("corrected_ms", "corrected", "tab:blue"))
    for key, label, color in series:
        pred = np.array([r[key] for r in rows])
        m = report["corrected" if key == "corrected_ms" else "raw"]
        ax.scatter(meas, pred, s=14, color=color,
                   label=f"{label}: MAPE {m['mape_pct']:.1f} %, τ {m['kendall_tau']:.3f}")
        if key == series[-1][0]:  # name MoGA-A/B/C once, on the headline series
            for r, p in zip(rows, pred):
                if r["name"]:
                    ax.annotate("MoGA-" + r["name"][-1].upper(), (r["measured_ms"], p),
                                fontsize=8, xytext=(4, -10), textcoords="offset points")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="measured end to end (ms)",
           ylabel="predicted by table (ms)",
           title=f"{report['device']}\n{report['runtime']}, {report['resolution']} px, "
                 f"batch {report['batch']}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png"))
    plt.close(fig)
