"""Rerun MoGA's search: ``python -m search_repro.reproduce`` (also ``moga-zoo search``).

Bundled Fashion-MNIST supernet + bundled CPU latency table by default; any table with
``--table``. Writes a results folder (see :mod:`search_repro.search.results`) and resumes from
it when rerun with the same command. ``--processes N`` (default: the idle cores) splits the
accuracy evaluations over N processes (:mod:`search_repro.search.workers`), as ``torchrun
--nproc_per_node N`` does.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from moga_zoo.cli.options import Numbers, Parser, Range, positive_int
from moga_zoo.errors import MissingFileError, MogaZooError, UsageError, one_line
from moga_zoo.fileio import check_output_folder

from search_repro.search.workers import processes_option

__all__ = ["add_arguments", "run", "main", "DEFAULT_OUT"]

DEFAULT_OUT = "runs/search"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The search options (shared by ``moga-zoo search`` and ``python -m search_repro.reproduce``)."""
    from search_repro.search.defaults import (BUDGETS, DEFAULT_OBJECTIVES, DEFAULT_WEIGHTS,
                                              OBJECTIVES)

    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"results folder; rerunning with the same settings resumes it "
                        f"(default: {DEFAULT_OUT})")
    p.add_argument("--budget", default="default", choices=list(BUDGETS),
                   help="population / generations / random-sample preset: " + "; ".join(
                       f"{k}: {v['pop_size']}x{v['generations']}, {v['random_samples']} random"
                       for k, v in BUDGETS.items()) + " (default: default, <= 10 min on 2 CPU cores)")
    p.add_argument("--pop-size", type=int, help="override the budget's population size")
    p.add_argument("--generations", type=int, help="override the budget's generation count")
    p.add_argument("--random-samples", type=int, help="override the random-cloud size")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--objectives", default=",".join(DEFAULT_OBJECTIVES),
                   help=f"comma-separated, from {', '.join(OBJECTIVES)} (default: %(default)s; "
                        f"params is maximised as in MoGA)")
    p.add_argument("--weights", type=Numbers(Range(float, 0.0, 1e6)),
                   help=f"crowding weight per objective (default for the default objectives: "
                        f"{','.join(map(str, DEFAULT_WEIGHTS))}; our choice, see docs/search.md)")
    p.add_argument("--max-latency", type=float, metavar="MS", help="latency budget (constraint)")
    p.add_argument("--max-macs", type=float, metavar="MILLIONS",
                   help="MAC budget in millions at 224x224 (constraint)")
    p.add_argument("--table", help="latency table: a bundled name or a .json file "
                                   "(default: the bundled CPU table)")
    p.add_argument("--supernet", metavar="FILE",
                   help="trained supernet checkpoint (default: the bundled Fashion-MNIST one)")
    p.add_argument("--data-root", help="data folder for --supernet (default: Fashion-MNIST)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads for the evaluations (default: 1; more threads help a "
                        "little on an idle machine and cost several times over on a busy one, "
                        "see benchmarks/search_threads.py)")
    p.add_argument("--processes", type=processes_option, default="auto",
                   help="processes that score candidates, each with --threads threads (default: "
                        "auto, the cores idle over the last minute, at least 1); the results "
                        "are the same for any count")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _load_evaluator(args: argparse.Namespace, table: Any) -> tuple[Any, dict[str, Any]]:
    """The supernet evaluator and the identities of both artifacts, checked against one space."""
    from moga_zoo.search_space import space_hash
    from search_repro.supernet import load_evaluator
    from search_repro.supernet.report import data_name

    evaluator = load_evaluator(args.supernet, args.data_root)
    if not table.space_hash == evaluator.space_hash == space_hash():
        raise UsageError(
            f"search-space mismatch: latency table {table.source} is for space {table.space_hash}, "
            f"the supernet for {evaluator.space_hash}, this moga_zoo defines {space_hash()}; "
            f"rebuild the table or retrain the supernet for this space")
    described = evaluator.describe()
    artifacts = {
        "table": args.table, "table_device": table.device, "table_runtime": table.runtime,
        "supernet": "bundled" if not args.supernet else str(Path(args.supernet).resolve()),
        "supernet_sha256": described.get("sha256"), "evaluator": described.get("settings"),
        "data": data_name(described.get("data", "?")),
        "space_hash": space_hash(),
    }
    return evaluator, artifacts


