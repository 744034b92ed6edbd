"""1x1 convolutions of pooled maps as matrix products: the convolution's values and gradients,
switched only where it applies, and a switched supernet still folds the same (that it trains
the same: tests/test_depthwise.py)."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_helpers import tiny_supernet

import moga_zoo
from moga_zoo.search_space import MOGA_A
from search_repro.depthwise import DepthwiseConv2d, speed_up_depthwise
from search_repro.pointwise import PixelConv2d, speed_up_pointwise
from search_repro.proxy import CANVAS_PROXY
from search_repro.supernet.evaluator import fold_batchnorm


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fmt", [torch.channels_last, torch.contiguous_format])
def test_values_and_gradients_equal_the_convolution(bias, fmt):
    torch.manual_seed(0)
    plain = nn.Conv2d(240, 1280, 1, bias=bias)
    fast = copy.deepcopy(plain)
    assert speed_up_pointwise(fast) == 1 and type(fast) is PixelConv2d
    x = torch.randn(16, 240, 1, 1).contiguous(memory_format=fmt).requires_grad_()
    x_fast = x.detach().clone().requires_grad_()
    out, out_fast = plain(x), fast(x_fast)
    assert out_fast.shape == out.shape == (16, 1280, 1, 1)
    assert out.abs().max() > 1.0
    torch.testing.assert_close(out_fast, out, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    out_fast.backward(grad)
    torch.testing.assert_close(x_fast.grad, x.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(fast.bias.grad, plain.bias.grad)


def test_larger_maps_take_the_convolution(monkeypatch):
    conv = PixelConv2d(8, 4, 1)
    monkeypatch.setattr(F, "linear", lambda *a: pytest.fail("F.linear on a 3x3 map"))
    x = torch.randn(2, 8, 3, 3)
    assert torch.equal(conv(x), F.conv2d(x, conv.weight, conv.bias))


def test_only_1x1_convolutions_are_switched_and_keys_stay():
    model = moga_zoo.create(arch=MOGA_A, num_classes=10, in_chans=1, **CANVAS_PROXY.model_kwargs())
    keys = list(model.state_dict())
    ones = [m for m in model.modules() if type(m) is nn.Conv2d and m.kernel_size == (1, 1)]
    assert speed_up_pointwise(model) == len(ones) > 0
    assert list(model.state_dict()) == keys
    assert type(model.conv_head) is PixelConv2d
    gates = [m for m in model.modules() if hasattr(m, "conv_reduce")]
    assert gates and all(type(m.conv_reduce) is PixelConv2d for m in gates)
    for m in model.modules():
        if type(m) is nn.Conv2d:
            assert m.kernel_size != (1, 1) or m.groups > 1


def test_switched_blocks_still_fold_every_batchnorm():
    """A supernet as the trainer leaves it (both speed-ups on) folds like a plain one."""
    net = tiny_supernet(3).eval()
    g = torch.Generator().manual_seed(3)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.3)
    assert speed_up_depthwise(net) > 0 and speed_up_pointwise(net) > 0
    x = torch.randn(6, 8, 16, 16, generator=g)
    for block in (net.layers[1][11], net.layers[1][10]):  # e6k7se, e6k7
        kinds = {type(m) for m in block.modules()}
        assert {DepthwiseConv2d, PixelConv2d} <= kinds
        folded = fold_batchnorm(block)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        with torch.no_grad():
            torch.testing.assert_close(folded(x), block(x), rtol=1e-5, atol=1e-5)
