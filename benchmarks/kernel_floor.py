"""How far is each operation of a training step and of the evaluator from this core's limits?

    python benchmarks/kernel_floor.py                     # about a minute
    python benchmarks/kernel_floor.py --workloads evaluator

Runs each workload in its default path (what the trainers and the search run today) on one
thread, warms it up, then times every aten operation in place (a ``TorchDispatchMode`` that
keeps no tensors, so the allocator behaves as without it) and gives each a floor: the larger of

* its multiply-adds at this core's float32 matrix-product peak (a 2048 x 2048 ``torch.mm``,
  measured in the same run), and
* the time this core takes to copy the bytes it reads and writes (the unique storages of its
  tensors) from one buffer into another of the same size (``Tensor.copy_``, measured in the same
  run at the same size, so in the same level of cache).

An operation at its floor runs at the matrix-product peak or streams its data once at the speed
of a copy. The sum of the floors bounds what faster kernels for the *same operations* could
give; only fusing operations (fewer passes over memory) could go below it. Views cost nothing
and are left out. Workloads: a stand-alone MoGA-A step at the proxy's recipe (batch 128), a
strict-fairness supernet step (12 paths, batch 256) and the evaluator scoring 4 new random
architectures with the bundled supernet (its first layer's 12 outputs already kept).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode  # the one private import
from torch.utils.flop_counter import flop_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

from search_repro.allocator import reuse_freed_memory  # noqa: E402

aten = torch.ops.aten
GROUPS = ("1x1 convolutions and matrix products", "depthwise convolutions", "other convolutions",
          "batch norm", "element-wise, copies and the rest")


def gemm_peak() -> float:
    """Multiply-adds per second of a large float32 matrix product on this thread (best of 5)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    c = a @ b
    best = math.inf
    for _ in range(5):
        tic = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - tic)
    return 2048 ** 3 / best


