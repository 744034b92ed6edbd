"""The weight-sharing supernet: every searchable layer holds all 12 choice blocks.

The choice blocks are the blocks of ``moga_zoo`` models (timm ``MobileNetV3`` built from the
space's block strings), so a single path computes exactly what the stand-alone model of that
architecture computes, and :meth:`Supernet.export_subnet` hands its weights over unchanged.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm  # torch's one base of every BatchNorm

import moga_zoo
from moga_zoo.search_space import (BLOCK_POSITIONS, CHOICES, NUM_LAYERS, STAGE_SIZES, Architecture,
                                   check_strides)

__all__ = ["Supernet", "as_codes", "batchnorm_modules"]


def as_codes(arch: "Architecture | Sequence[int]") -> tuple[int, ...]:
    """Integer codes of an architecture (or validated codes)."""
    if isinstance(arch, Architecture):
        return arch.encode()
    return Architecture.decode(arch).encode()


def batchnorm_modules(module: nn.Module) -> list[_BatchNorm]:
    """The BatchNorm layers in ``module`` (timm's ``BatchNormAct2d`` included)."""
    return [m for m in module.modules() if isinstance(m, _BatchNorm)]


class Supernet(nn.Module):
    """One-shot MoGA supernet (stem, fixed first block, 14 x 12 choice blocks, head).

    ``strides`` is the searchable layers' stride schedule (None: the MoGA networks' own); it is
    part of :attr:`config`, so exported subnets run under the same schedule.
    """

    def __init__(self, num_classes: int = 1000, in_chans: int = 3,
                 channel_multiplier: float = 1.0, drop_rate: float = 0.2,
                 strides: "Sequence[int] | None" = None) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(num_classes=num_classes, in_chans=in_chans,
                                           channel_multiplier=channel_multiplier,
                                           drop_rate=drop_rate,
                                           strides=list(check_strides(strides)))
        # One stand-alone model per choice, every layer set to that choice: layer i of model c is
        # exactly the block that choice c of layer i is in any architecture.
        donors = [moga_zoo.create(arch=Architecture((c,) * NUM_LAYERS), **self.config)
                  for c in CHOICES]
        base = donors[0]
        self.conv_stem, self.bn1 = base.conv_stem, base.bn1
        self.first_block = base.blocks[0][0]
        self.layers = nn.ModuleList(
            nn.ModuleList(d.blocks[s][j] for d in donors) for s, j in BLOCK_POSITIONS)
        self.last_block = base.blocks[-1][0]
        self.global_pool, self.conv_head, self.act2 = base.global_pool, base.conv_head, base.act2
        self.flatten, self.classifier = base.flatten, base.classifier
        self.drop_rate = drop_rate

    # --- pieces (the evaluator runs them separately to share work between paths) -------------
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Path-independent part: stem conv + BN + act and the fixed first block."""
        return self.first_block(self.bn1(self.conv_stem(x)))

    def stem_modules(self) -> nn.ModuleList:
        """The modules :meth:`stem` runs."""
        return nn.ModuleList([self.conv_stem, self.bn1, self.first_block])

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters every path uses (stem, first block, head)."""
        return [p for name, p in self.named_parameters() if not name.startswith("layers.")]

    def head(self, x: torch.Tensor, last_block: "nn.Module | None" = None) -> torch.Tensor:
        """The 960 conv block (``last_block``: a stand-in for it, such as a copy with its
        BatchNorm folded), pooling, 1280 conv, dropout and classifier."""
        x = (self.last_block if last_block is None else last_block)(x)
        x = self.flatten(self.act2(self.conv_head(self.global_pool(x))))
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return self.classifier(x)

    def forward(self, x: torch.Tensor, codes: Sequence[int], after_stem: bool = False
                ) -> torch.Tensor:
        """Logits of the single path ``codes`` (one integer code per searchable layer);
        ``after_stem``: ``x`` is already :meth:`stem`'s output."""
        if len(codes) != NUM_LAYERS:
            raise ValueError(f"a path has {NUM_LAYERS} codes, got {len(codes)}")
        if not after_stem:
            x = self.stem(x)
        for layer, code in zip(self.layers, codes):
            x = layer[code](x)
        return self.head(x)

    # --- export ------------------------------------------------------------------------------
    def subnet_state_dict(self, arch: "Architecture | Sequence[int]") -> dict[str, torch.Tensor]:
        """The path's weights under the key names of the stand-alone ``moga_zoo`` model."""
        codes = as_codes(arch)
        prefixes = {"first_block.": "blocks.0.0.",
                    "last_block.": f"blocks.{len(STAGE_SIZES) + 1}.0."}
        for i, (s, j) in enumerate(BLOCK_POSITIONS):
            prefixes[f"layers.{i}.{codes[i]}."] = f"blocks.{s}.{j}."
        out = {}
        for key, value in self.state_dict().items():
            match = next((p for p in prefixes if key.startswith(p)), None)
            if match is None and key.startswith("layers."):
                continue  # another choice of this layer
            if match is not None:
                key = prefixes[match] + key[len(match):]
            out[key] = value.detach().clone()
        return out

    def export_subnet(self, arch: "Architecture | Sequence[int]") -> nn.Module:
        """A stand-alone ``moga_zoo`` model of ``arch`` carrying this supernet's weights."""
        architecture = Architecture.decode(as_codes(arch))
        model = moga_zoo.create(arch=architecture, **self.config)
        model.load_state_dict(self.subnet_state_dict(architecture), strict=True)
        return model.train(self.training)
