"""``moga_zoo.create`` and ``moga_zoo.list_models``: one entry point for named and searched models."""
from __future__ import annotations

import difflib
import os
import re
from typing import Any, Sequence

import timm
import torch.nn as nn

from .builder import build_moga
from .errors import UsageError
from .search_space import Architecture, ArchitectureError
from .weights.border import loader_border
from .weights.loading import timm_pretrained_kwargs

__all__ = ["create", "list_models", "resolve_architecture"]

_LAYER_TOKEN = re.compile(r"(^|-)e\d+k\d+(se)?(-|$)", re.IGNORECASE)


def list_models(pattern: str = "moga*", pretrained: bool = False) -> list[str]:
    """Registered MoGA model names (with ``pretrained=True``: ``name.tag`` entries)."""
    return timm.list_models(pattern, pretrained=pretrained)


def _unknown(name: str) -> UsageError:
    known = list_models() + list_models(pretrained=True)
    close = difflib.get_close_matches(name.lower().replace("-", "_"), known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UsageError(
        f"unknown model {name!r}.{hint} Known models: {', '.join(list_models())}; or pass an "
        f"architecture string (see `moga-zoo info moga_a` for the format).")


def resolve_architecture(value: "str | Architecture | Sequence[int]") -> Architecture:
    """The architecture of a registered name (``moga_b``, ``moga_b.in1k``) or of an arch string."""
    if isinstance(value, str):
        base = value.split(".", 1)[0].strip().lower()
        if base in list_models():
            return Architecture.parse(base)
    return Architecture.parse(value)


def create(
    name: str | None = None,
    *,
    arch: "str | Architecture | Sequence[int] | None" = None,
    pretrained: bool = False,
    weights: "str | os.PathLike | None" = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a MoGA model by registered name (``moga_a``, ``moga_a.in1k``) or architecture.

    ``arch`` (or a ``name`` that is an architecture string) builds any point of the search
    space; keyword arguments (``num_classes``, ``in_chans``, ``features_only``...) go to timm.
    ``pretrained=True`` loads verified weights (see docs/weights.md); ``weights`` names a
    ``.safetensors`` file or a folder from ``moga-zoo convert`` to load instead of the hub
    (it implies ``pretrained``).
    """
    if (name is None) == (arch is None):
        raise UsageError("give exactly one of a model name or arch=")
    if name is not None:
        if name.split(".", 1)[0] in list_models():
            with loader_border(os.fspath(weights) if weights is not None else name):
                return timm.create_model(name, pretrained=pretrained, weights=weights, **kwargs)
        try:
            arch = Architecture.parse(name)
        except ArchitectureError:
            if _LAYER_TOKEN.search(name):  # meant as an architecture string: its error helps most
                raise
            raise _unknown(name) from None
    architecture = Architecture.parse(arch)
    if weights is not None:
        with loader_border(os.fspath(weights)):
            return build_moga(architecture, pretrained=True,
                              **timm_pretrained_kwargs("moga", kwargs, weights=weights))
    if pretrained:
        raise UsageError(
            f"no pretrained weights exist for architecture {architecture}; train it, or load your "
            f"own weights with weights=PATH (a .safetensors file or a converted folder)")
    return build_moga(architecture, **kwargs)
