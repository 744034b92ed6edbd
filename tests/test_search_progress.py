"""The search's bar moves once per scored architecture, not once per generation."""
from __future__ import annotations

import numpy as np
import torch
from supernet_helpers import tiny_supernet

from search_repro.progress import advance, listening
from search_repro.search.runner import _scored
from search_repro.supernet import EvaluatorSettings, SupernetEvaluator


class _Bar:
    def __init__(self) -> None:
        self.steps: list[int] = []

    def update(self, n: int) -> None:
        self.steps.append(n)


def test_advance_reaches_only_the_listener_in_its_block():
    heard: list[int] = []
    advance(3)  # nobody listens: nothing happens
    with listening(heard.append) as count:
        advance(2)
        advance(0)
        advance(1)
        assert count() == 3
    advance(5)
    assert heard == [2, 1]


def test_scored_moves_per_reported_architecture_and_makes_up_the_rest():
    bar = _Bar()
    assert _scored(bar, lambda: [advance(1) for _ in range(4)] and "done", 4) == "done"
    assert bar.steps == [1, 1, 1, 1]
    silent = _Bar()
    _scored(silent, lambda: None, 5)  # a scorer that reports nothing: one step at the end
    assert silent.steps == [5]


def test_the_evaluator_reports_each_architecture_as_it_is_scored():
    g = torch.Generator().manual_seed(1)
    evaluator = SupernetEvaluator(
        tiny_supernet(), torch.randn(32, 1, 32, 32, generator=g), torch.randn(20, 1, 32, 32,
                                                                               generator=g),
        torch.randint(0, 10, (20,), generator=g),
        EvaluatorSettings(val_size=20, calib_batches=2, calib_batch_size=16, eval_batch_size=10))
    codes = np.random.default_rng(0).integers(0, 12, (5, 14))
    codes[1, :13] = codes[0, :13]  # a shared prefix: one group at the last layer
    codes[1, 13] = (codes[0, 13] + 1) % 12
    heard: list[int] = []
    with listening(heard.append):
        evaluator.accuracy(np.concatenate([codes, codes[:2]]))  # repeats are not re-scored
        evaluator.accuracy(codes[:3])                           # cached: nothing to report
    assert sum(heard) == 5 and len(heard) == 5
