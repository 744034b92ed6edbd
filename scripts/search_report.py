"""Markdown summary of `moga-zoo search` results folders (the numbers in docs/search.md).

    python scripts/search_report.py runs/search-cpu-torch [runs/search-cpu-onnxruntime ...]

For each folder: artifacts, the front's ranges, the best candidates, where MoGA-A/B/C stand
against the front, and how the candidates' mean accuracy moved over the generations. With two
or more folders it also reports how much their fronts overlap.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from statistics import mean


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _dominates(a: dict, b: dict) -> bool:
    """``a`` is at least as good as ``b`` in accuracy (max), latency (min) and params (max)."""
    return (a["accuracy"] >= b["accuracy"] and a["latency_ms"] <= b["latency_ms"]
            and a["params"] >= b["params"])


def report(folder: Path) -> str:
    result = json.loads((folder / "front.json").read_text())
    front, refs = result["front"], result["references"]
    cfg = result["config"]
    history = _rows(folder / "history.csv")
    randoms = [{**r, "accuracy": float(r["accuracy"]), "latency_ms": float(r["latency_ms"])}
               for r in _rows(folder / "references.csv") if r["set"] == "random"]
    named = [r for r in refs if r["set"] != "random"]
    by_gen: dict[int, list[float]] = {}
    for row in history:
        by_gen.setdefault(int(row["generation"]), []).append(float(row["accuracy"]))
    first, last = min(by_gen), max(by_gen)
    best = max(front, key=lambda r: r["accuracy"])
    art = cfg["artifacts"]
    lines = [
        f"### `{folder}`", "",
        f"table `{art['table']}` ({art['table_device']}, {art['table_runtime']}); supernet sha256 "
        f"`{art['supernet_sha256'][:12]}…`; {result['evaluations']} evaluations "
        f"({cfg['pop_size']} x {result['generations_done']} generations), seed {cfg['seed']}, "
        f"weights {cfg['weights']}", "",
        "| | |", "|---|---|",
        f"| front | {len(front)} architectures: latency {min(r['latency_ms'] for r in front):.2f}–"
        f"{max(r['latency_ms'] for r in front):.2f} ms, accuracy "
        f"{min(r['accuracy'] for r in front):.3f}–{max(r['accuracy'] for r in front):.3f}, params "
        f"{min(r['params'] for r in front) / 1e6:.2f}–{max(r['params'] for r in front) / 1e6:.2f} M |",
        f"| best accuracy on the front | {best['accuracy']:.3f} at {best['latency_ms']:.2f} ms, "
        f"{best['params'] / 1e6:.2f} M params (`{best['arch']}`) |",
    ]
    if randoms:
        top = max(randoms, key=lambda r: r["accuracy"])
        lines.append(f"| best of {len(randoms)} random samples | {top['accuracy']:.3f} at "
                     f"{top['latency_ms']:.2f} ms |")
    scores = [a for accs in by_gen.values() for a in accs]
    lines += [f"| mean accuracy of new candidates | {mean(by_gen[first]):.3f} (generation {first}) → "
              f"{mean(by_gen[last]):.3f} (generation {last}) |",
              f"| supernet accuracy of all {len(scores)} candidates | {min(scores):.3f}–"
              f"{max(scores):.3f} |", "",
              "| model | supernet accuracy | latency | params | front members at ≥ accuracy and ≤ "
              "latency | … and ≥ params |", "|---|---|---|---|---|---|"]
    for ref in named:
        faster = [r for r in front if r["accuracy"] >= ref["accuracy"]
                  and r["latency_ms"] <= ref["latency_ms"]]
        lines.append(f"| {ref['set']} | {ref['accuracy']:.3f} | {ref['latency_ms']:.2f} ms | "
                     f"{ref['params'] / 1e6:.2f} M | {len(faster)} | "
                     f"{sum(_dominates(r, ref) for r in front)} |")
    return "\n".join(lines)


def overlap(folders: list[Path]) -> str:
    fronts = {f: {r["arch"] for r in json.loads((f / "front.json").read_text())["front"]}
              for f in folders}
    common = set.intersection(*fronts.values())
    union = set.union(*fronts.values())
    return (f"Fronts of {', '.join(f'`{f}`' for f in folders)}: {len(common)} architectures in "
            f"all of them, {len(union)} in any (Jaccard {len(common) / len(union):.2f}).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="results folders of moga-zoo search")
    args = parser.parse_args()
    print("\n\n".join(report(f) for f in args.folders))
    if len(args.folders) > 1:
        print("\n" + overlap(args.folders))


if __name__ == "__main__":
    main()
