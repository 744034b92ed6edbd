"""The depthwise weight gradient as a forward convolution (stride 1) or from the input's phases
(stride 2): the gradients of oneDNN's own path (and of numerical differentiation and a direct
sum), switched only where it applies, and the same training."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import moga_zoo
from moga_zoo.search_space import MOGA_A, Architecture
import numpy as np

from search_repro import depthwise
from search_repro.depthwise import (DepthwiseConv2d, depthwise_input_grad, depthwise_weight_grad,
                                    speed_up_depthwise, strided_depthwise_weight_grad)
from search_repro.pointwise import speed_up_pointwise
from search_repro.proxy import CANVAS_PROXY


def _pair(kernel: int, channels: int = 24, fmt=torch.channels_last, stride: int = 1):
    torch.manual_seed(kernel)
    plain = nn.Conv2d(channels, channels, kernel, stride=stride, padding=kernel // 2,
                      groups=channels, bias=False).to(memory_format=fmt)
    fast = copy.deepcopy(plain)
    assert speed_up_depthwise(fast) == 1 and type(fast) is DepthwiseConv2d
    return plain, fast


@pytest.mark.parametrize("fmt", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("kernel,size,stride", [(5, 4, 1), (7, 4, 1), (7, 9, 1), (5, 16, 1),
                                                (5, 8, 2), (7, 8, 2), (5, 32, 2), (7, 16, 2)])
def test_gradients_equal_onednn(kernel, size, stride, fmt):
    plain, fast = _pair(kernel, fmt=fmt, stride=stride)
    x = torch.randn(8, 24, size, size).contiguous(memory_format=fmt).requires_grad_()
    x_fast = x.detach().clone().requires_grad_()
    out, out_fast = plain(x), fast(x_fast)
    grad = torch.randn_like(out)
    out.backward(grad)
    out_fast.backward(grad)
    assert torch.equal(out, out_fast)
    torch.testing.assert_close(x_fast.grad, x.grad)
    passed_on, = torch.autograd.grad(fast(x_fast), x_fast, grad)  # as a layer before gets it
    assert passed_on.stride() == x.grad.stride()  # the input's memory format, as oneDNN's
    scale = float(plain.weight.grad.abs().max())  # sums of 8 x size^2 float32 products
    assert scale > 1.0  # a wrong sum would be visible
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-6 * scale)


@pytest.mark.parametrize("kernel,stride,size", [(5, 1, 7), (5, 2, 8), (7, 2, 6)])
def test_weight_gradient_against_numerical_differentiation(kernel, stride, size):
    conv = DepthwiseConv2d(6, 6, kernel, stride=stride, padding=kernel // 2, groups=6,
                           bias=False).double()
    x = torch.randn(2, 6, size, size, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))


@pytest.mark.parametrize("kernel", [5, 7])
def test_strided_weight_gradient_is_the_sum_over_taps(kernel):
    """Against the definition: tap (i, j) sums the padded input at (2y + i, 2x + j) times the
    output gradient at (y, x), over images and positions."""
    pad, size = kernel // 2, 10
    x = torch.randn(3, 4, size, size, dtype=torch.float64)
    grad = torch.randn(3, 4, size // 2, size // 2, dtype=torch.float64)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    expected = np.zeros((4, 1, kernel, kernel))
    for i in range(kernel):
        for j in range(kernel):
            window = padded[:, :, i:i + size:2, j:j + size:2]
            expected[:, 0, i, j] = np.einsum("ncyx,ncyx->c", window, grad.numpy())
    got = strided_depthwise_weight_grad(x.contiguous(memory_format=torch.channels_last), grad,
                                        (kernel, kernel), (pad, pad))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding,stride", [((2, 3), (1, 1)), ((0, 1), (1, 1)),
                                            ((4, 6), (1, 1)), ((2, 3), (2, 2))])
def test_asymmetric_kernel_and_padding(padding, stride):
    """Both gradients for a 5x7 filter, with less, the same and the most padding it has taps."""
    x = torch.randn(3, 4, 6, 8, requires_grad=True)
    weight = torch.randn(4, 1, 5, 7, requires_grad=True)
    out = F.conv2d(x, weight, stride=stride, padding=padding, groups=4)
    grad = torch.randn_like(out)
    out.backward(grad)
    torch.testing.assert_close(depthwise_input_grad(x.detach(), weight.detach(), grad, stride,
                                                    padding), x.grad, rtol=1e-5, atol=1e-5)
    if stride == (1, 1):
        torch.testing.assert_close(depthwise_weight_grad(x.detach(), grad, padding), weight.grad,
                                   rtol=1e-5, atol=1e-5)


def test_only_large_depthwise_convolutions_are_switched():
    arch = Architecture.parse("-".join(["e3k3", "e6k5", "e3k7se", "e6k3se"] * 3 + ["e3k5", "e6k7"]))
    model = moga_zoo.create(arch=arch, num_classes=10, in_chans=1, **CANVAS_PROXY.model_kwargs())
    keys = list(model.state_dict())
    blocks = list(zip(str(arch).split("-"), CANVAS_PROXY.strides))
    expected = sum(1 for block, _ in blocks if block[3] in "57")
    assert any(s == 2 and b[3] in "57" for b, s in blocks)  # both strides are covered
    assert speed_up_depthwise(model) == expected > 0
    assert list(model.state_dict()) == keys
    for name, module in model.named_modules():
        if isinstance(module, DepthwiseConv2d):
            assert module.kernel_size[0] >= 5 and "conv_dw" in name
        elif isinstance(module, nn.Conv2d) and module.groups > 1:
            assert module.kernel_size[0] == 3
    dilated = nn.Conv2d(8, 8, 5, stride=2, padding=4, dilation=2, groups=8, bias=False)
    assert speed_up_depthwise(dilated) == 0


def test_evaluation_and_large_planes_take_the_plain_path(monkeypatch):
    plain, fast = _pair(7)
    calls = []
    monkeypatch.setattr(depthwise, "depthwise_input_grad",
                        lambda *a: calls.append(1) or depthwise_input_grad(*a))
    with torch.no_grad():
        assert torch.equal(fast(torch.ones(2, 24, 8, 8)), plain(torch.ones(2, 24, 8, 8)))
    x = torch.randn(2, 24, 32, 32, requires_grad=True)
    fast(x).sum().backward()
    assert not calls and x.grad.abs().sum() > 0  # 32 x 32: oneDNN's own backward
    x = torch.randn(2, 24, 16, 16, requires_grad=True)
    fast(x).sum().backward()
    assert calls  # 16 x 16: the forward formulation
    plain, fast = _pair(5, stride=2)
    calls.clear()
    x = torch.randn(2, 24, 9, 9, requires_grad=True)
    fast(x).sum().backward()
    assert not calls and x.grad.abs().sum() > 0  # odd planes have no even/odd phases
    x = torch.randn(2, 24, 32, 32, requires_grad=True)
    fast(x).sum().backward()
    assert calls  # stride 2 on even planes of any size: the phases


@pytest.mark.parametrize("switch,switched", [(speed_up_depthwise, 7), (speed_up_pointwise, 43)])
def test_a_network_trains_the_same(switch, switched):
    """Either switch (this module's, or search_repro/pointwise.py's) trains MoGA-A the same."""
    torch.manual_seed(0)
    plain = moga_zoo.create(arch=MOGA_A, num_classes=10, in_chans=1, drop_rate=0.0,
                            **CANVAS_PROXY.model_kwargs()).to(memory_format=torch.channels_last)
    fast = copy.deepcopy(plain)
    assert switch(fast) == switched
    x = torch.randn(32, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,))
    losses = {}
    for name, model in (("plain", plain), ("fast", fast)):
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
        losses[name] = []
        for step in range(3):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            if step == 0:
                grads = [p.grad.clone() for p in model.parameters()]
                if name == "plain":
                    first = grads
                else:  # every parameter's gradient, the switched layers' included; those
                    # that are zero but for rounding (a BN bias before another BN) to 1e-6 of
                    # the network's largest
                    largest = max(float(g0.abs().max()) for g0 in first)
                    for g, g0 in zip(grads, first):
                        atol = max(1e-5 * float(g0.abs().max()), 1e-6 * largest)
                        torch.testing.assert_close(g, g0, rtol=1e-4, atol=atol)
            opt.step()
            losses[name].append(float(loss.detach()))
    assert losses["plain"][-1] < losses["plain"][0] - 0.05  # it learns
    assert losses["fast"] == pytest.approx(losses["plain"], rel=1e-3)
