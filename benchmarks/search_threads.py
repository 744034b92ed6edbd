"""Wall time of ``moga-zoo search`` with one torch thread vs one per CPU, on a quiet and a busy machine.

    python benchmarks/search_threads.py [--repeats 2] [--generations G] [--random-samples R]

Each run is a fresh ``python -m search_repro.reproduce`` process (the same code as ``moga-zoo
search``) into a new folder, so the time includes start-up and the supernet load, as a user sees
it. The two thread counts alternate (A B A B ...) so slow drifts of the machine hit both alike.
"busy" starts one busy-loop process per CPU for the duration of its runs, standing in for other
jobs on a shared machine; "quiet" adds nothing (printed as "no added load": it is only quiet if
nothing else runs).
Without --generations/--random-samples the search runs its full default budget.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` busy-loop processes for the duration of the block (0: nothing)."""
    workers = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(processes)]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        for w in workers:
            w.terminate()
            w.join()


def time_search(threads: int, extra: list[str]) -> float:
    """Seconds for one complete search in a fresh process and a fresh results folder."""
    with tempfile.TemporaryDirectory(prefix="search-threads-") as out:
        cmd = [sys.executable, "-m", "search_repro.reproduce", "--out", out, "--no-progress",
               "--threads", str(threads), *extra]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2, help="runs per thread count and condition")
    p.add_argument("--generations", type=int, help="shorter search (default: the full budget)")
    p.add_argument("--random-samples", type=int, help="smaller random sample (default: 100)")
    p.add_argument("--conditions", default="quiet,busy", help="comma-separated: quiet, busy")
    a = p.parse_args(argv)
    extra = []
    if a.generations is not None:
        extra += ["--generations", str(a.generations)]
    if a.random_samples is not None:
        extra += ["--random-samples", str(a.random_samples)]
    cpus = os.cpu_count() or 1
    counts = sorted({1, cpus})
    print(machine_line())
    print(f"command: python -m search_repro.reproduce --threads T {' '.join(extra)}".rstrip())
    print(f"| condition | threads | runs (s) | median (s) |\n|---|---|---|---|")
    for condition in a.conditions.split(","):
        times: dict[int, list[float]] = {t: [] for t in counts}
        with busy(cpus if condition == "busy" else 0):
            for _ in range(a.repeats):
                for t in counts:  # interleaved: A B A B
                    times[t].append(time_search(t, extra))
        for t in counts:
            runs = ", ".join(f"{s:.0f}" for s in times[t])
            load = f"+{cpus} busy loops" if condition == "busy" else "no added load"
            print(f"| {load} | {t} | {runs} | {statistics.median(times[t]):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
