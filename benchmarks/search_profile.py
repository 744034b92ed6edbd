"""Where the search's time goes: images, supernet + stem, BN calibration, forward passes, rest.

    python benchmarks/search_profile.py                            # default budget, 1 run each
    python benchmarks/search_profile.py --generations 2 --random-samples 10     # a few minutes

Runs the search (``moga-zoo search --threads 1`` settings) in a fresh process per run, once with
today's evaluator ("new") and once with the evaluator's settings before issue 22 ("previous":
unfolded BatchNorms, 1,000 images per pass, images rendered at every start; the rest of the
code is today's), alternating
(A B A B), and splits each run's CPU time (``time.process_time``: one thread, so on a quiet
machine the wall time; on a busy one it leaves out the waits for a core) into: loading the
proxy's images (rendering or the uint8 cache), loading the supernet and running its stem on the
images, BN recalibration (``_calibrate``), folding BatchNorms, forward passes on the validation
images (``_eval_chunks``), and everything else (imports, NSGA-II, the resume state after each
generation, the results files and plot). Medians over ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PHASES = ("images", "supernet + stem", "BN calibration", "BN folding", "forward passes",
          "everything else")


def child(variant: str, out: str, extra: list[str]) -> None:
    """One instrumented search in this process; prints the phase seconds as JSON."""
    began = time.process_time()
    import search_repro.supernet as supernet
    from search_repro import reproduce
    from search_repro.supernet import evaluator as ev_module
    from search_repro.supernet import images as images_module
    from search_repro.supernet.checkpoint import read_sidecar

    spent = dict.fromkeys(PHASES, 0.0)

    def timed(phase, fn):
        def wrapper(*args, **kwargs):
            tic = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[phase] += time.process_time() - tic
        return wrapper

    ev_module._calibrate = timed("BN calibration", ev_module._calibrate)
    cls = ev_module.SupernetEvaluator
    cls._eval_chunks = timed("forward passes", cls._eval_chunks)
    cls._folded = timed("BN folding", cls._folded)
    images_module.scoring_images = timed("images", images_module.scoring_images)
    load_data = timed("images", ev_module.load_checkpoint_data)

    def load_evaluator(**settings):
        tic = time.process_time()
        before = sum(spent.values())
        path = ev_module.BUNDLED_CHECKPOINT
        if variant == "previous":
            data = load_data(read_sidecar(path))
            ev = cls.from_checkpoint(path, data=data, fold_bn=False, eval_batch_size=1000)
        else:
            ev = cls.from_checkpoint(path)
        spent["supernet + stem"] += time.process_time() - tic - (sum(spent.values()) - before)
        return ev

    # both names: search_repro.supernet re-exports it, load_evaluator calls the module's own
    supernet.load_bundled_evaluator = ev_module.load_bundled_evaluator = load_evaluator
    reproduce.main(["--out", out, "--no-progress", "--threads", "1", *extra])
    total = time.process_time() - began
    spent["everything else"] = total - sum(spent.values())
    print(json.dumps({"total": total, **spent}))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2], argv[3:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--generations", type=int)
    p.add_argument("--random-samples", type=int)
    a = p.parse_args(argv)
    extra = []
    if a.generations is not None:
        extra += ["--generations", str(a.generations)]
    if a.random_samples is not None:
        extra += ["--random-samples", str(a.random_samples)]
    runs: dict[str, list[dict]] = {"previous": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="search-profile-") as tmp:
        for r in range(a.repeats):
            for variant in runs:  # A B A B
                proc = subprocess.run([sys.executable, __file__, "--child", variant,
                                       f"{tmp}/{variant}{r}", *extra], cwd=REPO, check=True,
                                      capture_output=True, text=True)
                runs[variant].append(json.loads(proc.stdout.strip().splitlines()[-1]))
                total = runs[variant][-1]["total"]
                print(f"  {variant} run {r + 1}: {total:.0f} CPU s", flush=True)
    print(machine_line())
    print(f"command: moga-zoo search --threads 1 {' '.join(extra)}".rstrip())
    print(f"medians of {a.repeats} run(s), CPU seconds\n")
    print("| phase | previous | new |\n|---|---|---|")
    for phase in (*PHASES, "total"):
        cells = [statistics.median(r[phase] for r in runs[v]) for v in runs]
        print(f"| {phase} | {cells[0]:.1f} | {cells[1]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
