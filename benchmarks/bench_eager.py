"""CPU inference latency of MoGA-A/B/C (our timm models) vs the authors'-layout re-implementation
and timm's mobilenetv3_large_100, measured in the same run.

Variants: eager (contiguous), eager channels_last, torch.compile (skip with --no-compile). Models
of one (batch, variant) cell are timed round-robin, so machine noise hits all of them alike.
Prints a markdown table: median ms per forward and the ratio to the authors' layout of the same
architecture (< 1: ours is faster).

    flock /tmp/moga_timing.lock python benchmarks/bench_eager.py --threads 2
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import timm
import torch
import torch.nn as nn
from tqdm import tqdm

import moga_zoo
from moga_zoo.authors_layout import convert_authors_state_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from authors_reference import MOGA_A, MOGA_B, MOGA_C, MoGAAuthors  # noqa: E402
from machine import cpu_name  # noqa: E402

AUTHORS = {"moga_a": MOGA_A, "moga_b": MOGA_B, "moga_c": MOGA_C}
VARIANTS = ("eager", "channels_last", "compile")


def build_models() -> dict[str, nn.Module]:
    """Ours and the authors' layout with the same weights, plus timm's MobileNetV3-Large."""
    models: dict[str, nn.Module] = {}
    for name, choices in AUTHORS.items():
        ours = moga_zoo.create(name).eval()
        theirs = MoGAAuthors(choices).eval()
        ours.load_state_dict(convert_authors_state_dict(theirs.state_dict()))
        models[f"{name} (ours, timm)"] = ours
        models[f"{name} (authors' layout)"] = theirs
    models["mobilenetv3_large_100 (timm)"] = timm.create_model("mobilenetv3_large_100").eval()
    return models


def prepare(model: nn.Module, variant: str, x: torch.Tensor) -> tuple[Callable, torch.Tensor]:
    if variant == "channels_last":
        return model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.contiguous_format)
    if variant == "compile":
        return torch.compile(model, dynamic=False), x
    return model, x


@torch.inference_mode()
def time_cell(models: dict[str, nn.Module], variant: str, batch: int, size: int,
              warmup: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per forward of every model, timed round-robin."""
    x = torch.randn(batch, 3, size, size)
    runners = {}
    for name, model in models.items():
        fn, inp = prepare(model, variant, x)
        for _ in range(warmup):  # includes compilation for the compile variant
            fn(inp)
        runners[name] = (fn, inp)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in tqdm(range(repeats), desc=f"{variant} b{batch}", leave=False):
        for name, (fn, inp) in runners.items():
            t0 = time.perf_counter()
            fn(inp)
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


@torch.inference_mode()
def count_aten_calls(model: nn.Module, size: int) -> int:
    """ATen operator calls of one batch-1 forward: a load-independent measure of eager overhead."""
    x = torch.randn(1, 3, size, size)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(x)
    return sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=30, help="timed runs at batch 1 (fewer above)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = p.parse_args(argv)
    if args.threads < 1 or args.repeats < 3 or args.size < 32:
        p.error("need --threads >= 1, --repeats >= 3 and --size >= 32")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = build_models()
    aten_calls = {name: count_aten_calls(model, args.size) for name, model in models.items()}
    variants = [v for v in VARIANTS if not (args.no_compile and v == "compile")]
    results: dict[tuple[str, int], dict[str, float]] = {}
    for batch in args.batches:
        repeats = max(3, args.repeats if batch == 1 else args.repeats // 3)
        for variant in variants:
            results[variant, batch] = time_cell(models, variant, batch, args.size, args.warmup,
                                                repeats)

    print(f"\nCPU: {cpu_name()}, {torch.get_num_threads()} "
          f"torch threads, torch {torch.__version__}, timm {timm.__version__}, input "
          f"{args.size}x{args.size}, median of {args.repeats} runs at batch 1 and "
          f"{max(3, args.repeats // 3)} above, after {args.warmup} warm-up runs\n")
    header = "| model | ATen calls b1 | " + " | ".join(f"{v} b{b} ms (ratio)" for b in args.batches
                                       for v in variants) + " |"
    print(header)
    print("|" + "---|" * (2 + len(args.batches) * len(variants)))
    for name in models:
        arch = name.split(" ")[0]
        cells = []
        for batch in args.batches:
            for variant in variants:
                ms = results[variant, batch][name]
                base = results[variant, batch].get(f"{arch} (authors' layout)")
                cells.append(f"{ms:.2f} ({ms / base:.2f}x)" if base else f"{ms:.2f}")
        print(f"| {name} | {aten_calls[name]} | " + " | ".join(cells) + " |")
    print("\nratio: time / time of the authors' layout of the same architecture, same variant "
          "and batch (< 1: ours is faster)")


if __name__ == "__main__":
    main()
