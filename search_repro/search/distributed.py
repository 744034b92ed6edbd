"""Candidate evaluation split over processes with ``torch.distributed`` (works under torchrun).

Rank 0 runs the search; whenever it needs accuracies it broadcasts the codes, every rank
scores one contiguous block of the lexicographically sorted codes (so architectures sharing a
prefix stay together, which the supernet evaluator exploits) with its own evaluator, and the
blocks are gathered back into the original order. The other ranks only serve evaluations until rank 0 says stop. The messages go
over the gloo backend (CPU tensors), so this works the same whether the evaluators use CPUs or
GPUs; with one process (no torchrun) it is a plain function call.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist

from moga_zoo.search_space import NUM_LAYERS

__all__ = ["ShardedEvaluation", "sharded_evaluation"]

ArrayFn = Callable[[np.ndarray], np.ndarray]
_STOP = -1


class ShardedEvaluation:
    """Callable ``codes -> values`` on rank 0 whose work is shared by all ranks."""

    def __init__(self, fn: ArrayFn):
        self.fn = fn
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1

    def _blocks(self, codes: np.ndarray) -> tuple[np.ndarray, int]:
        """Row order (sorted codes) and the block length each rank scores."""
        order = np.lexsort(codes.T[::-1]) if len(codes) else np.zeros(0, dtype=np.int64)
        return order, -(-len(codes) // self.world)

    def _exchange(self, codes: np.ndarray) -> np.ndarray:
        order, per_rank = self._blocks(codes)
        mine = order[self.rank * per_rank:(self.rank + 1) * per_rank]
        values = np.zeros(per_rank, dtype=np.float64)
        if len(mine):
            values[:len(mine)] = np.asarray(self.fn(codes[mine]), dtype=np.float64)
        shares = [torch.empty(per_rank, dtype=torch.float64) for _ in range(self.world)]
        dist.all_gather(shares, torch.from_numpy(values))
        out = np.empty(len(codes), dtype=np.float64)
        out[order] = torch.cat(shares).numpy()[:len(codes)]
        return out

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        if self.world == 1:
            return np.asarray(self.fn(codes), dtype=np.float64)
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        dist.broadcast(torch.tensor([len(codes)], dtype=torch.int64), src=0)
        dist.broadcast(torch.from_numpy(codes.copy()), src=0)
        return self._exchange(codes)

    def serve(self) -> None:
        """On ranks > 0: evaluate shares until rank 0 stops."""
        while True:
            header = torch.zeros(1, dtype=torch.int64)
            dist.broadcast(header, src=0)
            n = int(header.item())
            if n == _STOP:
                return
            codes = torch.zeros((n, NUM_LAYERS), dtype=torch.int64)
            dist.broadcast(codes, src=0)
            self._exchange(codes.numpy())

    def stop(self) -> None:
        """On rank 0: release the serving ranks."""
        if self.world > 1:
            dist.broadcast(torch.tensor([_STOP], dtype=torch.int64), src=0)


@contextmanager
def sharded_evaluation(fn: ArrayFn) -> Iterator[ShardedEvaluation]:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1), else run locally.

    Rank 0 gets the evaluation callable; the other ranks serve on entering the context and get
    control back when rank 0 is done (``evaluation.rank > 0``: their caller does nothing more).
    """
    started = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
        started = True
    evaluation = ShardedEvaluation(fn)
    try:
        if evaluation.rank > 0:
            evaluation.serve()
        yield evaluation
    finally:
        if evaluation.rank == 0:
            evaluation.stop()
        if started:
            dist.destroy_process_group()
