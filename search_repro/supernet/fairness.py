"""FairNAS strict fairness: every choice of every layer is trained exactly once per step."""
from __future__ import annotations

import contextlib
import functools
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS

from .model import batchnorm_modules

__all__ = ["coupling_at", "fair_paths", "fair_step"]


def fair_paths(rng: np.random.Generator, coupling: float = 0.0) -> np.ndarray:
    """(12, 14) int array: row k is path k; each column is a random permutation of 0..11.

    With ``coupling`` 0 (FairNAS) every layer's permutation is independent. With ``coupling`` p
    a layer reuses the previous layer's permutation with probability p, so paths are partly
    "uniform" networks; each column is still a permutation, so strict fairness holds either way.
    """
    perms = [rng.permutation(NUM_CHOICES)]
    for _ in range(NUM_LAYERS - 1):
        reuse = coupling > 0.0 and rng.random() < coupling
        perms.append(perms[-1] if reuse else rng.permutation(NUM_CHOICES))
    return np.stack(perms, axis=1)


def coupling_at(step: int, warmup_steps: int) -> float:
    """Coupled warm-up (our choice): coupling falls linearly from 1 to 0 over ``warmup_steps``."""
    return max(0.0, 1.0 - step / warmup_steps) if warmup_steps > 0 else 0.0


def fair_step(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    paths: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    clip_grad_norm: float | None = None,
    mixed_precision: bool = False,
    share_stem: bool = True,
) -> float:
    """Run the 12 ``paths`` on the same batch, accumulate their gradients, make one update.

    A choice block is on exactly one path, so its gradient is that path's gradient (as in
    FairNAS). The stem and head are on all 12 paths; their gradient is the mean over the paths
    rather than FairNAS's sum (our choice: the sum makes their step 12x larger, which diverged
    or, clipped, stalled in our short proxy training).

    ``model`` is a :class:`~search_repro.supernet.Supernet` or a DDP wrapper of one (built with
    ``find_unused_parameters=True``); under DDP gradients are synchronised once, on the last path.
    ``mixed_precision`` runs the forward passes under bf16 autocast (the loss in float32).

    The stem (stem convolution and first block: no dropout, so the same output on every path)
    runs once for all paths but the last, which runs it again so that DDP's synchronising pass
    sees the whole graph; its BatchNorm statistics move as they would over 11 runs, and its
    gradient is the same sum to float32 rounding. ``share_stem`` False runs it on every path.
    Returns the mean loss over the paths.
    """
    optimizer.zero_grad(set_to_none=True)
    ddp = isinstance(model, DistributedDataParallel)
    shared = model.module if ddp else model
    autocast = functools.partial(torch.autocast, images.device.type, dtype=torch.bfloat16,
                                 enabled=mixed_precision)
    stem_out = None
    if share_stem and len(paths) > 1:
        with _statistics_of_runs(shared.stem_modules(), len(paths) - 1), autocast():
            stem_out = shared.stem(images)
        stem_in = stem_out.detach().requires_grad_()
    total = 0.0
    for k, path in enumerate(paths):
        last = k == len(paths) - 1
        if last and stem_out is not None:  # the other paths' stem gradient, before DDP syncs
            with model.no_sync() if ddp else contextlib.nullcontext():
                stem_out.backward(stem_in.grad)
        with model.no_sync() if ddp and not last else contextlib.nullcontext():
            with autocast():
                logits = (model(images, path.tolist()) if last or stem_out is None
                          else model(stem_in, path.tolist(), after_stem=True))
            loss = loss_fn(logits.float(), labels)
            loss.backward()
        total += float(loss.detach())
    for p in shared.shared_parameters():  # used by every path: mean, not sum, of 12 gradients
        if p.grad is not None:
            p.grad.div_(len(paths))
    if clip_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()
    return total / len(paths)


@contextlib.contextmanager
def _statistics_of_runs(module: nn.Module, runs: int):
    """Within the context, one train-mode forward pass moves each BatchNorm's running
    statistics (and its batch count) as ``runs`` passes on the same batch would."""
    bns = [m for m in batchnorm_modules(module) if m.training and m.track_running_stats]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        seen = int(bn.num_batches_tracked)  # momentum None: a cumulative average
        bn.momentum = (runs / (seen + runs) if bn.momentum is None
                       else 1.0 - (1.0 - bn.momentum) ** runs)
    try:
        yield
    finally:
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum
            bn.num_batches_tracked.add_(runs - 1)
