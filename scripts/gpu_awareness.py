#!/usr/bin/env python
"""How differently latency tables (e.g. a CPU and a GPU) rank the MoGA search space.

All bundled tables (the default, without ``--a``/``--b``): one JSON report and one figure with the
pairwise Spearman rho and Kendall tau between the tables over the same random architectures,
MoGA-A/B/C's predicted order on each table beside the paper's measured Lat_c and Lat_g orders, and
for every table whose default search front is committed under ``evidence/search/`` the front
(accuracy vs latency) and the share of each kernel size and of SE per layer on it:

    python scripts/gpu_awareness.py --samples 100000 --seed 0

(writes docs/latency/awareness.json and docs/latency/awareness.png). Two tables (``--a``, ``--b``):
the same rank correlation, where MoGA-A/B/C fall on each (share of random architectures they are
faster than) and per layer how the two tables order the 12 choices, with a scatter plot:

    python scripts/gpu_awareness.py --a cpu-torch-224-b1-t1 --b gpu.json \
        --samples 100000 --plot awareness-gpu.png --report awareness-gpu.json
"""
from __future__ import annotations

import argparse
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from moga_zoo.fileio import replace_atomic, write_json_atomic
from moga_zoo.search_space import (CHOICES, KERNELS, NAMED_ARCHITECTURES, NUM_CHOICES,
                                   NUM_LAYERS)
from moga_zoo.records import RecordError, read_record
from search_repro.latency import LatencyTable, bundled_tables, load_table
from search_repro.records import Front

ROOT = Path(__file__).resolve().parents[1]
FRONTS = ROOT / "evidence" / "search"
REPORT = ROOT / "docs" / "latency" / "awareness.json"
PLOT = ROOT / "docs" / "latency" / "awareness.png"

#: Measured latency (ms) of MoGA-A/B/C in the MoGA paper, Table 3: Lat_c on a Pixel 1 CPU and
#: Lat_g on a Mi MIX 3 mobile GPU (with SNPE and with MACE); see docs/moga-facts.md.
PAPER_MS: dict[str, dict[str, float]] = {
    "Lat_c (Pixel 1 CPU)": {"moga_a": 101.0, "moga_b": 81.0, "moga_c": 71.0},
    "Lat_g (Mi MIX 3 GPU, SNPE)": {"moga_a": 11.8, "moga_b": 10.3, "moga_c": 9.6},
    "Lat_g (Mi MIX 3 GPU, MACE)": {"moga_a": 11.1, "moga_b": 10.0, "moga_c": 8.8},
}
#: One colour per MoGA model in every panel.
COLOURS = {"moga_a": "tab:orange", "moga_b": "tab:green", "moga_c": "tab:red"}


def _sample(samples: int, seed: int, tau_subsample: int) -> tuple[np.ndarray, np.ndarray]:
    """Random architectures and the subsample Kendall tau is computed on (same for both modes)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, NUM_CHOICES, size=(samples, NUM_LAYERS))
    return codes, rng.choice(samples, size=min(tau_subsample, samples), replace=False)


def _check_resolutions(tables: dict[str, LatencyTable]) -> None:
    found = {name: t.resolution for name, t in tables.items()}
    if len(set(found.values())) > 1:
        raise ValueError(f"tables measured at different resolutions ({found}); compare tables "
                         f"for the same input size")


def _layer_tau(a: LatencyTable, b: LatencyTable) -> list[float]:
    """Per layer, Kendall tau between the two tables' costs of the 12 choices."""
    return [float(kendalltau(a.layer_ms[i], b.layer_ms[i]).statistic) for i in range(NUM_LAYERS)]


