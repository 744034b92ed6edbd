"""Wall time of ``moga-zoo search --threads 1``: today's evaluator vs the previous one, same run.

    python benchmarks/search_time.py                        # full default budget, 2 runs each
    python benchmarks/search_time.py --generations 2 --random-samples 10 --repeats 1  # minutes
    python benchmarks/search_time.py --variants at:HEAD,new      # a commit vs the working tree

Each run is a fresh process into a new folder, so the time includes start-up, loading the
supernet and its images, the search, MoGA-A/B/C, the random sample and writing the results, as a
user sees it (wall time; the CPU time beside it is what a quiet machine's wall time would be,
as the search uses one thread). "new" is ``python -m search_repro.reproduce --threads 1
--no-progress`` itself.
"previous" is the same command with the evaluator as it was before issue 22: BatchNorms not
folded, 1,000 images per forward pass, the proxy's images rendered at every start (no uint8
cache; the first "new" run of a fresh cache renders them once too). "new" runs with
``--processes 1``; "new-2proc" with ``--processes 2`` (one thread per process: the candidates of
each generation split between two processes), what ``moga-zoo search`` picks by itself when two
cores are idle; "new-glibc-default" is "new" with glibc's malloc thresholds left as they are
(search_repro/allocator.py not applied, as before that change); "at:REV" is "new" as committed
at git revision REV (a temporary worktree of this repository, first on ``PYTHONPATH``), to
measure a change against the code before it. The variants alternate
(A B C A B C). The script then compares the first run's final front of the first variant with
that of each other: the same architectures, or else the
hypervolume of each front (objectives as the search minimises them: -accuracy, latency, -params;
normalised by the range of both runs' whole histories; reference point 1.1 in each).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("previous", "new", "new-2proc", "new-glibc-default")


def _previous_evaluator(**settings):
    """The bundled evaluator as before issue 22 (for the child process of the baseline)."""
    from search_repro.supernet.checkpoint import read_sidecar
    from search_repro.supernet.evaluator import (BUNDLED_CHECKPOINT, SupernetEvaluator,
                                                 load_checkpoint_data)

    data = load_checkpoint_data(read_sidecar(BUNDLED_CHECKPOINT))  # rendered at every start
    return SupernetEvaluator.from_checkpoint(BUNDLED_CHECKPOINT, data=data, fold_bn=False,
                                             **{"eval_batch_size": 1000, **settings})


def child_previous(argv: list[str]) -> int:
    """Run the search command with the previous evaluator in this process."""
    import search_repro.supernet.evaluator as evaluator

    evaluator.load_bundled_evaluator = _previous_evaluator
    return child_glibc_default(argv)


def child_glibc_default(argv: list[str]) -> int:
    """Run the search command with glibc's own malloc thresholds in this process."""
    from search_repro import allocator, reproduce

    allocator._applied = False  # as if already tried, and not applied
    return reproduce.main(argv)


