"""Resolve which weights file a pretrained model uses, and load it into the model.

Lookup order for ``model.tag``: ``weights=`` (a file or converted folder), then installed weights
(``moga-zoo convert --install``), then the hub at the manifest's pinned commit. Every file is a
safetensors file; hub files are checked against the manifest's sha256, installed ones against
the digest recorded at install time.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file
from timm.models import adapt_input_conv

from .errors import WeightsError, WeightsNotPublishedError
from .hub import fetch_entry
from .local import installed_weights, local_weights_file, weights_dir
from .manifest import Manifest, load_manifest

__all__ = ["resolve_weights", "read_safetensors", "load_state_dict_into", "load_pretrained"]

_CLASSIFIER = ("classifier.weight", "classifier.bias")
_STEM = "conv_stem.weight"


def resolve_weights(
    name: str,
    *,
    weights: str | os.PathLike | None = None,
    manifest: Manifest | None = None,
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> Path:
    """The verified local ``.safetensors`` file to load for ``name`` (``moga_a`` or ``moga_a.in1k``)."""
    if weights is not None:
        return local_weights_file(weights)
    manifest = manifest or load_manifest()
    try:
        entry = manifest.entry(name)
    except KeyError as e:
        raise WeightsError(f"{e.args[0]}; pass weights=PATH to load your own file") from None
    installed = installed_weights(entry.name)
    if installed is not None:
        return installed
    if not entry.published:
        raise WeightsNotPublishedError(_not_published_message(entry.name, entry.model))
    return fetch_entry(entry, cache_dir=cache_dir, endpoint=endpoint, token=token)


def _not_published_message(name: str, model: str) -> str:
    return (
        f"no pretrained weights are published for {name} yet. The MoGA authors give their ImageNet "
        f"checkpoints on request (https://github.com/xiaomi-automl/MoGA). With the file: "
        f"`moga-zoo convert CHECKPOINT --model {model} -o DIR --install` installs it in "
        f"{weights_dir()} and pretrained=True then loads it; or pass weights=DIR. See docs/weights.md.")


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, with a clear error for anything else."""
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"{path} is not a readable safetensors file ({e}); re-download or re-convert "
                           f"it") from None


def load_state_dict_into(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Strict load, adapted the way timm adapts pretrained weights.

    A classifier of another size (``num_classes`` != the checkpoint's) is dropped and keeps its
    fresh init; a different ``in_chans`` adapts the stem conv; a ``features_only`` model ignores
    the head. Any other missing, unexpected or mis-shaped tensor is an error.
    """
    own = model.state_dict()
    sd = dict(state_dict)
    may_miss: set[str] = set()
    for key in _CLASSIFIER:
        if key in sd and (key not in own or own[key].shape != sd[key].shape):
            del sd[key]
            may_miss.add(key)
    if _STEM in sd and _STEM in own and sd[_STEM].shape[1] != own[_STEM].shape[1]:
        sd[_STEM] = adapt_input_conv(own[_STEM].shape[1], sd[_STEM])
    features_only = hasattr(model, "feature_info") and not hasattr(model, "classifier")
    if features_only:
        sd = {k: v for k, v in sd.items() if k in own}
    try:
        result = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:
        raise WeightsError(f"{source} does not fit this model: {e}") from None
    missing = [k for k in result.missing_keys if k not in may_miss]
    if missing or result.unexpected_keys:
        raise WeightsError(f"{source} does not fit this model: missing {missing[:5]}"
                           f"{'...' if len(missing) > 5 else ''}, unexpected "
                           f"{result.unexpected_keys[:5]}{'...' if len(result.unexpected_keys) > 5 else ''}")


def load_pretrained(
    model: nn.Module,
    name: str,
    *,
    weights: str | os.PathLike | None = None,
    manifest: Manifest | None = None,
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> nn.Module:
    """Load the verified weights of ``name`` (or ``weights=``) into ``model`` and return it."""
    path = resolve_weights(name, weights=weights, manifest=manifest, cache_dir=cache_dir,
                           endpoint=endpoint, token=token)
    load_state_dict_into(model, read_safetensors(path), str(path))
    return model
