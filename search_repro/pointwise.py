"""1x1 convolutions of single-pixel maps as matrix products, on CPU.

timm's squeeze-excitation gates (``conv_reduce``, ``conv_expand``) and MobileNetV3's 1280-channel
head (``conv_head``) apply 1x1 convolutions to pooled ``(N, C, 1, 1)`` maps: matrix products in
a convolution's clothes, which oneDNN runs at 2.0-3.4 times the time of the same product
through ``F.linear`` (``python benchmarks/pointwise.py``). :func:`speed_up_pointwise` switches a
model's 1x1 convolutions to :class:`PixelConv2d`, which computes the same function with the same
parameters and state-dict keys; on single-pixel CPU maps it takes the matrix product (float32
rounding differs in the last bits), elsewhere the convolution.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["PixelConv2d", "speed_up_pointwise"]


class PixelConv2d(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` that runs as ``F.linear`` on single-pixel CPU maps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.shape[-2:] != (1, 1):
            return super().forward(x)
        return F.linear(x.flatten(1), self.weight.flatten(1), self.bias)[:, :, None, None]


def _eligible(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
            and conv.groups == 1 and conv.dilation == (1, 1) and conv.padding in ((0, 0), "valid")
            and conv.padding_mode == "zeros")


def speed_up_pointwise(model: nn.Module) -> int:
    """Switch ``model``'s 1x1 convolutions to :class:`PixelConv2d` in place (parameters,
    state-dict keys and outputs unchanged but for rounding); returns how many were switched."""
    switched = 0
    for module in model.modules():
        if _eligible(module):
            module.__class__ = PixelConv2d
            switched += 1
    return switched
