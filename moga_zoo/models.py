"""MoGA-A/B/C registered in timm's model registry (``timm.create_model("moga_a")``).

``moga_zoo`` imports this module the moment timm is imported (see :mod:`moga_zoo`), which can be
in the middle of importing a moga_zoo module that imports timm (``builder``, ``_timm``...). So at
module level this imports only timm's public API, the search space and the manifest, none of which
imports a moga_zoo module that imports timm; the builder and the weights loader load at build time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import generate_default_cfgs, register_model

from .search_space import MOGA_A, MOGA_B, MOGA_C, NAMED_ARCHITECTURES, Architecture
from .weights.manifest import ManifestError, load_manifest

if TYPE_CHECKING:
    import torch.nn as nn

__all__ = ["imagenet_cfg"]  # timm's registry adds the entrypoints


def imagenet_cfg(**overrides: Any) -> dict[str, Any]:
    """Pretrained-config fields shared by every MoGA model (the authors' eval transform)."""
    return {
        "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7),
        "crop_pct": 0.875, "interpolation": "bilinear",
        "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "conv_stem", "classifier": "classifier",
        "paper_ids": "arXiv:1908.01314", "paper_name": "MoGA: Searching Beyond MobileNetV3",
        "license": "apache-2.0",
        **overrides,
    }


def _pretrained_cfgs() -> dict[str, dict[str, Any]]:
    """timm's pretrained configs, from weights_manifest.json (``$MOGA_ZOO_MANIFEST`` applies).

    timm's registry needs them when the models register, so the manifest is read here, but a
    manifest that does not load only leaves the plain ImageNet configs (no weights listed):
    ``import moga_zoo`` and ``moga-zoo list`` keep working, and loading weights, which reads the
    manifest again, reports its error.
    """
    try:
        manifest = load_manifest()
    except ManifestError:
        return {f"{model}.in1k": imagenet_cfg() for model in NAMED_ARCHITECTURES}
    return {name: imagenet_cfg(**manifest.entries[name].pretrained_cfg()) for name in manifest.ordered_names()}


default_cfgs = generate_default_cfgs(_pretrained_cfgs())


def _create(arch: Architecture, variant: str, pretrained: bool, weights: Any = None,
            **kwargs: Any) -> nn.Module:
    """Build through timm; with ``pretrained`` (or ``weights=``) timm's loader loads the verified
    file that :func:`moga_zoo.weights.loading.resolve_weights` finds."""
    from .builder import build_moga  # at build time: see the module docstring
    from .weights.loading import timm_pretrained_kwargs

    if pretrained or weights is not None:
        kwargs = timm_pretrained_kwargs(variant, kwargs, weights=weights)
    return build_moga(arch, variant, pretrained or weights is not None, **kwargs)


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