class CopySpeed:
    """Seconds to copy a buffer, by the bytes read and written (best of 7 at the next power of
    two)."""

    def __init__(self) -> None:
        self._seconds: dict[int, float] = {}

    def __call__(self, touched: int) -> float:
        floats = max(touched // 8, 16)  # half of the bytes read, half written
        size = 1 << math.ceil(math.log2(floats))
        if size not in self._seconds:
            src, dst = torch.ones(size), torch.empty(size)
            best = math.inf
            for _ in range(7):
                tic = time.perf_counter()
                dst.copy_(src)
                best = min(best, time.perf_counter() - tic)
            self._seconds[size] = best
        return self._seconds[size] * floats / size


def _conv_kind(weight: torch.Tensor, groups: int) -> str:
    if groups > 1:
        return GROUPS[1]
    return GROUPS[0] if weight.shape[-2:] == (1, 1) else GROUPS[2]


def classify(func, args, out) -> tuple[str, float]:
    """(group, multiply-adds) of one aten call."""
    packet = func._overloadpacket
    if packet is aten.conv2d:                       # inference: not decomposed
        groups = args[6] if len(args) > 6 else 1
        return _conv_kind(args[1], groups), out.numel() * args[1][0].numel()
    if packet is aten.convolution:
        return _conv_kind(args[1], args[8]), out.numel() * args[1][0].numel()
    if packet is aten.convolution_backward:
        grad_out, weight, mask = args[0], args[2], args[10]
        return (_conv_kind(weight, args[9]),
                grad_out.numel() * weight[0].numel() * (int(mask[0]) + int(mask[1])))
    if packet is aten.linear:
        return GROUPS[0], out.numel() * args[1].shape[1]
    if packet in (aten.mm, aten.addmm, aten.bmm):
        return GROUPS[0], flop_registry[packet](*args, out_val=out) / 2
    if "batch_norm" in str(packet):
        return GROUPS[3], 0.0
    return GROUPS[4], 0.0


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        yield from _tensors(list(value.values()))


def _touched(value) -> int:
    """Bytes of the distinct storages among the tensors in ``value``."""
    seen, total = set(), 0
    for t in _tensors(value):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


class OperationTimer(TorchDispatchMode):
    """Times each aten call in place; records (group, seconds, multiply-adds, bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, float, float, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tic = time.perf_counter()
        out = func(*args, **kwargs)
        seconds = time.perf_counter() - tic
        if not func.is_view:
            group, macs = classify(func, args, out)
            self.calls.append((group, seconds, macs, _touched((args, kwargs, out))))
        return out


# --- workloads: each returns a function that runs one unit of work in the default path --------
def standalone_step():
    import moga_zoo
    from moga_zoo.search_space import MOGA_A
    from search_repro.depthwise import speed_up_depthwise
    from search_repro.pointwise import speed_up_pointwise
    from search_repro.proxy import CANVAS_PROXY

    torch.manual_seed(0)
    model = moga_zoo.create(arch=MOGA_A, num_classes=10, in_chans=1,
                            **CANVAS_PROXY.model_kwargs()).to(memory_format=torch.channels_last)
    speed_up_depthwise(model.train())
    speed_up_pointwise(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=4e-5,
                          nesterov=True)
    x = torch.randn(128, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def supernet_step():
    from search_repro.depthwise import speed_up_depthwise
    from search_repro.pointwise import speed_up_pointwise
    from search_repro.proxy import CANVAS_PROXY
    from search_repro.supernet.fairness import fair_paths, fair_step
    from search_repro.supernet.model import Supernet
    from search_repro.supernet.train import TrainConfig, make_optimizer

    torch.manual_seed(0)
    net = Supernet(num_classes=10, in_chans=1, channel_multiplier=0.25,
                   strides=CANVAS_PROXY.strides).to(memory_format=torch.channels_last).train()
    speed_up_depthwise(net)
    speed_up_pointwise(net)
    opt = make_optimizer(net, TrainConfig(out=""))
    rng = np.random.default_rng(0)
    x = torch.randn(256, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (256,))
    return lambda: fair_step(net, x, y, opt, fair_paths(rng))


def evaluator_scoring():
    from search_repro.supernet.evaluator import load_bundled_evaluator

    ev = load_bundled_evaluator()
    rng = np.random.default_rng(1)
    first = rng.integers(0, 12, (12, 14))
    first[:, 0] = np.arange(12)
    ev.accuracy(first)  # warm-up; keeps the first layer's 12 outputs, as a search does

    def score() -> None:
        ev.accuracy(rng.integers(0, 12, (4, 14)))  # new architectures each time
    return score


WORKLOADS = {"standalone": ("stand-alone MoGA-A step, batch 128", standalone_step, 3),
             "supernet": ("supernet step, 12 paths, batch 256", supernet_step, 1),
             "evaluator": ("evaluator, 4 new architectures", evaluator_scoring, 1)}


def report(title: str, calls: list, plain: float, peak: float, copy: CopySpeed, units: int):
    measured, floor = defaultdict(float), defaultdict(float)
    for group, seconds, macs, touched in calls:
        measured[group] += seconds / units
        floor[group] += max(macs / peak, copy(touched)) / units
    total_m, total_f = sum(measured.values()), sum(floor.values())
    print(f"\n{title}: {plain * 1e3:.0f} ms untimed, {total_m * 1e3:.0f} ms in its operations "
          f"when each is timed\n")
    print("| operations | measured (ms) | floor (ms) | measured / floor |")
    print("|---|---|---|---|")
    for group in GROUPS:
        if measured[group]:
            print(f"| {group} | {measured[group] * 1e3:.1f} | {floor[group] * 1e3:.1f} | "
                  f"{measured[group] / floor[group]:.1f}x |")
    print(f"| **all** | {total_m * 1e3:.1f} | {total_f * 1e3:.1f} | "
          f"**{total_m / total_f:.2f}x** |", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default="standalone,supernet,evaluator",
                   help=f"comma-separated, from {', '.join(WORKLOADS)}")
    a = p.parse_args(argv)
    names = a.workloads.split(",")
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        p.error(f"--workloads: unknown {', '.join(sorted(unknown))}; from {', '.join(WORKLOADS)}")
    torch.set_num_threads(1)
    reuse_freed_memory()  # as the trainers and the evaluator do
    print(machine_line())
    copy = CopySpeed()
    for name in names:
        title, build, units = WORKLOADS[name]
        run = build()
        for _ in range(2):
            run()
        tic = time.perf_counter()
        for _ in range(units):
            run()
        plain = (time.perf_counter() - tic) / units
        timer = OperationTimer()
        with timer:
            for _ in range(units):
                run()
        peak = gemm_peak()
        print(f"\nfloat32 matrix-product peak: {peak / 1e9:.1f} G multiply-adds/s")
        report(title, timer.calls, plain, peak, copy, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
