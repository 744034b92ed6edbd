"""What a phone kit costs to write and to time: export seconds per block and per network, and the
seconds one timing round of them takes here, on a subset of the kit, extrapolated to the whole kit.

Baseline: the ONNX export of the same parts (``moga-zoo export``'s default format), interleaved
part by part with the phone format (A B A B). Usage::

    python benchmarks/mobile_kit_cost.py --runtime litert
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from machine import machine_line

from moga_zoo.inference import mobile
from moga_zoo.inference.export import SUFFIX
from search_repro.latency import kit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runtime", choices=("litert", "executorch"), default="litert")
    p.add_argument("--layers", type=int, nargs="+", default=[1, 7, 14])
    p.add_argument("--choices", nargs="+", default=["e3k3", "e6k7se"])
    p.add_argument("--warmup", type=int, default=10, help="kit default")
    p.add_argument("--runs", type=int, default=50, help="kit default")
    args = p.parse_args()
    plan = kit._plan(args.runtime, 224, 10, 30, 0, 1)
    blocks = [m for m in plan if m.kind == "block" and m.layer in args.layers
              and m.key in args.choices]
    networks = [m for m in plan if m.kind == "validation"][:1]
    n_blocks = sum(m.kind in ("block", "fixed") for m in plan)
    n_networks = len(plan) - n_blocks
    print(machine_line())
    print(f"| part | n | {args.runtime} export s | onnx export s | {args.runtime} one round s "
          f"({args.warmup}+{args.runs} runs) | MB |")
    print("|---|---|---|---|---|---|")
    totals = {}
    with tempfile.TemporaryDirectory() as folder:
        for group, items, count in (("block", blocks, n_blocks), ("network", networks, n_networks)):
            sums = {"export": 0.0, "onnx": 0.0, "round": 0.0, "mb": 0.0}
            for item in items:
                module = item.build()
                path = Path(folder) / f"part{SUFFIX[args.runtime]}"
                t = time.perf_counter()
                kit._export_part(module, path, args.runtime, item.input_shape)
                sums["export"] += time.perf_counter() - t
                t = time.perf_counter()
                kit._export_part(module, Path(folder) / "part.onnx", "onnx", item.input_shape)
                sums["onnx"] += time.perf_counter() - t
                t = time.perf_counter()
                call = mobile.invoker(args.runtime, str(path))
                for _ in range(args.warmup + args.runs):
                    call()
                sums["round"] += time.perf_counter() - t
                sums["mb"] += path.stat().st_size / 1e6
            mean = {k: v / len(items) for k, v in sums.items()}
            totals[group] = {k: v * count for k, v in mean.items()}
            print(f"| {group} (mean of {len(items)}) | {count} | {mean['export']:.1f} | "
                  f"{mean['onnx']:.1f} | {mean['round']:.2f} | {mean['mb']:.2f} |")
    whole = {k: totals["block"][k] + totals["network"][k] for k in totals["block"]}
    print(f"| whole kit, extrapolated | {len(plan)} | {whole['export'] / 60:.0f} min | "
          f"{whole['onnx'] / 60:.0f} min | {whole['round'] / 60:.1f} min per round | "
          f"{whole['mb']:.0f} |")


if __name__ == "__main__":
    main()
