"""FairNAS strict fairness: each choice of each layer gets exactly one gradient per step."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from supernet_helpers import TINY, randomise_bn

from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS
from search_repro.supernet import Supernet, fair_paths, fair_step
from search_repro.supernet.fairness import coupling_at


def test_fair_paths_are_independent_permutations_per_layer():
    paths = fair_paths(np.random.default_rng(0))
    assert paths.shape == (NUM_CHOICES, NUM_LAYERS)
    for column in paths.T:
        assert sorted(column) == list(range(NUM_CHOICES))
    assert len({tuple(c) for c in paths.T}) > 1  # not one permutation shared by all layers
    assert not np.array_equal(paths, fair_paths(np.random.default_rng(1)))
    assert np.array_equal(paths, fair_paths(np.random.default_rng(0)))


def test_coupled_warmup_keeps_strict_fairness_and_anneals_to_fairnas():
    # coupling 1: every path is a uniform network (all layers share one permutation)
    uniform = fair_paths(np.random.default_rng(0), coupling=1.0)
    assert all(len(set(row)) == 1 for row in uniform)
    assert sorted(uniform[:, 0]) == list(range(NUM_CHOICES))
    # partial coupling: still a permutation per layer, some layers shared, some not
    partial = [fair_paths(np.random.default_rng(s), coupling=0.5) for s in range(20)]
    for paths in partial:
        for column in paths.T:
            assert sorted(column) == list(range(NUM_CHOICES))
    shared = np.mean([np.array_equal(p[:, i], p[:, i + 1]) for p in partial for i in range(13)])
    assert 0.3 < shared < 0.7
    # coupling 0 is FairNAS: exactly the independent permutations drawn before coupling existed
    assert np.array_equal(fair_paths(np.random.default_rng(3), coupling=0.0),
                          fair_paths(np.random.default_rng(3)))
    assert [coupling_at(s, 100) for s in (0, 50, 100, 400)] == [1.0, 0.5, 0.0, 0.0]
    assert coupling_at(0, 0) == 0.0


@pytest.mark.slow
def test_every_choice_gets_exactly_one_gradient_and_one_update():
    torch.manual_seed(0)
    net = Supernet(**TINY, drop_rate=0.0).train()
    randomise_bn(net)
    reference = copy.deepcopy(net)
    counts = np.zeros((NUM_LAYERS, NUM_CHOICES), dtype=int)
    for i, layer in enumerate(net.layers):
        for c, block in enumerate(layer):
            for p in block.parameters():
                p.register_hook(lambda g, i=i, c=c: counts.__setitem__((i, c), counts[i, c] + 1))
                break  # one parameter per block is enough to count backward passes through it
    stem_count = []
    net.conv_stem.weight.register_hook(lambda g: stem_count.append(1))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    steps = []
    original_step = optimizer.step
    optimizer.step = lambda *a, **k: (steps.append(1), original_step(*a, **k))[1]
    x, y = torch.randn(6, 1, 32, 32), torch.randint(0, 10, (6,))
    paths = fair_paths(np.random.default_rng(3))
    fair_step(net, x, y, optimizer, paths)
    assert (counts == 1).all(), counts
    assert len(stem_count) == 2 and len(steps) == 1  # the stem: once for 11 paths, once for one

    # the accumulated gradient of a choice block is the gradient of its one path; the stem's is
    # the mean over the 12 paths
    k = 5
    reference.zero_grad()
    F.cross_entropy(reference(x, paths[k].tolist()), y).backward()
    block, ref_block = net.layers[4][paths[k][4]], reference.layers[4][paths[k][4]]
    for p, q in zip(block.parameters(), ref_block.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)
    stem_grads = []
    for path in paths:
        reference.zero_grad()
        F.cross_entropy(reference(x, path.tolist()), y).backward()
        stem_grads.append(reference.conv_stem.weight.grad.clone())
    torch.testing.assert_close(net.conv_stem.weight.grad, torch.stack(stem_grads).mean(0),
                               rtol=1e-4, atol=1e-6)


def test_mixed_precision_step_runs_in_bf16_and_follows_the_float32_step():
    torch.manual_seed(0)
    net = Supernet(**TINY, drop_rate=0.0).train()
    twin, start = copy.deepcopy(net), [q.detach().clone() for q in net.parameters()]
    dtypes = []
    net.classifier.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    paths = fair_paths(np.random.default_rng(0))
    losses = [fair_step(model, x, y, torch.optim.SGD(model.parameters(), lr=0.1), paths,
                        mixed_precision=bf16) for model, bf16 in ((net, True), (twin, False))]
    assert set(dtypes) == {torch.bfloat16}  # the forward ran under autocast
    assert np.isfinite(losses[0]) and losses[0] == pytest.approx(losses[1], rel=0.05)
    # the update follows the float32 one up to bf16 rounding (measured cosine ~0.85; the
    # same step on other paths gives ~0)
    update, update32 = (torch.cat([(q.detach() - q0).flatten()
                                   for q, q0 in zip(m.parameters(), start)]) for m in (net, twin))
    assert float(F.cosine_similarity(update, update32, dim=0)) > 0.6
    assert not torch.equal(update, update32)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_the_shared_stem_moves_batchnorm_statistics_as_twelve_runs(momentum):
    torch.manual_seed(0)
    net = Supernet(**TINY, drop_rate=0.0).train()
    randomise_bn(net)
    stem_bns = [m for m in net.stem_modules().modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in stem_bns:
        bn.momentum = momentum
        bn.num_batches_tracked.fill_(3)
    reference = copy.deepcopy(net)
    before = [bn.running_mean.clone() for bn in stem_bns]
    x, y = torch.randn(6, 1, 32, 32), torch.randint(0, 10, (6,))
    paths = fair_paths(np.random.default_rng(3))
    fair_step(net, x, y, torch.optim.SGD(net.parameters(), lr=0.0), paths)
    with torch.no_grad():
        for path in paths:  # the stem as it ran before it was shared: once per path
            reference(x, path.tolist())
    ref_bns = [m for m in reference.stem_modules().modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(stem_bns) >= 2
    for bn, ref, mean0 in zip(stem_bns, ref_bns, before):
        assert bn.momentum == momentum  # restored
        assert (bn.running_mean - mean0).abs().max() > 1e-3  # the statistics did move
        assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked) == 3 + NUM_CHOICES
        torch.testing.assert_close(bn.running_mean, ref.running_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(bn.running_var, ref.running_var, rtol=1e-5, atol=1e-6)
