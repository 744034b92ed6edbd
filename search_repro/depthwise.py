"""A faster weight gradient for the large depthwise convolutions of CPU training.

oneDNN computes the weight gradient of a 3x3 depthwise convolution with a depthwise kernel, but
of a 5x5 or 7x7 one with its generic grouped convolution, several times slower per
multiply-add (``python benchmarks/training_step.py --onednn`` names both). For stride 1 the same
gradient is one depthwise *forward* convolution, for which oneDNN has a kernel of any size: the
gradient of channel ``c``'s filter is the correlation of that channel's input with its output
gradient, summed over the batch, so the ``N*C`` input planes convolved (one group each) with the
``N*C`` gradient planes give ``N*C`` filters of ``k x k`` to sum over ``N``.

:func:`speed_up_depthwise` switches a model's eligible convolutions (depthwise, stride 1, no
dilation or bias, kernel of 5 or more) to :class:`DepthwiseConv2d`, which computes exactly the
same function and parameters; only the order of the gradient's sums differs. It takes this path
for input planes of at most 16 x 16 (the proxy's 64 px networks), where it was measured faster;
larger planes, evaluation and other devices take the plain one.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["DepthwiseConv2d", "depthwise_weight_grad", "speed_up_depthwise"]

#: Smallest kernel switched: oneDNN's own depthwise weight gradient covers 3x3.
MIN_KERNEL = 5
#: Largest input plane (height x width) that takes the forward formulation: on 32 x 32 planes
#: it was slower than oneDNN's own gradient for 5x5 filters (``benchmarks/training_step.py
#: --onednn``).
MAX_PLANE = 16 * 16


def depthwise_weight_grad(x: torch.Tensor, grad: torch.Tensor, padding: tuple[int, int]
                          ) -> torch.Tensor:
    """The weight gradient ``(C, 1, kh, kw)`` of a stride-1 depthwise convolution of ``x``
    ``(N, C, H, W)`` with zero ``padding``, from the gradient of its output ``(N, C, Ho, Wo)``."""
    n, c, h, w = x.shape
    planes = x.reshape(1, n * c, h, w)
    filters = grad.reshape(n * c, 1, *grad.shape[2:])
    sums = F.conv2d(planes, filters, padding=padding, groups=n * c)  # (1, N*C, kh, kw)
    return sums.view(n, c, *sums.shape[2:]).sum(0).unsqueeze(1)


class _DepthwiseConvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int]
                ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv2d(x, weight, padding=padding, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.nn.grad.conv2d_input(x.shape, weight, grad, padding=ctx.padding,
                                                groups=weight.shape[0])
        if ctx.needs_input_grad[1]:
            grad_weight = depthwise_weight_grad(x, grad, ctx.padding)
        return grad_x, grad_weight, None


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` that trains on CPU through :func:`depthwise_weight_grad`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.shape[-2] * x.shape[-1] > MAX_PLANE or \
                not torch.is_grad_enabled() or not (x.requires_grad or self.weight.requires_grad):
            return super().forward(x)
        return _DepthwiseConvolution.apply(x, self.weight, self.padding)


def _eligible(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and conv.groups == conv.in_channels == conv.out_channels
            and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.bias is None
            and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and min(conv.kernel_size) >= MIN_KERNEL)


def speed_up_depthwise(model: nn.Module) -> int:
    """Switch ``model``'s eligible convolutions to :class:`DepthwiseConv2d` in place (their
    parameters, state-dict keys and outputs unchanged); returns how many were switched."""
    switched = 0
    for module in model.modules():
        if _eligible(module):
            module.__class__ = DepthwiseConv2d
            switched += 1
    return switched
