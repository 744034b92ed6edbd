"""Exact, vectorised parameter and MAC counts of any architecture of the space.

Both are additive: a searchable layer's size depends only on its own choice (its input and
output channels and spatial size are fixed by the skeleton), and the stem, first block and head
are the same for every architecture. The per-(layer, choice) tables are measured once on the real
``moga_zoo`` builder (12 models, one per choice in every layer), so they follow the builder
rather than a second hand-written formula. The models are built on PyTorch's ``meta`` device:
only shapes are propagated, so measuring takes well under a second.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from moga_zoo.builder import build_moga
from moga_zoo.profile import count_params
from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS, Architecture, block_path, check_codes

__all__ = ["SizeModel", "size_model"]


class SizeModel:
    """``params(codes)`` and ``macs(codes)``: fixed part + sum of per-(layer, choice) tables."""

    def __init__(self, layer_params: np.ndarray, fixed_params: int,
                 layer_macs: np.ndarray, fixed_macs: int, num_classes: int, resolution: int):
        self.layer_params = layer_params  # (14, 12) int64
        self.fixed_params = fixed_params
        self.layer_macs = layer_macs  # (14, 12) int64
        self.fixed_macs = fixed_macs
        self.num_classes = num_classes
        self.resolution = resolution

    @classmethod
    def measure(cls, num_classes: int = 1000, resolution: int = 224) -> "SizeModel":
        """Measure the tables on models built by :func:`moga_zoo.builder.build_moga`."""
        paths = [block_path(i) for i in range(NUM_LAYERS)]
        layer_params = np.zeros((NUM_LAYERS, NUM_CHOICES), dtype=np.int64)
        layer_macs = np.zeros((NUM_LAYERS, NUM_CHOICES), dtype=np.int64)
        fixed_params, fixed_macs = set(), set()
        for code in range(NUM_CHOICES):
            with torch.device("meta"):  # shapes only: no memory, no arithmetic
                model = build_moga(Architecture.decode([code] * NUM_LAYERS),
                                   num_classes=num_classes).eval()
            modules = dict(model.named_modules())
            for i, path in enumerate(paths):
                layer_params[i, code] = count_params(modules[path])
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                model(torch.zeros(1, 3, resolution, resolution, device="meta"))
            flops = counter.get_flop_counts()
            prefix = type(model).__name__
            for i, path in enumerate(paths):
                layer_macs[i, code] = sum(flops.get(f"{prefix}.{path}", {}).values()) // 2
            fixed_params.add(count_params(model) - int(layer_params[:, code].sum()))
            fixed_macs.add(counter.get_total_flops() // 2 - int(layer_macs[:, code].sum()))
        if len(fixed_params) != 1 or len(fixed_macs) != 1:
            raise RuntimeError("the fixed parts of the network depend on the choices: the size "
                               "model's additivity assumption no longer holds for this builder")
        return cls(layer_params, fixed_params.pop(), layer_macs, fixed_macs.pop(),
                   num_classes, resolution)

    def params(self, codes: "np.ndarray | list") -> np.ndarray:
        """Parameter counts, int64 of shape (N,)."""
        c = check_codes(codes)
        return self.fixed_params + self.layer_params[np.arange(NUM_LAYERS), c].sum(axis=1)

    def macs(self, codes: "np.ndarray | list") -> np.ndarray:
        """Multiply-accumulates at ``resolution``, int64 of shape (N,)."""
        c = check_codes(codes)
        return self.fixed_macs + self.layer_macs[np.arange(NUM_LAYERS), c].sum(axis=1)

    def min_macs(self) -> int:
        """The smallest MAC count any architecture of the space has."""
        return int(self.fixed_macs + self.layer_macs.min(axis=1).sum())


@lru_cache(maxsize=4)
def size_model(num_classes: int = 1000, resolution: int = 224) -> SizeModel:
    """The (cached) size model of the ImageNet configuration (1000 classes, 224x224)."""
    return SizeModel.measure(num_classes, resolution)