def _config(args: argparse.Namespace) -> Any:
    from search_repro.search.config import SearchConfig
    from search_repro.search.defaults import DEFAULT_OBJECTIVES, DEFAULT_WEIGHTS, check_objectives

    objectives = check_objectives(args.objectives.split(","))
    weights = args.weights
    if weights is None:
        if objectives != DEFAULT_OBJECTIVES:
            raise UsageError(f"give --weights (one per objective: {', '.join(objectives)}); the "
                             f"default weights are for {', '.join(DEFAULT_OBJECTIVES)}")
        weights = DEFAULT_WEIGHTS
    return SearchConfig.for_budget(
        args.budget, pop_size=args.pop_size, generations=args.generations,
        random_samples=args.random_samples, seed=args.seed, objectives=objectives,
        weights=weights, max_latency_ms=args.max_latency,
        max_macs=None if args.max_macs is None else int(round(args.max_macs * 1e6)),
    )


def _processes(args: argparse.Namespace) -> int:
    """How many processes score: torchrun's ranks under torchrun, else ``--processes``, where
    ``auto`` is the idle cores divided by ``--threads``."""
    import os

    from search_repro.search.workers import idle_cores

    if "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    if args.processes == "auto":
        return max(1, idle_cores() // args.threads)
    return args.processes


def _report(outcome: Any) -> str:
    from search_repro.search.results import front_records

    lines = [f"front: {len(outcome.front)} architectures after {outcome.timing['generations_done']} "
             f"generations, {len(outcome.history)} evaluated "
             f"({outcome.timing['seconds_this_invocation']:.0f} s this invocation)",
             f"{'accuracy':>9} {'latency ms':>10} {'params M':>8} {'MACs M':>7}  architecture"]
    rows = front_records(outcome)
    refs = outcome.extras["references"]
    for r in rows:
        lines.append(f"{r['accuracy']:9.4f} {r['latency_ms']:10.2f} {r['params'] / 1e6:8.3f} "
                     f"{r['macs'] / 1e6:7.1f}  {r['arch']}")
    for i, name in enumerate(refs["names"]):
        lines.append(f"{refs['accuracy'][i]:9.4f} {refs['latency_ms'][i]:10.2f} "
                     f"{refs['params'][i] / 1e6:8.3f} {refs['macs'][i] / 1e6:7.1f}  {name}")
    lines.append(f"results in {outcome.out_dir}/: history.csv, front.csv, front.json, "
                 f"references.csv, search.png (state.json resumes the run)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run or resume the search described by ``args``; print the front."""
    import torch

    for module in ("pymoo", "matplotlib"):
        try:
            __import__(module)
        except ModuleNotFoundError:
            raise UsageError(f"the search needs {module}: pip install 'moga_zoo[search]'") from None
    from search_repro.latency import DEFAULT_TABLE, load_table
    from search_repro.search.distributed import sharded_evaluation
    from search_repro.search.objectives import Scorer
    from search_repro.search.runner import STATE_FILE, check_feasible, run_search
    from search_repro.search.size_model import size_model
    from search_repro.search.state import SearchState
    from search_repro.search.workers import evaluation_workers

    check_output_folder(args.out, "--out")
    torch.set_num_threads(args.threads)
    if args.data_root and not args.supernet:
        raise UsageError("--data-root only applies to a --supernet checkpoint")
    if args.supernet and not Path(args.supernet).is_file():
        raise MissingFileError(f"no supernet checkpoint at {args.supernet}")
    if args.supernet:  # a bad file is named before the slow load (data, evaluator) starts
        from search_repro.supernet.checkpoint import load_supernet

        load_supernet(args.supernet)
    args.table = args.table or DEFAULT_TABLE
    table = load_table(args.table)
    config = _config(args)  # settings and budgets are checked before the slow supernet load
    sizes = size_model()
    check_feasible(config, table.predict, sizes)
    state = Path(args.out) / STATE_FILE
    if state.exists():
        SearchState.load(state)  # a corrupt state fails here, before the supernet load
    processes = _processes(args)
    if not args.no_progress:
        print(f"loading the supernet and its validation images; scoring in {processes} "
              f"process(es) of {args.threads} thread(s)", file=sys.stderr, flush=True)
    with evaluation_workers(processes - 1, args.threads, args.supernet,
                            args.data_root) as workers_loaded:
        evaluator, artifacts = _load_evaluator(args, table)
        config = config.with_artifacts(**artifacts)
        workers_loaded()
        with sharded_evaluation(evaluator.accuracy) as accuracy:
            if accuracy.rank > 0:
                return 0
            outcome = run_search(config, Scorer(accuracy, table.predict, sizes), args.out,
                                 progress=not args.no_progress,
                                 invocation={"processes": accuracy.world, "threads": args.threads})
    print(_report(outcome))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m search_repro.reproduce", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        from search_repro.cli.search import run_locked

        return run_locked(args)
    except MogaZooError as e:
        print(f"{parser.prog}: error: {one_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