def analyse(a: LatencyTable, b: LatencyTable, samples: int, seed: int,
            tau_subsample: int = 3000) -> dict:
    """Rank agreement of tables ``a`` and ``b`` over ``samples`` random architectures."""
    _check_resolutions({"a": a, "b": b})
    codes, sub = _sample(samples, seed, tau_subsample)
    pa, pb = a.predict(codes), b.predict(codes)
    named = {}
    for name, arch in NAMED_ARCHITECTURES.items():
        la, lb = a.predict_arch(arch), b.predict_arch(arch)
        named[name] = {"a_ms": la, "b_ms": lb,
                       "a_faster_than_pct": float(100 * np.mean(pa > la)),
                       "b_faster_than_pct": float(100 * np.mean(pb > lb))}
    per_layer = [{"layer": i + 1, "kendall_tau": tau,
                  "a_order": [str(CHOICES[j]) for j in np.argsort(a.layer_ms[i])],
                  "b_order": [str(CHOICES[j]) for j in np.argsort(b.layer_ms[i])]}
                 for i, tau in enumerate(_layer_tau(a, b))]
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


def order(ms: dict[str, float]) -> list[str]:
    """Names from fastest to slowest."""
    return sorted(ms, key=ms.__getitem__)


def pairs_agreeing(ms: dict[str, float], reference: dict[str, float]) -> int:
    """How many pairs of ``reference``'s models ``ms`` orders the same way (ties disagree)."""
    return sum((ms[x] - ms[y]) * (reference[x] - reference[y]) > 0
               for x, y in combinations(reference, 2))


def layer_shares(codes: "np.ndarray | list") -> list[dict[str, float]]:
    """Per searchable layer, the share of architectures with kernel 3/5/7, expansion 6 and SE."""
    arr = np.asarray(codes, dtype=np.int64).reshape(-1, NUM_LAYERS)
    kernel = np.array([c.kernel for c in CHOICES])[arr]
    expansion = np.array([c.expansion for c in CHOICES])[arr]
    se = np.array([c.se for c in CHOICES])[arr]
    return [{"layer": i + 1,
             **{f"kernel_{k}": float(np.mean(kernel[:, i] == k)) for k in KERNELS},
             "expansion_6": float(np.mean(expansion[:, i] == 6)),
             "se": float(np.mean(se[:, i]))} for i in range(NUM_LAYERS)]