def time_search(variant: str, out: Path, extra: list[str],
                trees: dict[str, Path]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one search in a fresh process."""
    args = ["--out", str(out), "--no-progress", "--threads", "1", *extra]
    args += ["--processes", "2" if variant == "new-2proc" else "1"]
    child = {"previous": "--child-previous", "new-glibc-default": "--child-glibc-default"}
    cmd = ([sys.executable, __file__, child[variant], *args] if variant in child else
           [sys.executable, "-m", "search_repro.reproduce", *args])
    tree = trees.get(variant, REPO)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@contextmanager
def worktrees(variants: list[str], tmp: Path) -> Iterator[dict[str, Path]]:
    """A detached git worktree of this repository for each ``at:REV`` variant, by variant,
    removed afterwards."""
    trees: dict[str, Path] = {}
    try:
        for variant in (v for v in variants if v.startswith("at:")):
            trees[variant] = tmp / f"tree-{len(trees)}"
            subprocess.run(["git", "worktree", "add", "--detach", "--quiet",
                            str(trees[variant]), variant[3:]], cwd=REPO, check=True)
        yield trees
    finally:
        for path in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO,
                           check=False)


def _front(folder: Path) -> tuple[set[str], np.ndarray, np.ndarray]:
    front = json.loads((folder / "front.json").read_text())
    members = front["front"] if isinstance(front, dict) and "front" in front else front
    archs = {m["arch"] for m in members}
    f = np.array([[-m["accuracy"], m["latency_ms"], -m["params"]] for m in members])
    hist = np.genfromtxt(folder / "history.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    h = np.column_stack([-hist["accuracy"], hist["latency_ms"], -hist["params"]])
    return archs, f, h


def compare_fronts(a: Path, b: Path) -> dict:
    """Same front members? Otherwise each front's hypervolume on a common normalisation."""
    from pymoo.indicators.hv import HV

    (arch_a, fa, ha), (arch_b, fb, hb) = _front(a), _front(b)
    both = np.concatenate([ha, hb])
    lo, span = both.min(0), np.ptp(both, axis=0)
    hv = HV(ref_point=np.full(3, 1.1))
    va, vb = float(hv((fa - lo) / span)), float(hv((fb - lo) / span))
    return {"same_front": arch_a == arch_b, "members": [len(arch_a), len(arch_b)],
            "common_members": len(arch_a & arch_b), "hypervolume": [va, vb],
            "hypervolume_change_pct": 100 * (vb - va) / va}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-previous"]:
        return child_previous(argv[1:])
    if argv[:1] == ["--child-glibc-default"]:
        return child_glibc_default(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2, help="runs per variant")
    p.add_argument("--generations", type=int, help="shorter search (default: the budget's)")
    p.add_argument("--random-samples", type=int, help="smaller random sample")
    p.add_argument("--keep", metavar="DIR", help="keep the results folders here")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="comma-separated, from %(default)s; the first is the baseline")
    a = p.parse_args(argv)
    variants = a.variants.split(",")
    known = [v in VARIANTS or (v.startswith("at:") and len(v) > 3) for v in variants]
    if len(variants) < 2 or not all(known) or len(set(variants)) < len(variants):
        p.error(f"--variants: two or more of {', '.join(VARIANTS)} or at:REV, each once")
    extra = []
    if a.generations is not None:
        extra += ["--generations", str(a.generations)]
    if a.random_samples is not None:
        extra += ["--random-samples", str(a.random_samples)]
    print(machine_line())
    print(f"command: moga-zoo search --threads 1 {' '.join(extra)}".rstrip())
    times: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="search-time-") as tmp, \
            worktrees(variants, Path(tmp)) as trees:
        root = Path(a.keep) if a.keep else Path(tmp)
        folders = {v: v.replace(":", "-") for v in variants}
        for r in range(a.repeats):
            for variant in variants:  # interleaved: A B A B
                times[variant].append(time_search(variant, root / f"{folders[variant]}{r}",
                                                  extra, trees))
                wall, cpu = times[variant][-1]
                print(f"  {variant} run {r + 1}: {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
        base = variants[0]
        fronts = {v: compare_fronts(root / f"{folders[base]}0", root / f"{folders[v]}0")
                  for v in variants[1:]}
    print("\n| variant | wall (s) | median wall (s) | CPU (s) | median CPU (s) |")
    print("|---|---|---|---|---|")
    for v in variants:
        wall, cpu = ([t[i] for t in times[v]] for i in (0, 1))
        print(f"| {v} | {', '.join(f'{s:.0f}' for s in wall)} | {statistics.median(wall):.0f} "
              f"| {', '.join(f'{s:.0f}' for s in cpu)} | {statistics.median(cpu):.0f} |")
    for v in variants[1:]:
        for i, what in enumerate(("wall", "CPU")):
            ratio = (statistics.median(t[i] for t in times[base]) /
                     statistics.median(t[i] for t in times[v]))
            print(f"speed-up, median {what} time ({base} / {v}): {ratio:.2f}x")
        print(f"fronts, {base} vs {v}: {json.dumps(fronts[v])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
