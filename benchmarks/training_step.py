"""Training steps per second on one thread: the step before issue 22 against each speed-up.

    python benchmarks/training_step.py --steps 3 --repeats 2        # a few minutes
    python benchmarks/training_step.py                               # 8 steps x 3 repeats
    python benchmarks/training_step.py --compile       # + torch.compile (minutes of warm-up)

Two workloads at the proxy's reference recipe (64 px turned canvas shapes, width 0.25, the
proxy's strides, SGD nesterov): a stand-alone step of MoGA-A at batch 128 (search_repro/
standalone.py) and a strict-fairness supernet step (12 paths) at batch 256
(search_repro/supernet/train.py). Each timed block runs in a fresh process, the variants
alternating (A B A B ...), so that each starts from glibc's own malloc settings:

* ``baseline``: the step before issue 22 (eager, channels_last, float32, a DataLoader over
  per-image items, oneDNN's own depthwise weight gradients, glibc's malloc thresholds, the
  supernet's stem run on every path);
* ``batched data``: the baseline with the batch cut from the uint8 images in one go (the same
  numbers);
* ``depthwise gradient``: the baseline with the 5x5/7x7 depthwise weight gradients computed as
  depthwise forward convolutions (stride 1) or from the input's even/odd phases (stride 2)
  (search_repro/depthwise.py; the same numbers up to the order of sums);
* ``both``: batched data and the depthwise gradient;
* ``pointwise``: the baseline with the 1x1 convolutions of pooled maps (squeeze-excitation, the
  head) as matrix products (search_repro/pointwise.py; the same numbers to rounding);
* ``today``: batched data, the depthwise gradient and the pointwise matrix products (the step of
  issue 22's third round, with today's depthwise gradient);
* ``allocator``: the baseline with glibc's malloc thresholds raised (search_repro/allocator.py;
  the same numbers);
* ``shared stem`` (supernet only): the baseline with the stem run once for 11 of the 12 paths
  (search_repro/supernet/fairness.py; the same numbers to rounding);
* ``default step``: all of the above, the default path of both trainers now;
* ``contiguous``: the NCHW memory format;
* ``bf16 autocast``: forward passes under CPU bf16 autocast, only where /proc/cpuinfo lists
  avx512_bf16 or amx_bf16;
* ``torch.compile`` (``--compile``, stand-alone only: a supernet path changes every step):
  inductor's C++ backend, with its warm-up reported separately.

``--onednn`` also prints oneDNN's implementation of the costliest backward kernel (the depthwise
weight gradient) and times both depthwise gradients against search_repro/depthwise.py's. Times
are medians of ``--repeats`` timed blocks of ``--steps`` steps after one warm-up block.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

import moga_zoo  # noqa: E402
from search_repro.allocator import reuse_freed_memory  # noqa: E402
from search_repro.data import _ImageTensor  # noqa: E402  (the datasets' class: the real data path)
from search_repro.depthwise import (depthwise_input_grad, depthwise_weight_grad,  # noqa: E402
                                    speed_up_depthwise, strided_depthwise_weight_grad)
from search_repro.pointwise import speed_up_pointwise  # noqa: E402
from search_repro.proxy import CANVAS_PROXY  # noqa: E402
from search_repro.supernet.fairness import fair_paths, fair_step  # noqa: E402
from search_repro.supernet.model import Supernet  # noqa: E402
from search_repro.supernet.train import StepBatchSampler, TrainConfig, make_optimizer  # noqa: E402
from moga_zoo.search_space import MOGA_A  # noqa: E402


# which variants take each change
BATCHED = ("batched data", "both", "today", "default step")
DEPTHWISE = ("depthwise gradient", "both", "today", "default step")
POINTWISE = ("pointwise", "today", "default step")
ALLOCATOR = ("allocator", "default step")
SHARED_STEM = ("shared stem", "default step")


def native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _data(n: int = 4096) -> _ImageTensor:
    g = torch.Generator().manual_seed(0)
    return _ImageTensor(torch.randint(0, 256, (n, 64, 64), dtype=torch.uint8, generator=g),
                        torch.randint(0, 10, (n,), generator=g), 64, mean=0.2, std=0.3)


def _batches(data: _ImageTensor, batch: int, steps: int, batched: bool, fmt):
    sampler = StepBatchSampler(len(data), batch, steps, 0)
    if not batched:
        for x, y in DataLoader(data, batch_sampler=sampler):
            yield x.contiguous(memory_format=fmt), y
        return
    for idx in sampler:
        i = torch.tensor(idx)
        x = (data.images[i].float().div_(255.0)[:, None] - data.mean) / data.std
        yield x.contiguous(memory_format=fmt), data.labels[i]


def standalone(variant: str, steps: int, batch: int, data: _ImageTensor) -> tuple[float, float]:
    """(seconds of the first block, steps/s of the next ``steps``) of one variant."""
    fmt = torch.contiguous_format if variant == "contiguous" else torch.channels_last
    torch.manual_seed(0)
    model = moga_zoo.create(arch=MOGA_A, num_classes=10, in_chans=1,
                            **CANVAS_PROXY.model_kwargs()).to(memory_format=fmt).train()
    if variant in DEPTHWISE:
        speed_up_depthwise(model)
    if variant in POINTWISE:
        speed_up_pointwise(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=4e-5,
                          nesterov=True)
    fwd = torch.compile(model) if variant == "torch.compile" else model
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16 autocast"
                else contextlib.nullcontext())
    times = []
    for x, y in _batches(data, batch, steps + 1, variant in BATCHED, fmt):
        tic = time.perf_counter()
        with autocast:
            loss = F.cross_entropy(fwd(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - tic)
    return times[0], steps / sum(times[1:])


def supernet(variant: str, steps: int, batch: int, data: _ImageTensor) -> tuple[float, float]:
    fmt = torch.contiguous_format if variant == "contiguous" else torch.channels_last
    torch.manual_seed(0)
    net = Supernet(num_classes=10, in_chans=1, channel_multiplier=0.25,
                   strides=CANVAS_PROXY.strides).to(memory_format=fmt).train()
    if variant in DEPTHWISE:
        speed_up_depthwise(net)
    if variant in POINTWISE:
        speed_up_pointwise(net)
    opt = make_optimizer(net, TrainConfig(out=""))
    rng = np.random.default_rng(0)
    times = []
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16 autocast"
                else contextlib.nullcontext())
    for x, y in _batches(data, batch, steps + 1, variant in BATCHED, fmt):
        tic = time.perf_counter()
        with autocast:
            fair_step(net, x, y, opt, fair_paths(rng), share_stem=variant in SHARED_STEM)
        times.append(time.perf_counter() - tic)
    return times[0], steps / sum(times[1:])


def _alternating_ms(calls: dict) -> dict[str, float]:
    """Median milliseconds of 5 calls of each, alternating, after one warm-up call each."""
    took: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(6):
        for name, call in calls.items():
            tic = time.perf_counter()
            call()
            took[name].append(time.perf_counter() - tic)
    return {name: statistics.median(t[1:]) * 1e3 for name, t in took.items()}


def onednn_report() -> None:
    """Which oneDNN kernel computes a depthwise weight gradient in channels_last, by filter size
    (its verbose log), and the time of the weight and input gradients against
    search_repro/depthwise.py's."""
    code = ("import torch\n"
            "for k in (3, 5, 7):\n"
            "    x=torch.randn(128,48,16,16).contiguous(memory_format=torch.channels_last)\n"
            "    w=torch.randn(48,1,k,k).contiguous(memory_format=torch.channels_last)\n"
            "    torch.ops.aten.convolution_backward(x,x,w,None,[1,1],[k//2,k//2],[1,1],False,"
            "[0,0],48,[False,True,False])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"ONEDNN_VERBOSE": "1", "OMP_NUM_THREADS": "1"}).stdout
    kernels = {}
    for line in out.splitlines():
        parts = line.split(",")
        if len(parts) > 8 and parts[5] == "convolution" and parts[7] == "backward_weights":
            kernels[int(parts[-2].split("kh")[1].split("s")[0])] = parts[6]
    print("depthwise weight gradient, 128 x 48 channels, channels_last, one thread "
          "(medians of 5):")
    for k, size in itertools.product(kernels, (4, 16, 32)):
        x = torch.randn(128, 48, size, size).contiguous(memory_format=torch.channels_last)
        w = torch.randn(48, 1, k, k).contiguous(memory_format=torch.channels_last)
        calls = {"oneDNN": lambda: torch.ops.aten.convolution_backward(
                     x, x, w, None, [1, 1], [k // 2] * 2, [1, 1], False, [0, 0], 48,
                     [False, True, False]),
                 "as a depthwise forward convolution": lambda: depthwise_weight_grad(
                     x, x, (k // 2, k // 2))}
        ms = _alternating_ms(calls)
        print(f"  {k}x{k} on {size}x{size}: oneDNN ({kernels[k]}) {ms['oneDNN']:.1f} ms, as a "
              f"depthwise forward convolution {ms['as a depthwise forward convolution']:.1f} ms")
    print("stride 2, the same channels:")
    for k, size in itertools.product((5, 7), (8, 16, 32)):
        x = torch.randn(128, 48, size, size).contiguous(memory_format=torch.channels_last)
        g = torch.randn(128, 48, size // 2, size // 2).contiguous(memory_format=torch.channels_last)
        calls = {"oneDNN": lambda: torch.nn.grad.conv2d_weight(
                     x, (48, 1, k, k), g, stride=2, padding=k // 2, groups=48),
                 "from the phases": lambda: strided_depthwise_weight_grad(
                     x, g, (k, k), (k // 2, k // 2))}
        ms = _alternating_ms(calls)
        print(f"  {k}x{k} on {size}x{size}: oneDNN {ms['oneDNN']:.1f} ms, from the phases "
              f"{ms['from the phases']:.1f} ms")
    print("input gradient, the same channels (conv2d_input, depthwise.py's path before issue 22's "
          "fifth round, gives oneDNN a placeholder for the input):")
    for k, stride, size in itertools.product((5, 7), (1, 2), (4, 8, 16, 32)):
        if stride == 1 and size > 16 or stride == 2 and size < 8:
            continue
        x = torch.randn(128, 48, size, size).contiguous(memory_format=torch.channels_last)
        w = nn.Conv2d(48, 48, k, groups=48, bias=False).to(  # as in a channels_last model
            memory_format=torch.channels_last).weight.detach()
        g = torch.randn(128, 48, size // stride, size // stride).contiguous(
            memory_format=torch.channels_last)
        calls = {"conv2d_input": lambda: torch.nn.grad.conv2d_input(
                     x.shape, w, g, stride=stride, padding=k // 2, groups=48),
                 "oneDNN": lambda: torch.ops.aten.convolution_backward(
                     g, x, w, None, [stride] * 2, [k // 2] * 2, [1, 1], False, [0, 0], 48,
                     [True, False, False]),
                 "depthwise_input_grad": lambda: depthwise_input_grad(
                     x, w, g, (stride, stride), (k // 2, k // 2))}
        ms = _alternating_ms(calls)
        print(f"  {k}x{k} stride {stride} on {size}x{size}: conv2d_input "
              f"{ms['conv2d_input']:.2f} ms, oneDNN given the input {ms['oneDNN']:.2f} ms, "
              f"depthwise_input_grad {ms['depthwise_input_grad']:.2f} ms")


WORKLOADS = {"standalone": (standalone, 128), "supernet": (supernet, 256)}


def run_block(workload: str, variant: str, steps: int) -> tuple[float, float]:
    """One timed block in this process (fresh, as main() starts it)."""
    torch.set_num_threads(1)
    if variant in ALLOCATOR:
        reuse_freed_memory()
    fn, batch = WORKLOADS[workload]
    return fn(variant, steps, batch, _data())


def _fresh_block(workload: str, variant: str, steps: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, __file__, "--block", workload, variant,
                          "--steps", str(steps)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{workload} / {variant} failed:\n{out.stderr[-2000:]}")
    first, rate = json.loads(out.stdout.strip().splitlines()[-1])
    return first, rate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=8, help="timed steps per block")
    p.add_argument("--repeats", type=int, default=3, help="timed blocks per variant")
    p.add_argument("--compile", action="store_true", help="also torch.compile (stand-alone)")
    p.add_argument("--onednn", action="store_true", help="name oneDNN's depthwise kernel")
    p.add_argument("--workloads", default="standalone,supernet")
    p.add_argument("--variants", default="", help="comma-separated variants besides the "
                   "baseline (default: all that apply here)")
    p.add_argument("--block", nargs=2, metavar=("WORKLOAD", "VARIANT"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.block:
        print(json.dumps(run_block(*a.block, a.steps)))
        return 0
    torch.set_num_threads(1)
    print(machine_line())
    print(f"native bf16 on this CPU: {native_bf16()}")
    if a.onednn:
        onednn_report()
    variants = ["baseline", "batched data", "depthwise gradient", "both", "pointwise", "today",
                "allocator", "shared stem", "default step", "contiguous"] + (
        ["bf16 autocast"] if native_bf16() else [])
    if a.variants:
        asked = [v for v in a.variants.split(",") if v != "baseline"]
        unknown = set(asked) - set(variants)
        if unknown:
            p.error(f"--variants: unknown {', '.join(sorted(unknown))}; from "
                    f"{', '.join(variants[1:])}")
        variants = ["baseline"] + asked
    print("\n| workload | variant | steps/s (median) | vs baseline | first block (s) |")
    print("|---|---|---|---|---|")
    for name in a.workloads.split(","):
        batch = WORKLOADS[name][1]
        names = [v for v in variants if name == "supernet" or v != "shared stem"] + (
            ["torch.compile"] if a.compile and name == "standalone" else [])
        rates: dict[str, list[float]] = {v: [] for v in names}
        first: dict[str, float] = {}
        for _ in range(a.repeats):
            for v in names:  # A B A B
                warm, rate = _fresh_block(name, v, a.steps)
                rates[v].append(rate)
                first.setdefault(v, warm)
        base = statistics.median(rates["baseline"])
        for v in names:
            m = statistics.median(rates[v])
            print(f"| {name} (batch {batch}) | {v} | {m:.3f} | {m / base:.2f}x | "
                  f"{first[v]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
