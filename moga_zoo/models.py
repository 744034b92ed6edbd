"""MoGA-A/B/C registered in timm's model registry (``timm.create_model("moga_a")``)."""
from __future__ import annotations

from typing import Any

import torch.nn as nn

from ._timm import generate_default_cfgs, register_model
from .builder import build_moga, imagenet_cfg
from .search_space import MOGA_A, MOGA_B, MOGA_C, Architecture
from .weights.loading import load_pretrained
from .weights.manifest import load_manifest

__all__: list[str] = []  # timm's registry adds the entrypoints

#: Pretrained configs from weights_manifest.json (read once, at import; ``$MOGA_ZOO_MANIFEST``
#: applies). Published entries carry their ``hf_hub_id``.
_MANIFEST = load_manifest()
default_cfgs = generate_default_cfgs({
    name: imagenet_cfg(**_MANIFEST.entries[name].pretrained_cfg()) for name in _MANIFEST.ordered_names()
})

_TIMM_WEIGHT_SOURCES = ("file", "state_dict", "url", "hf_hub_id", "source")


def _timm_loads(kwargs: dict[str, Any]) -> bool:
    """True when the caller picked the weights timm's way (``hf-hub:``/``local-dir:`` names, a
    ``pretrained_cfg`` dict or an overlay naming a file, url or hub id): timm's loader runs."""
    cfg = kwargs.get("pretrained_cfg")
    overlay = kwargs.get("pretrained_cfg_overlay") or {}
    return (cfg is not None and not isinstance(cfg, str)) or any(k in overlay for k in _TIMM_WEIGHT_SOURCES)


def _create(arch: Architecture, variant: str, pretrained: bool, weights: Any = None,
            **kwargs: Any) -> nn.Module:
    """Build; pretrained weights come verified through :func:`moga_zoo.weights.load_pretrained`
    (``weights=`` file/folder, installed weights or the manifest's pinned hub file)."""
    if weights is None and (not pretrained or _timm_loads(kwargs)):
        return build_moga(arch, variant, pretrained, **kwargs)
    cache_dir = kwargs.get("cache_dir")
    model = build_moga(arch, variant, False, **kwargs)
    name = f"{variant}.{model.pretrained_cfg.get('tag') or ''}".rstrip(".")
    return load_pretrained(model, name, weights=weights, cache_dir=cache_dir)


@register_model
def moga_a(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MoGA-A (304 M MACs, 5.16 M params): the paper's most accurate model, 75.9 % ImageNet top-1."""
    return _create(MOGA_A, "moga_a", pretrained, **kwargs)


@register_model
def moga_b(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MoGA-B (248.6 M MACs, 5.51 M params): 75.5 % ImageNet top-1."""
    return _create(MOGA_B, "moga_b", pretrained, **kwargs)


@register_model
def moga_c(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MoGA-C (221.1 M MACs, 5.49 M params): the fastest on mobile GPU, 75.3 % ImageNet top-1."""
    return _create(MOGA_C, "moga_c", pretrained, **kwargs)
