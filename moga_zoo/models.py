"""MoGA-A/B/C registered in timm's model registry (``timm.create_model("moga_a")``)."""
from __future__ import annotations

from typing import Any

import torch.nn as nn

from ._timm import generate_default_cfgs, register_model
from .builder import build_moga, imagenet_cfg
from .search_space import MOGA_A, MOGA_B, MOGA_C

__all__: list[str] = []  # timm's registry adds the entrypoints

default_cfgs = generate_default_cfgs({
    "moga_a.in1k": imagenet_cfg(),
    "moga_b.in1k": imagenet_cfg(),
    "moga_c.in1k": imagenet_cfg(),
})


@register_model
def moga_a(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MoGA-A (304 M MACs, 5.16 M params): the paper's most accurate model, 75.9 % ImageNet top-1."""
    return build_moga(MOGA_A, "moga_a", pretrained, **kwargs)


@register_model
def moga_b(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MoGA-B (248.6 M MACs, 5.51 M params): 75.5 % ImageNet top-1."""
    return build_moga(MOGA_B, "moga_b", pretrained, **kwargs)


@register_model
def moga_c(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MoGA-C (221.1 M MACs, 5.49 M params): the fastest on mobile GPU, 75.3 % ImageNet top-1."""
    return build_moga(MOGA_C, "moga_c", pretrained, **kwargs)
