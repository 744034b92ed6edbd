"""The parts a latency table times, cut out of models built by ``moga_zoo.build_moga``.

Every searchable block is the very module a MoGA model holds (same timm block strings, same
builder), taken from a model whose 14 layers all use the same choice; the fixed parts are the
stem, the fixed first block and the head (960 conv, pooling, 1280 conv, classifier).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn as nn

from moga_zoo.errors import UsageError
from moga_zoo.builder import build_moga
from moga_zoo.search_space import CHOICES, NUM_LAYERS, Architecture, block_path

__all__ = ["TimedPart", "check_resolution", "input_shapes", "fixed_parts", "layer_part",
           "layer_parts", "build_model"]


@dataclass(frozen=True)
class TimedPart:
    """A module to time and the input shape it sees inside the network."""

    key: str
    module: nn.Module
    input_shape: tuple[int, ...]


def check_resolution(resolution: int) -> None:
    """The network downsamples 32x: refuse any other input side with a clear message."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 32 \
            or resolution % 32:
        raise UsageError(
            f"resolution must be a positive multiple of 32 (e.g. 224), got {resolution!r}")


def build_model(arch: Architecture) -> nn.Module:
    """The full network in eval mode (random weights: latency does not depend on them)."""
    return build_moga(arch).eval()


@lru_cache(maxsize=8)
def input_shapes(resolution: int, batch: int) -> dict[str, tuple[int, ...]]:
    """Input shape of every timed part, recorded with forward hooks on a real forward pass."""
    check_resolution(resolution)
    model = build_model(Architecture((CHOICES[0],) * NUM_LAYERS))
    shapes: dict[str, tuple[int, ...]] = {}
    watched = {"stem": model.conv_stem, "first_block": model.blocks[0][0], "head": model.blocks[-1]}
    watched.update({f"layer{i + 1}": model.get_submodule(block_path(i))
                    for i in range(NUM_LAYERS)})
    hooks = [m.register_forward_pre_hook(
        lambda mod, args, key=key: shapes.__setitem__(key, tuple(args[0].shape)))
        for key, m in watched.items()]
    with torch.inference_mode():
        model(torch.zeros(batch, 3, resolution, resolution))
    for h in hooks:
        h.remove()
    return shapes


def fixed_parts(resolution: int, batch: int) -> list[TimedPart]:
    """Stem (conv + BN + act), the fixed first block and the head, at their input shapes."""
    shapes = input_shapes(resolution, batch)
    m = build_model(Architecture((CHOICES[0],) * NUM_LAYERS))
    stem = nn.Sequential(m.conv_stem, m.bn1)  # timm's bn1 is BatchNormAct2d (BN + hard-swish)
    head = nn.Sequential(m.blocks[-1], m.global_pool, m.conv_head, m.norm_head, m.act2, m.flatten,
                         m.classifier)
    return [TimedPart("stem", stem.eval(), shapes["stem"]),
            TimedPart("first_block", m.blocks[0][0], shapes["first_block"]),
            TimedPart("head", head.eval(), shapes["head"])]


@lru_cache(maxsize=None)
def _uniform_blocks(code: int) -> tuple[nn.Module, ...]:
    """The 14 searchable blocks of the model whose every layer uses choice ``code``."""
    model = build_model(Architecture((CHOICES[code],) * NUM_LAYERS))
    return tuple(model.get_submodule(block_path(i)) for i in range(NUM_LAYERS))


def layer_part(layer: int, code: int, resolution: int, batch: int) -> TimedPart:
    """Choice ``code`` of searchable layer ``layer`` (both 0-based), a fresh copy of the block."""
    shape = input_shapes(resolution, batch)[f"layer{layer + 1}"]
    return TimedPart(str(CHOICES[code]), copy.deepcopy(_uniform_blocks(code)[layer]), shape)


def layer_parts(layer: int, resolution: int, batch: int) -> list[TimedPart]:
    """The 12 candidate blocks of searchable layer ``layer`` (0-based), keyed by choice name."""
    return [layer_part(layer, code, resolution, batch) for code in range(len(CHOICES))]
