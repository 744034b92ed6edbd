"""FairNAS strict fairness: every choice of every layer is trained exactly once per step."""
from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS

__all__ = ["fair_paths", "fair_step"]


def fair_paths(rng: np.random.Generator) -> np.ndarray:
    """(12, 14) int array: row k is path k; each column is an independent permutation of 0..11."""
    return np.stack([rng.permutation(NUM_CHOICES) for _ in range(NUM_LAYERS)], axis=1)


def fair_step(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    paths: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    clip_grad_norm: float | None = None,
) -> float:
    """Run the 12 ``paths`` on the same batch, accumulate their gradients, make one update.

    A choice block is on exactly one path, so its gradient is that path's gradient (as in
    FairNAS). The stem and head are on all 12 paths; their gradient is the mean over the paths
    rather than FairNAS's sum (our choice: the sum makes their step 12x larger, which diverged
    or, clipped, stalled in our short proxy training).

    ``model`` is a :class:`~search_repro.supernet.Supernet` or a DDP wrapper of one (built with
    ``find_unused_parameters=True``); under DDP gradients are synchronised once, on the last path.
    Returns the mean loss over the paths.
    """
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for k, path in enumerate(paths):
        last = k == len(paths) - 1
        sync = isinstance(model, DistributedDataParallel) and not last
        with model.no_sync() if sync else contextlib.nullcontext():
            loss = loss_fn(model(images, path.tolist()), labels)
            loss.backward()
        total += float(loss.detach())
    shared = model.module if isinstance(model, DistributedDataParallel) else model
    for p in shared.shared_parameters():  # used by every path: mean, not sum, of 12 gradients
        if p.grad is not None:
            p.grad.div_(len(paths))
    if clip_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()
    return total / len(paths)

