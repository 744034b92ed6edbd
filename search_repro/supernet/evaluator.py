"""Score architectures with the supernet's shared weights on the search-validation split.

For each path the BatchNorm statistics are recalibrated on a fixed set of training images (reset,
then a cumulative average over ``calib_batches`` train-mode batches), then the path is evaluated
in eval mode. The statistics of layer i depend only on the choices of layers 1..i, so a batch of
architectures is scored as a prefix tree: each distinct prefix is calibrated and evaluated once,
and its activations are handed to all architectures that share it. The first searchable layer
has only 12 choices and is the most expensive (it runs on the largest maps), so its outputs are
kept from call to call when all 12 fit in ``first_layer_cache_bytes``. Results are cached by
architecture, so a repeated request costs nothing.

Evaluation runs each calibrated block with its BatchNorms folded into the preceding convolutions
(:func:`fold_batchnorm`: the same function, one pass fewer over the maps) on chunks of
``eval_batch_size`` images small enough to stay in the CPU's caches; a block's outputs stay in
those chunks for the next block (no copy into one tensor), and the 1x1 convolutions of pooled
maps (squeeze-excitation, head) run as matrix products (:mod:`search_repro.pointwise`).
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn

from moga_zoo.errors import MissingFileError, UsageError
from moga_zoo.search_space import (NUM_CHOICES, NUM_LAYERS, Architecture, check_codes,
                                   space_hash)

from search_repro.allocator import reuse_freed_memory
from search_repro.pointwise import speed_up_pointwise
from search_repro.progress import advance

from .checkpoint import load_supernet
from .model import Supernet, batchnorm_modules

__all__ = ["EvaluatorSettings", "SupernetEvaluator", "load_bundled_evaluator", "load_evaluator",
           "load_checkpoint_data", "fold_batchnorm", "BUNDLED_CHECKPOINT"]

BUNDLED_CHECKPOINT = os.path.join(os.path.dirname(__file__), "artifacts",
                                  "supernet_fmnist.safetensors")


@dataclass(frozen=True)
class EvaluatorSettings:
    """How an architecture is scored (recorded with every result set).

    The defaults are the cheapest settings measured to rank stably on the bundled proxy
    (docs/supernet.md, "Evaluator"): the whole split, 4 calibration batches.
    """

    val_size: int | None = None   # first images of the search-validation split; None: all of it
    calib_batches: int = 4        # BN recalibration: train-mode batches of training images
    calib_batch_size: int = 128
    calib_seed: int = 0           # which training images calibrate
    eval_batch_size: int = 250    # images per pass (speed; float32 rounding in the last bits)


Codes = tuple[int, ...]
Chunks = list[torch.Tensor]  # the validation images (or a block's outputs), chunk by chunk


class _Folded:
    """A copy of a block in which each BatchNorm that directly follows a ``Conv2d`` (the next
    child of the same parent, as in timm's blocks) is folded into that convolution's weight and
    bias; the BatchNorm's own activation (timm's ``BatchNormAct2d``) stays in its place. Built
    once; :meth:`refresh` recomputes the folded weights from the block's current statistics."""

    def __init__(self, block: nn.Module) -> None:
        self.module = copy.deepcopy(block).eval()
        self.pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]] = []
        for source, parent in zip(list(block.modules()), list(self.module.modules())):
            names = list(parent._modules)
            for conv_name, bn_name in zip(names, names[1:]):
                conv, bn = parent._modules[conv_name], parent._modules[bn_name]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) \
                        and bn.running_mean is not None:
                    if conv.bias is None:
                        conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
                    self.pairs.append((source._modules[conv_name], source._modules[bn_name],
                                       conv))
                    setattr(parent, bn_name, nn.Sequential(getattr(bn, "drop", nn.Identity()),
                                                           getattr(bn, "act", nn.Identity())))
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> nn.Module:
        for conv, bn, folded in self.pairs:
            scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
            shift = -bn.running_mean if conv.bias is None else conv.bias - bn.running_mean
            folded.bias.copy_(shift * scale + bn.bias)
        return self.module


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` with each BatchNorm that directly follows a ``Conv2d`` (the
    next child of the same parent, as in timm's blocks) folded into that convolution's weight
    and bias; the BatchNorm's own activation (timm's ``BatchNormAct2d``) stays in its place."""
    return _Folded(module).module


@torch.no_grad()
def _calibrate(module: nn.Module, batches: Sequence[torch.Tensor],
               run=None) -> list[torch.Tensor]:
    """Recompute the BN statistics of ``module`` on ``batches``; returns the train-mode outputs."""
    bns = batchnorm_modules(module)
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches
        bn.train()
    outputs = [(run or module)(x) for x in batches]
    for bn, momentum in zip(bns, saved):
        bn.momentum = momentum
        bn.eval()
    return outputs


class SupernetEvaluator:
    """Accuracy of architectures from one trained supernet (deterministic, batched, cached).

    The supernet passed in is put in eval mode and, with ``channels_last``, in that memory
    format, in place, and its 1x1 convolutions become
    :class:`~search_repro.pointwise.PixelConv2d` (same parameters). ``first_layer_cache_bytes``
    bounds the memory kept for the first layer's outputs (0: keep none); it changes speed, never
    results. ``fold_bn`` False evaluates the calibrated blocks unfolded (float32 rounding
    differs; the benchmarks' baseline).
    """

    def __init__(self, supernet: Supernet, calib_images: torch.Tensor, val_images: torch.Tensor,
                 val_labels: torch.Tensor, settings: EvaluatorSettings = EvaluatorSettings(),
                 source: dict | None = None, channels_last: bool = True,
                 first_layer_cache_bytes: int = 2 << 30, fold_bn: bool = True) -> None:
        reuse_freed_memory()  # the chunks' activations: heap memory, not fresh pages each time
        if settings.val_size is None:
            settings = replace(settings, val_size=len(val_images))
        if len(calib_images) < settings.calib_batches * settings.calib_batch_size:
            raise UsageError(f"need {settings.calib_batches * settings.calib_batch_size} "
                             f"calibration images, got {len(calib_images)}")
        # channels_last: faster depthwise convolutions on CPU (benchmarks/supernet_step.py)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self._fmt, self._fold_bn = fmt, fold_bn
        self._twins: dict[int, tuple[_Folded, nn.Module]] = {}  # by id(); keeps the module
        self.supernet = supernet.eval().to(memory_format=fmt)
        speed_up_pointwise(self.supernet)
        self.settings = settings
        self.source = dict(source or {})
        self._calib = [x.contiguous(memory_format=fmt) for x in calib_images[
            :settings.calib_batches * settings.calib_batch_size].split(settings.calib_batch_size)]
        self._val = list(val_images.contiguous(memory_format=fmt).split(
            settings.eval_batch_size))
        self._labels = val_labels.long()
        self._cache: dict[Codes, float] = {}
        self._first_layer: dict[int, tuple[list[torch.Tensor], Chunks]] = {}
        self.first_layer_cache_bytes = first_layer_cache_bytes
        self.requested = 0      # architectures asked for (with repeats)
        self.computed = 0       # architectures actually scored
        self.seconds = 0.0      # time spent scoring
        with torch.inference_mode():  # the stem is the same for every path: calibrate it once
            stem = self.supernet.stem_modules()
            self._stem_calib = _calibrate(stem, self._calib, self.supernet.stem)
            self._stem_val = self._eval_chunks(self._folded(nn.Sequential(*stem)), self._val)

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: "str | os.PathLike", data_root: "str | None" = None,
                        channels_last: bool = True, data=None, fold_bn: bool = True,
                        **settings) -> "SupernetEvaluator":
        """Evaluator for a trained supernet file on the data it was trained on.

        ``data_root`` None uses the Fashion-MNIST files; ``data`` (what
        :func:`search_repro.data.load_splits` returned for this checkpoint's training settings)
        saves loading them again, and without it the rendered images come from the uint8 cache
        (:mod:`search_repro.supernet.images`); keyword arguments override
        :class:`EvaluatorSettings` fields.
        """
        from .images import scoring_images

        supernet, meta = load_supernet(path)
        cfg = EvaluatorSettings(**settings)
        n_calib = cfg.calib_batches * cfg.calib_batch_size
        images = scoring_images(meta, data_root, cfg.calib_seed, n_calib, data, cfg.val_size)
        if images.num_classes != supernet.config["num_classes"] or \
                images.in_chans != supernet.config["in_chans"]:
            raise UsageError(f"{path} was trained for {supernet.config['num_classes']} classes, "
                             f"{supernet.config['in_chans']} channels; the data at "
                             f"{images.source} has {images.num_classes} and {images.in_chans}")
        return cls(supernet, images.calib, images.val, images.labels, cfg,
                   source={"checkpoint": os.path.abspath(path), "sha256": meta["sha256"],
                           "data": images.source}, channels_last=channels_last, fold_bn=fold_bn)

    # --- public API --------------------------------------------------------------------------
    @property
    def space_hash(self) -> str:
        return space_hash()

    def describe(self) -> dict:
        """Settings and provenance, to store beside search results."""
        return {"settings": asdict(self.settings), "space_hash": self.space_hash, **self.source}

    def accuracy(self, codes: "np.ndarray | Sequence[Sequence[int]]") -> np.ndarray:
        """Accuracies in [0, 1] of an (N, 14) integer array of choice codes -> float64 (N,)."""
        rows = [tuple(int(c) for c in row) for row in check_codes(codes)]
        self.requested += len(rows)
        missing = sorted(set(rows) - self._cache.keys())
        if missing:
            tic = time.perf_counter()
            self._cache.update(self._score(missing))
            self.seconds += time.perf_counter() - tic
            self.computed += len(missing)
        return np.array([self._cache[r] for r in rows], dtype=np.float64)

    def accuracy_arch(self, arch: "Architecture | str") -> float:
        """Accuracy of one architecture (an :class:`Architecture` or its string form)."""
        return float(self.accuracy(np.array([Architecture.parse(arch).encode()]))[0])

    @torch.no_grad()
    def naive_logits(self, codes: Sequence[int]) -> torch.Tensor:
        """Reference per-candidate evaluation: recalibrate the whole path, evaluate the split."""
        codes = tuple(int(c) for c in codes)
        net = self.supernet
        path = nn.ModuleList([net.conv_stem, net.bn1, net.first_block, net.last_block,
                              *(net.layers[i][c] for i, c in enumerate(codes))])
        _calibrate(path, self._calib, lambda x: net(x, codes))
        return torch.cat(self._eval_chunks(lambda x: net(x, codes), self._val))

    def naive_accuracy(self, codes: Sequence[int]) -> float:
        return self._acc(self.naive_logits(codes))

    # --- prefix-tree scoring -----------------------------------------------------------------
    def _acc(self, logits: torch.Tensor) -> float:
        return float((logits.argmax(1) == self._labels).double().mean())

    def _eval_chunks(self, fn, chunks: Chunks) -> Chunks:
        return [fn(chunk) for chunk in chunks]

    def _folded(self, module: nn.Module) -> nn.Module:
        """``module`` with its BatchNorms folded (at their current statistics), unless
        ``fold_bn`` is off; the folded copy of each module is built once and refreshed."""
        if not self._fold_bn:
            return module
        twin = self._twins.get(id(module))
        if twin is None:
            twin = self._twins[id(module)] = (_Folded(module), module)
            twin[0].module.to(memory_format=self._fmt)
            return twin[0].module
        return twin[0].refresh()

    @torch.inference_mode()
    def prefix_logits(self, archs: Iterable[Codes]) -> dict[Codes, torch.Tensor]:
        """Logits of each architecture, sharing the work of common prefixes (each finished
        architecture is reported to :func:`search_repro.progress.advance`)."""
        out: dict[Codes, torch.Tensor] = {}
        self._descend(0, sorted(set(archs)), self._stem_calib, self._stem_val, out)
        return out

    def _score(self, archs: list[Codes]) -> dict[Codes, float]:
        return {a: self._acc(logits) for a, logits in self.prefix_logits(archs).items()}

    def _descend(self, depth: int, archs: list[Codes], calib: list[torch.Tensor],
                 val: Chunks, out: dict[Codes, torch.Tensor]) -> None:
        net = self.supernet
        if depth == NUM_LAYERS:
            _calibrate(net.last_block, calib)
            last = self._folded(net.last_block)
            logits = torch.cat(self._eval_chunks(lambda x: net.head(x, last), val))
            for a in archs:
                out[a] = logits
            advance(len(archs))
            return
        groups: dict[int, list[Codes]] = {}
        for a in archs:
            groups.setdefault(a[depth], []).append(a)
        for code, group in groups.items():
            if depth == 0:
                next_calib, next_val = self._first_layer_outputs(code)
            else:
                block = net.layers[depth][code]
                next_calib = _calibrate(block, calib)
                next_val = self._eval_chunks(self._folded(block), val)
            self._descend(depth + 1, group, next_calib, next_val, out)

    def _first_layer_outputs(self, code: int) -> tuple[list[torch.Tensor], Chunks]:
        """Calibration and validation outputs of the first layer's choice ``code``, kept when
        all 12 choices' outputs fit in ``first_layer_cache_bytes``."""
        if code in self._first_layer:
            return self._first_layer[code]
        block = self.supernet.layers[0][code]
        calib = _calibrate(block, self._stem_calib)
        outputs = (calib, self._eval_chunks(self._folded(block), self._stem_val))
        size = sum(t.numel() * t.element_size() for t in (*outputs[0], *outputs[1]))
        if size * NUM_CHOICES <= self.first_layer_cache_bytes:
            self._first_layer[code] = outputs
        return outputs


def load_checkpoint_data(meta: dict, data_root: "str | None" = None):
    """The splits a supernet (its sidecar ``meta``) was trained on."""
    from search_repro.data import load_splits

    train = meta["training"]
    return load_splits(data_root, train["resolution"], train["search_val_size"], train["seed"],
                       train.get("task", "plain"))


def load_bundled_evaluator(**settings) -> SupernetEvaluator:
    """Evaluator of the bundled Fashion-MNIST proxy supernet (see docs/supernet.md)."""
    if not os.path.isfile(BUNDLED_CHECKPOINT):
        raise MissingFileError(f"bundled supernet {BUNDLED_CHECKPOINT} is missing; reinstall "
                                f"moga_zoo or train one with `moga-zoo supernet train`")
    return SupernetEvaluator.from_checkpoint(BUNDLED_CHECKPOINT, **settings)


def load_evaluator(checkpoint: "str | None" = None, data_root: "str | None" = None
                   ) -> SupernetEvaluator:
    """The evaluator of a trained supernet file on its data, or of the bundled one."""
    if checkpoint:
        return SupernetEvaluator.from_checkpoint(checkpoint, data_root=data_root)
    return load_bundled_evaluator()