def _repo_name(path: Path) -> str:
    """``path`` relative to the repository when inside it (no machine paths in reports)."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _read_front(folder: Path) -> dict:
    """``folder/front.json``, checked against its schema (a bad one is a one-line error)."""
    return read_record(folder / "front.json", Front, "search front (front.json)",
                       "give a results folder written by `moga-zoo search`")


def find_fronts(names: list[str], root: Path = FRONTS) -> tuple[dict[str, Path], list[str]]:
    """The search folder (``root/<folder>/front.json``) whose front.json records each table.

    A table is matched by the name recorded in ``config.artifacts.table``; returns the folders
    and one note per table without a front (or with more than one).
    """
    found: dict[str, list[Path]] = {name: [] for name in names}
    for path in sorted(root.glob("*/front.json")):
        table = _read_front(path.parent)["config"].get("artifacts", {}).get("table")
        if table in found:
            found[table].append(path.parent)
    fronts, notes = {}, []
    for name, folders in found.items():
        if not folders:
            notes.append(f"{name}: no front (no {_repo_name(root)}/*/front.json records this "
                         f"table); its front panels are left out")
            continue
        fronts[name] = folders[0]
        if len(folders) > 1:
            notes.append(f"{name}: recorded by {', '.join(map(_repo_name, folders))}; using "
                         f"{_repo_name(folders[0])}")
    return fronts, notes


def analyse_all(tables: dict[str, LatencyTable], fronts: dict[str, Path], samples: int,
                seed: int, tau_subsample: int = 3000) -> dict:
    """Pairwise rank agreement of ``tables``, MoGA-A/B/C's order on each, and the fronts' shares.

    ``fronts`` maps a table name to its search folder (see :func:`find_fronts`).
    """
    _check_resolutions(tables)
    codes, sub = _sample(samples, seed, tau_subsample)
    preds = {name: t.predict(codes) for name, t in tables.items()}
    pairwise = [{"a": a, "b": b,
                 "spearman_rho": float(spearmanr(preds[a], preds[b]).statistic),
                 "kendall_tau": float(kendalltau(preds[a][sub], preds[b][sub]).statistic),
                 "per_layer_kendall_tau": _layer_tau(tables[a], tables[b])}
                for a, b in combinations(tables, 2)]
    named = {}
    for name, t in tables.items():
        ms = {n: t.predict_arch(arch) for n, arch in NAMED_ARCHITECTURES.items()}
        named[name] = {
            "ms": ms, "order": order(ms),
            "relative_to_moga_c": {n: v / ms["moga_c"] for n, v in ms.items()},
            "faster_than_pct": {n: float(100 * np.mean(preds[name] > v)) for n, v in ms.items()},
            "pairs_agreeing_with_paper": {col: pairs_agreeing(ms, ref)
                                          for col, ref in PAPER_MS.items()}}
    paper = {col: {"ms": ref, "order": order(ref),
                   "relative_to_moga_c": {n: v / ref["moga_c"] for n, v in ref.items()}}
             for col, ref in PAPER_MS.items()}
    front_reports, points = {}, {}
    for name, folder in fronts.items():
        result = _read_front(folder)
        members = result["front"]
        front_codes = np.array([m["codes"] for m in members])
        recorded = np.array([m["latency_ms"] for m in members])
        per_layer = layer_shares(front_codes)
        front_reports[name] = {
            "folder": _repo_name(folder), "members": len(members),
            "latency_matches_table": bool(np.allclose(tables[name].predict(front_codes),
                                                      recorded, rtol=1e-6)),
            "all_layers": {key: float(np.mean([r[key] for r in per_layer]))
                           for key in per_layer[0] if key != "layer"},
            "per_layer": per_layer}
        points[name] = {"front": members, "references": result.get("references", [])}
    return {
        "tables": {name: {"device": t.device, "runtime": t.runtime, "resolution": t.resolution,
                          "batch": t.batch} for name, t in tables.items()},
        "samples": samples, "seed": seed, "kendall_tau_subsample": int(sub.size),
        "pairwise": pairwise, "named": named,
        "paper": {"source": "MoGA paper, Table 3", "columns": paper},
        "fronts": front_reports,
        "_fronts": points,
    }


def plot(report: dict, path: Path, max_points: int = 5000) -> None:
    """Scatter of the two tables' predictions for random architectures and MoGA-A/B/C."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pa, pb = report["_points"]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(pa[:max_points], pb[:max_points], s=3, alpha=0.3, color="0.5",
               label=f"random architectures (ρ {report['spearman_rho']:.3f}, "
                     f"τ {report['kendall_tau']:.3f})")
    for name, v in report["named"].items():
        ax.scatter(v["a_ms"], v["b_ms"], s=40, marker="*", zorder=3, color=COLOURS[name])
        ax.annotate(_moga(name), (v["a_ms"], v["b_ms"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel=f"{report['a']['device']}, {report['a']['runtime']} (ms)",
           ylabel=f"{report['b']['device']}, {report['b']['runtime']} (ms)")
    ax.xaxis.label.set_fontsize(8)
    ax.yaxis.label.set_fontsize(8)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def _moga(name: str) -> str:
    return "MoGA-" + name[-1].upper()


def plot_all(report: dict, path: Path) -> None:
    """Per front: accuracy vs latency and the per-layer kernel/SE shares; the pairwise tau matrix;
    MoGA-A/B/C relative to MoGA-C on every table and in the paper."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fronts = report["fronts"]
    cols = len(fronts) + 1
    fig, axes = plt.subplots(2, cols, figsize=(4.6 * cols, 8.6), squeeze=False)
    for col, (name, front) in enumerate(fronts.items()):
        pts, table = report["_fronts"][name], report["tables"][name]
        ax = axes[0, col]
        members = pts["front"]
        acc = [m["accuracy"] for m in members]
        ax.scatter([m["latency_ms"] for m in members], acc, s=14,
                   label=f"front ({front['members']} architectures; objectives\naccuracy, "
                         f"latency, params)")
        for ref in pts["references"]:
            ax.scatter(ref["latency_ms"], ref["accuracy"], s=70, marker="*", zorder=3,
                       color=COLOURS[ref["set"]], label=_moga(ref["set"]))
        ax.set_title(f"front of the search on {name}\n({table['runtime']}; "
                     f"{front['folder']})", fontsize=8)
        ax.set(xlabel="latency predicted by this table (ms)",
               ylabel="supernet accuracy (search validation)")
        low, high = min(acc + [r["accuracy"] for r in pts["references"]]), max(acc)
        ax.set_ylim(low - 0.05 * (high - low), high + 0.45 * (high - low))  # room for the legend
        ax.legend(fontsize=7, loc="upper left", ncol=2)
        ax = axes[1, col]
        layers = np.arange(1, NUM_LAYERS + 1)
        bottom = np.zeros(NUM_LAYERS)
        for k, shade in zip(KERNELS, ("#c6dbef", "#6baed6", "#08519c")):
            share = np.array([r[f"kernel_{k}"] for r in front["per_layer"]])
            ax.bar(layers, share, bottom=bottom, color=shade, label=f"kernel {k}")
            bottom += share
        ax.plot(layers, [r["se"] for r in front["per_layer"]], "o-", color="black", ms=4,
                label="SE")
        ax.set_title(f"per-layer choices on that front ({front['members']} architectures)",
                     fontsize=8)
        ax.set(xlabel="searchable layer", ylabel="share of front architectures", ylim=(0, 1.22),
               xticks=layers, yticks=np.linspace(0, 1, 6))
        ax.legend(fontsize=7, loc="upper center", ncol=4, handlelength=1.2)

    names = list(report["tables"])
    tau = np.eye(len(names))
    for p in report["pairwise"]:
        i, j = names.index(p["a"]), names.index(p["b"])
        tau[i, j] = tau[j, i] = p["kendall_tau"]
    ax = axes[0, -1]
    ax.imshow(tau, vmin=0, vmax=1, cmap="viridis")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{tau[i, j]:.3f}", ha="center", va="center", fontsize=8,
                    color="black" if tau[i, j] > 0.6 else "white")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_title(f"Kendall τ between the tables' predictions (1 = same ranking)\n"
                 f"({report['samples']:,} random architectures, τ on "
                 f"{report['kendall_tau_subsample']:,})", fontsize=8)

    ax = axes[1, -1]
    sources = {**{n: v["relative_to_moga_c"] for n, v in report["named"].items()},
               **{f"paper {c}": v["relative_to_moga_c"]
                  for c, v in report["paper"]["columns"].items()}}
    x = np.arange(len(sources))
    for model, marker in zip(NAMED_ARCHITECTURES, "^so"):
        ax.scatter(x, [rel[model] for rel in sources.values()], marker=marker, s=40,
                   color=COLOURS[model], label=_moga(model), zorder=3)
    ax.axvline(len(report["named"]) - 0.5, color="0.5", lw=0.8, ls="--")
    ax.grid(axis="y", lw=0.4)
    ax.set_xticks(x, list(sources), rotation=25, ha="right", fontsize=6.5)
    ax.set(ylabel="latency / latency of MoGA-C")
    ax.set_title("MoGA-A/B/C: predicted by each table vs\nmeasured in the paper (Table 3)",
                 fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle("Latency-table awareness across all bundled tables", fontsize=10)
    fig.tight_layout()
    replace_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _print_pair(report: dict, samples: int) -> None:
    print(f"A: {report['a']['device']}; {report['a']['runtime']}")
    print(f"B: {report['b']['device']}; {report['b']['runtime']}")
    print(f"{samples} random architectures: Spearman rho {report['spearman_rho']:.4f}, "
          f"Kendall tau {report['kendall_tau']:.4f} (on {report['kendall_tau_subsample']})")
    for name, v in report["named"].items():
        print(f"  {name}: A {v['a_ms']:.3f} ms (faster than {v['a_faster_than_pct']:.1f} %), "
              f"B {v['b_ms']:.3f} ms (faster than {v['b_faster_than_pct']:.1f} %)")
    print("per-layer Kendall tau of the 12 choices' costs: " + " ".join(
        f"{r['kendall_tau']:.2f}" for r in report["per_layer"]))


def _print_all(report: dict, notes: list[str]) -> None:
    print(f"{report['samples']} random architectures (seed {report['seed']}), "
          f"Kendall tau on {report['kendall_tau_subsample']}:")
    for p in report["pairwise"]:
        print(f"  {p['a']} vs {p['b']}: Spearman rho {p['spearman_rho']:.4f}, "
              f"Kendall tau {p['kendall_tau']:.4f}")
    for name, v in report["named"].items():
        print(f"  {name}: " + ", ".join(f"{_moga(n)} {ms:.3f} ms" for n, ms in v["ms"].items())
              + f"; order {' < '.join(map(_moga, v['order']))}")
    for col, v in report["paper"]["columns"].items():
        print(f"  paper {col}: order {' < '.join(map(_moga, v['order']))}")
    for name, front in report["fronts"].items():
        s = front["all_layers"]
        print(f"  front {front['folder']} ({name}), all layers: kernel 3/5/7 "
              f"{s['kernel_3']:.2f}/{s['kernel_5']:.2f}/{s['kernel_7']:.2f}, expansion 6 "
              f"{s['expansion_6']:.2f}, SE {s['se']:.2f}" + (
                  "" if front["latency_matches_table"] else
                  " (its latencies differ from the table's: rebuilt since the search?)"))
    for note in notes:
        print(f"  note: {note}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", help="first table (file or bundled name), e.g. the CPU; without --a and "
                               "--b every bundled table is compared")
    p.add_argument("--b", help="second table (file or bundled name), e.g. the GPU")
    p.add_argument("--samples", type=int, default=100_000, help="random architectures")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fronts", type=Path, default=FRONTS,
                   help="folder of search results folders (all-tables mode; default "
                        "evidence/search)")
    p.add_argument("--plot", type=Path, help="figure (.png; all-tables mode default "
                                             "docs/latency/awareness.png)")
    p.add_argument("--report", type=Path, help="full report (.json; all-tables mode default "
                                               "docs/latency/awareness.json)")
    args = p.parse_args(argv)
    if (args.a is None) != (args.b is None):
        p.error("give both --a and --b, or neither to compare every bundled table")
    notes: list[str] = []
    try:
        if args.samples < 2:
            raise ValueError("--samples must be at least 2")
        if args.a is not None:
            report = analyse(load_table(args.a), load_table(args.b), args.samples, args.seed)
        else:
            tables = {name: load_table(name) for name in bundled_tables()}
            if len(tables) < 2:
                raise ValueError(f"need at least 2 bundled tables, found {len(tables)}")
            fronts, notes = find_fronts(list(tables), args.fronts)
            report = analyse_all(tables, fronts, args.samples, args.seed)
            report["notes"] = notes
            args.plot, args.report = args.plot or PLOT, args.report or REPORT
    except (ValueError, FileNotFoundError, RecordError) as e:
        print(f"gpu_awareness: error: {e}", file=sys.stderr)
        return 2
    if args.a is not None:
        _print_pair(report, args.samples)
    else:
        _print_all(report, notes)
    if args.plot:
        (plot if args.a is not None else plot_all)(report, args.plot)
        print(f"wrote {_repo_name(args.plot)}")
    if args.report:
        write_json_atomic(args.report, {k: v for k, v in report.items() if not k.startswith("_")},
                          indent=1)
        print(f"wrote {_repo_name(args.report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
