"""Faster gradients for the large depthwise convolutions of CPU training.

oneDNN computes the weight gradient of a 3x3 depthwise convolution with a depthwise kernel, but
of a 5x5 or 7x7 one with its generic grouped convolution, several times slower per
multiply-add (``python benchmarks/training_step.py --onednn`` names both). For stride 1 the same
gradient is one depthwise *forward* convolution, for which oneDNN has a kernel of any size: the
gradient of channel ``c``'s filter is the correlation of that channel's input with its output
gradient, summed over the batch, so the ``N*C`` input planes convolved (one group each) with the
``N*C`` gradient planes give ``N*C`` filters of ``k x k`` to sum over ``N``.

:func:`speed_up_depthwise` switches a model's eligible convolutions (depthwise, stride 1 or 2,
no dilation or bias, kernel of 5 or more) to :class:`DepthwiseConv2d`, which computes exactly
the same function and parameters; only the order of the gradient's sums differs. For stride 1 it
takes this path for input planes of at most 16 x 16 (the proxy's 64 px networks), where it was
measured faster; larger planes, evaluation and other devices take the plain one.

For stride 2 (the 5x5 and 7x7 layers that halve the maps) oneDNN's generic kernel is as slow,
and the forward formulation does not apply. There the input splits into its four even/odd
phases, and each filter tap is a stride-1 correlation of one phase with the output gradient
(shifted by a row or column for the outer taps of 7x7 filters): 3x3 weight gradients with
padding 1, which oneDNN's depthwise kernel computes, on planes of any size.

The input gradient (:func:`depthwise_input_grad`) is, for stride 1, the forward depthwise
convolution of the output gradient with the flipped filters, which oneDNN runs faster than its
own backward on the proxy's planes; for stride 2 it is oneDNN's own backward, given the saved
input (with only its shape, as ``torch.nn.grad.conv2d_input`` gives it, oneDNN was slower).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["DepthwiseConv2d", "depthwise_input_grad", "depthwise_weight_grad",
           "strided_depthwise_weight_grad", "speed_up_depthwise"]

#: Smallest kernel switched: oneDNN's own depthwise weight gradient covers 3x3.
MIN_KERNEL = 5
#: Largest input plane (height x width) that takes the forward formulation: on 32 x 32 planes
#: it was slower than oneDNN's own gradient for 5x5 filters (``benchmarks/training_step.py
#: --onednn``).
MAX_PLANE = 16 * 16


def depthwise_input_grad(x: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor,
                         stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """The gradient, shaped and laid out like ``x`` ``(N, C, H, W)``, of a depthwise convolution
    of ``x`` with ``weight`` ``(C, 1, kh, kw)``, zero ``padding`` and ``stride``, from the
    gradient of its output."""
    kernel = weight.shape[2:]
    if stride == (1, 1) and all(p < k for p, k in zip(padding, kernel)):
        return F.conv2d(grad, weight.flip(-2, -1), groups=weight.shape[0],
                        padding=tuple(k - 1 - p for p, k in zip(padding, kernel)))
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, stride, padding, (1, 1), False, (0, 0), weight.shape[0],
        (True, False, False))[0]


def depthwise_weight_grad(x: torch.Tensor, grad: torch.Tensor, padding: tuple[int, int]
                          ) -> torch.Tensor:
    """The weight gradient ``(C, 1, kh, kw)`` of a stride-1 depthwise convolution of ``x``
    ``(N, C, H, W)`` with zero ``padding``, from the gradient of its output ``(N, C, Ho, Wo)``."""
    n, c, h, w = x.shape
    planes = x.reshape(1, n * c, h, w)
    filters = grad.reshape(n * c, 1, *grad.shape[2:])
    sums = F.conv2d(planes, filters, padding=padding, groups=n * c)  # (1, N*C, kh, kw)
    return sums.view(n, c, *sums.shape[2:]).sum(0).unsqueeze(1)


def _shifted(grad: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """``grad[..., y + rows, x + cols]``, zero where that falls outside."""
    if rows == cols == 0:
        return grad
    out = torch.zeros_like(grad)
    h, w = grad.shape[-2:]
    out[..., max(0, -rows):h - max(0, rows), max(0, -cols):w - max(0, cols)] = \
        grad[..., max(0, rows):h - max(0, -rows), max(0, cols):w - max(0, -cols)]
    return out


def _taps(kernel: int, padding: int) -> list[tuple[int, int, int, int]]:
    """For each filter row (or column) i of a stride-2 convolution: (i, phase, index in a 3x3
    window, shift). Tap i reads ``phase[y + t]``; the 3x3 weight gradient (padding 1) of the
    phase against the output gradient shifted by ``shift`` holds offset t at index t + shift + 1,
    and the shift keeps that index in 0..2 (only the outer taps of 7x7 filters need one)."""
    taps = []
    for i in range(kernel):
        phase = (i - padding) % 2
        t = (i - padding - phase) // 2
        shift = max(0, -1 - t) + min(0, 1 - t)
        taps.append((i, phase, t + shift + 1, shift))
    return taps


def strided_depthwise_weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel: tuple[int, int],
                                  padding: tuple[int, int]) -> torch.Tensor:
    """The weight gradient ``(C, 1, kh, kw)`` of a stride-2 depthwise convolution of ``x``
    ``(N, C, H, W)``, H and W even, from the gradient of its output ``(N, C, H/2, W/2)``."""
    n, c, h, w = x.shape
    # the four phases x[..., r::2, s::2] in one copy, each a channels_last (N, C, H/2, W/2)
    nhwc = x.permute(0, 2, 3, 1).reshape(n, h // 2, 2, w // 2, 2, c)
    phases = nhwc.permute(2, 4, 0, 1, 3, 5).contiguous()
    grad = grad.contiguous(memory_format=torch.channels_last)
    rows, cols = _taps(kernel[0], padding[0]), _taps(kernel[1], padding[1])
    out = x.new_empty(c, 1, *kernel)
    windows: dict[tuple[int, int, int, int], torch.Tensor] = {}
    for i, r, a, m in rows:
        for j, s, b, q in cols:
            key = (r, s, m, q)
            if key not in windows:  # 3x3 weight gradient, padding 1: window[a, b] = taps
                windows[key] = torch.nn.grad.conv2d_weight(
                    phases[r, s].permute(0, 3, 1, 2), (c, 1, 3, 3), _shifted(grad, m, q),
                    padding=1, groups=c)
            out[:, :, i, j] = windows[key][:, :, a, b]
    return out


class _DepthwiseConvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int],
                padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding = stride, padding
        return F.conv2d(x, weight, stride=stride, padding=padding, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = depthwise_input_grad(x, weight, grad, ctx.stride, ctx.padding)
        if ctx.needs_input_grad[1]:
            grad_weight = (depthwise_weight_grad(x, grad, ctx.padding) if ctx.stride == (1, 1)
                           else strided_depthwise_weight_grad(x, grad, weight.shape[2:],
                                                              ctx.padding))
        return grad_x, grad_weight, None, None


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` that trains on CPU through :func:`depthwise_input_grad` and
    :func:`depthwise_weight_grad` (stride 1) or :func:`strided_depthwise_weight_grad`
    (stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._faster_on(x):
            return super().forward(x)
        return _DepthwiseConvolution.apply(x, self.weight, self.stride, self.padding)

    def _faster_on(self, x: torch.Tensor) -> bool:
        if x.device.type != "cpu" or not torch.is_grad_enabled() or \
                not (x.requires_grad or self.weight.requires_grad):
            return False
        if self.stride == (1, 1):
            return x.shape[-2] * x.shape[-1] <= MAX_PLANE
        return x.shape[-2] % 2 == 0 and x.shape[-1] % 2 == 0  # even planes split into phases


def _eligible(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and conv.groups == conv.in_channels == conv.out_channels
            and conv.dilation == (1, 1) and conv.bias is None
            and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and min(conv.kernel_size) >= MIN_KERNEL
            and (conv.stride == (1, 1) or conv.stride == (2, 2) and all(
                k % 2 and p == k // 2 for k, p in zip(conv.kernel_size, conv.padding))))


def speed_up_depthwise(model: nn.Module) -> int:
    """Switch ``model``'s eligible convolutions to :class:`DepthwiseConv2d` in place (their
    parameters, state-dict keys and outputs unchanged); returns how many were switched."""
    switched = 0
    for module in model.modules():
        if _eligible(module):
            module.__class__ = DepthwiseConv2d
            switched += 1
    return switched
