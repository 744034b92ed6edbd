"""Inference latency of every runtime for MoGA-A/B/C against the authors' eager layout.

Baseline: the authors' module layout in plain torch.nn (tests/authors_reference.py), eager,
measured in the same run. Runtimes: timm eager, timm channels_last (moga_zoo's ``torch`` runtime),
optionally torch.compile, and onnxruntime on the cached, validated ONNX export (the default
``auto`` runtime). Each cell is the median of several timed runs; runtimes are measured
round-robin so that load changes hit all of them alike.

    flock /tmp/moga_timing.lock python benchmarks/bench_runtimes.py --threads 2
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import onnxruntime
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import moga_zoo  # noqa: E402
from authors_reference import MOGA_A, MOGA_B, MOGA_C, MoGAAuthors  # noqa: E402
from machine import cpu_name  # noqa: E402
from moga_zoo.inference import make_runner  # noqa: E402

AUTHORS = {"moga_a": MOGA_A, "moga_b": MOGA_B, "moga_c": MOGA_C}


def eager(model: torch.nn.Module) -> Callable[[torch.Tensor], object]:
    def run(x: torch.Tensor):
        with torch.inference_mode():
            return model(x)
    return run


def compiled(model: torch.nn.Module) -> Callable[[torch.Tensor], object]:
    fn = torch.compile(model)
    return eager(fn)


def runners(name: str, cache: Path, with_compile: bool) -> dict[str, Callable]:
    timm_model = moga_zoo.create(name).eval()
    out = {
        "authors eager": eager(MoGAAuthors(AUTHORS[name]).eval()),
        "timm eager": eager(timm_model),
        "torch (channels_last)": make_runner(moga_zoo.create(name), "torch"),
    }
    if with_compile:
        out["torch.compile"] = compiled(moga_zoo.create(name).eval())
    out["onnxruntime (auto)"] = make_runner(moga_zoo.create(name), "onnxruntime", cache=cache)
    return out


def measure(fns: dict[str, Callable], batch: int, repeats: int, warmup: int) -> dict[str, float]:
    x = torch.randn(batch, 3, 224, 224)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        for _ in range(warmup):
            fn(x)
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn(x)
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(AUTHORS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15, help="timed runs at batch 1 (fewer at larger batches)")
    p.add_argument("--with-compile", action="store_true", help="also time torch.compile (slow to compile)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {cpu_name()}, {args.threads} threads; torch {torch.__version__}, "
          f"onnxruntime {onnxruntime.__version__}, timm {__import__('timm').__version__}")
    print("median latency per batch (ms); speedup = authors' eager / runtime, same run\n")
    print("| model | batch | runtime | ms | ms/image | speedup |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        for name in args.models:
            fns = runners(name, Path(cache), args.with_compile)
            for batch in args.batches:
                repeats = max(3, args.repeats // max(1, batch // 4))
                ms = measure(fns, batch, repeats, warmup=2)
                base = ms["authors eager"]
                for key, value in ms.items():
                    print(f"| {name} | {batch} | {key} | {value:.1f} | {value / batch:.2f} | "
                          f"{base / value:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
