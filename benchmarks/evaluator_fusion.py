"""Does fusing each convolution with its activation (oneDNN post-ops) speed up the evaluator?

    python benchmarks/evaluator_fusion.py          # well under a minute

Runs BN-folded blocks of the proxy network (as the evaluator runs them) on 250 images, one
thread, with the evaluator's allocator settings (search_repro/allocator.py), as they are (convolution, then the activation) and with each convolution + ReLU or
hard-swish pair replaced by oneDNN's fused convolution (``torch.ops.mkldnn._convolution_pointwise``,
what inductor emits on CPU), alternating; medians of 6 passes after a warm-up. Not used by the
evaluator: the gain is within noise (docs/supernet.md, "Training step on one thread").
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

import moga_zoo  # noqa: E402
from moga_zoo.search_space import Architecture  # noqa: E402
from search_repro.allocator import reuse_freed_memory  # noqa: E402
from search_repro.proxy import CANVAS_PROXY  # noqa: E402
from search_repro.supernet.evaluator import fold_batchnorm  # noqa: E402

ACTIVATIONS = {nn.ReLU: "relu", nn.Hardswish: "hardswish"}


def _conv_act(x: torch.Tensor, conv: nn.Conv2d, after: nn.Sequential) -> torch.Tensor:
    name = ACTIVATIONS.get(type(after[-1]))
    if name is None:
        return after(conv(x))
    return torch.ops.mkldnn._convolution_pointwise(
        x, conv.weight, conv.bias, list(conv.padding), list(conv.stride), list(conv.dilation),
        conv.groups, name, [], "")


def fused(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """timm's InvertedResidual forward with the BN-folded convolutions fused with their act."""
    shortcut = x
    x = _conv_act(x, block.conv_pw, block.bn1)
    x = _conv_act(x, block.conv_dw, block.bn2)
    x = block.bn3(block.conv_pwl(block.se(x)))
    return block.drop_path(x) + shortcut if block.has_skip else x


def main() -> int:
    torch.set_num_threads(1)
    reuse_freed_memory()
    print(machine_line())
    print("\n| block | maps | as they are (ms) | fused (ms) | speed-up | largest difference |")
    print("|---|---|---|---|---|---|")
    for choice in ("e3k3", "e6k5", "e3k7se", "e6k7se"):
        model = moga_zoo.create(arch=Architecture.parse("-".join([choice] * 14)), num_classes=10,
                                in_chans=1, **CANVAS_PROXY.model_kwargs()).eval()
        for (stage, index), size in (((2, 1), 16), ((3, 1), 8), ((5, 1), 4)):
            block = fold_batchnorm(model.blocks[stage][index]).to(memory_format=torch.channels_last)
            x = torch.randn(250, block.conv_pw.in_channels, size, size).contiguous(
                memory_format=torch.channels_last)
            times = {"plain": [], "fused": []}
            with torch.inference_mode():
                diff = float((block(x) - fused(block, x)).abs().max())
                for _ in range(7):
                    for name, fn in (("plain", block), ("fused", lambda t: fused(block, t))):
                        tic = time.perf_counter()
                        fn(x)
                        times[name].append(time.perf_counter() - tic)
            plain, fast = (statistics.median(times[k][1:]) * 1e3 for k in ("plain", "fused"))
            print(f"| {choice} | {size} x {size} | {plain:.1f} | {fast:.1f} | {plain / fast:.2f}x "
                  f"| {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
