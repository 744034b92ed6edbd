"""The supernet is made of the zoo's own blocks, and a path exports to an identical model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from supernet_helpers import TINY, tiny_supernet

import moga_zoo
from moga_zoo.search_space import CHOICES, MOGA_A, MOGA_B, MOGA_C, NUM_LAYERS, Architecture
from search_repro.supernet import Supernet


@pytest.fixture(scope="module")
def net() -> Supernet:
    return tiny_supernet()


def test_every_layer_holds_the_twelve_choice_blocks(net):
    assert len(net.layers) == NUM_LAYERS
    for layer in net.layers:
        assert len(layer) == len(CHOICES)
        for block, choice in zip(layer, CHOICES):
            assert type(block).__name__ == "InvertedResidual"
            assert block.conv_dw.kernel_size == (choice.kernel, choice.kernel)
            assert isinstance(block.se, torch.nn.Identity) != choice.se


@pytest.mark.parametrize("arch", [MOGA_A, MOGA_B, MOGA_C, Architecture.decode([7] * 14)],
                         ids=["moga_a", "moga_b", "moga_c", "uniform7"])
def test_export_gives_identical_outputs_in_eval_mode(net, arch):
    codes = arch.encode()
    net.train()
    with torch.no_grad():  # input-sensitive BN statistics for this path
        for seed in range(3):
            net(torch.randn(16, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2,
                codes)
    net.eval()
    model = net.export_subnet(arch)
    assert type(model) is type(moga_zoo.create(arch=arch, **TINY))
    assert not model.training
    x = torch.randn(8, 1, 32, 32)
    with torch.no_grad():
        expected, got = net(x, codes), model(x)
    assert expected.std(0).mean() > 1e-4  # the outputs depend on the input (not ~1e-8)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_subnet_state_dict_covers_the_standalone_model_exactly(net):
    keys = set(net.subnet_state_dict(MOGA_B))
    assert keys == set(moga_zoo.create(arch=MOGA_B, **TINY).state_dict())


def test_export_carries_the_weights_of_the_chosen_blocks_only(net):
    codes = MOGA_C.encode()
    model = net.export_subnet(MOGA_C)
    # layer 7 (stage 3, index 1) of MoGA-C is e6k5se
    assert torch.equal(model.blocks[3][1].conv_dw.weight, net.layers[6][codes[6]].conv_dw.weight)
    other = (codes[6] + 1) % len(CHOICES)
    if net.layers[6][other].conv_dw.weight.shape == model.blocks[3][1].conv_dw.weight.shape:
        assert not torch.equal(model.blocks[3][1].conv_dw.weight,
                               net.layers[6][other].conv_dw.weight)


def test_wrong_path_length_is_a_clear_error(net):
    with pytest.raises(ValueError, match="14 codes"):
        net(torch.zeros(1, 1, 32, 32), [0] * 13)
    with pytest.raises(ValueError, match="out of range"):
        net.export_subnet(np.full(14, 12).tolist())
