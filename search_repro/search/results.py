"""The results folder: full history, final front (CSV + JSON), reference points and the plot.

``front.json`` holds only what the search determines (no timings), so two runs with the same
settings -- one of them killed and resumed -- produce byte-identical files.
"""
from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from moga_zoo.fileio import write_json_atomic, write_text_atomic
from moga_zoo.search_space import Architecture, space_hash

from .defaults import OBJECTIVES
from .history import METRICS, csv_value
from .outcome import SearchOutcome
from .plot import plot_search

if TYPE_CHECKING:
    from .objectives import ArchitectureProblem

__all__ = ["front_indices", "front_records", "write_results", "RESULT_FILES"]

RESULT_FILES = ("history.csv", "front.csv", "front.json", "references.csv", "search.png")


def front_indices(problem: "ArchitectureProblem", metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Feasible non-dominated members, sorted by latency (then accuracy, descending)."""
    feasible = np.flatnonzero(np.all(problem.violations(metrics) <= 0, axis=1))
    if not len(feasible):
        return feasible
    F = problem.minimised({m: v[feasible] for m, v in metrics.items()})
    front = feasible[NonDominatedSorting().do(F, only_non_dominated_front=True)]
    return front[np.lexsort((-metrics["accuracy"][front], metrics["latency_ms"][front]))]


def _record(codes: np.ndarray, metrics: dict[str, Any], i: int) -> dict[str, Any]:
    return {"arch": str(Architecture.decode(codes)), "codes": [int(v) for v in codes],
            **{m: np.asarray(metrics[m])[i].item() for m in METRICS}}


def front_records(outcome: SearchOutcome) -> list[dict[str, Any]]:
    return [_record(outcome.population[i], outcome.metrics, i) for i in outcome.front]


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        row = {k: csv_value(k, v) if k in METRICS else v for k, v in r.items()}
        w.writerow({**row, "codes": " ".join(map(str, r["codes"]))} if "codes" in r else row)
    return out.getvalue()


def _extra_records(extras: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for kind in ("references", "random"):
        part = extras[kind]
        names = part.get("names", [kind] * len(part["codes"]))
        for i, codes in enumerate(part["codes"]):
            rows.append({"set": names[i], **_record(np.asarray(codes), part, i)})
    return rows


def write_results(outcome: SearchOutcome, problem: "ArchitectureProblem",
                  say: Callable[[str], None] = lambda _: None) -> None:
    """Write every result file of :data:`RESULT_FILES` into ``outcome.out_dir`` atomically;
    ``say`` gets one line before the tables and one before the plot."""
    out, cfg = outcome.out_dir, outcome.config
    say(f"writing history.csv, front.csv, front.json, references.csv to {out}/")
    front = front_records(outcome)
    write_text_atomic(out / "history.csv", outcome.history.to_csv())
    write_text_atomic(out / "front.csv", _csv(front, ["arch", *METRICS, "codes"]))
    write_json_atomic(out / "front.json", {
        "space_hash": space_hash(),
        "config": cfg.to_json(),
        "generations_done": outcome.timing["generations_done"],
        "evaluations": len(outcome.history),
        "objectives": {n: "maximise" if OBJECTIVES[n][1] > 0 else "minimise"
                       for n in cfg.objectives},
        "constraints": problem.limits,
        "front": front,
        "references": [r for r in _extra_records(outcome.extras) if r["set"] != "random"],
    }, indent=1)
    write_text_atomic(out / "references.csv",
                      _csv(_extra_records(outcome.extras), ["set", "arch", *METRICS, "codes"]))
    say(f"plotting {out / 'search.png'}")
    plot_search(outcome, out / "search.png")
