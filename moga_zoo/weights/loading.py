"""Which weights file a pretrained model uses, handed to timm's own loader.

Lookup order for ``model.tag``: ``weights=`` (a file or converted folder), then installed weights
(``moga-zoo convert --install``), then the hub at the manifest's pinned commit. Every file is a
safetensors file; hub files are checked against the manifest's sha256, installed ones against
the digest recorded at install time. timm's ``load_pretrained`` then loads the file
(``pretrained_cfg_overlay=dict(file=...)``), adapting the classifier and stem its usual way;
:func:`check_state_dict` runs first and refuses a file that does not fit or holds NaN/Inf.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn as nn
from safetensors import SafetensorError, safe_open

from .errors import WeightsError, WeightsNotPublishedError
from .hub import fetch_entry
from .local import installed_weights, local_weights_file, weights_dir
from .manifest import Manifest, load_manifest

__all__ = ["resolve_weights", "tensor_shapes", "timm_pretrained_kwargs", "check_state_dict"]

_CLASSIFIER = ("classifier.weight", "classifier.bias")
_STEM = "conv_stem.weight"
#: Keys of timm's pretrained config that name where weights come from.
_TIMM_SOURCES = ("file", "state_dict", "url", "hf_hub_id")


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


def tensor_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a safetensors file (its header; a damaged or truncated
    file, or one that is not safetensors, is a :class:`WeightsError`)."""
    try:
        with safe_open(os.fspath(path), "pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"{path} is not a readable safetensors file ({e}); re-download or re-convert "
                           f"it") from None


def timm_pretrained_kwargs(variant: str, kwargs: Mapping[str, Any], *,
                           weights: str | os.PathLike | None = None) -> dict[str, Any]:
    """``kwargs`` for timm's builder with ``pretrained=True``: the resolved, verified file as
    ``pretrained_cfg_overlay["file"]`` and the check of what it holds as the filter.

    Where the caller already told timm where the weights are (``hf-hub:``/``local-dir:`` names,
    a ``pretrained_cfg`` dict, an overlay naming a file, url, state dict or hub id) and gave no
    ``weights=``, that source stays; the check still runs.
    """
    kwargs = dict(kwargs)
    cfg = kwargs.get("pretrained_cfg")
    overlay = dict(kwargs.get("pretrained_cfg_overlay") or {})
    own_source = (cfg is not None and not isinstance(cfg, str)) or any(k in overlay for k in _TIMM_SOURCES)
    if weights is not None or not own_source:
        name = f"{variant}.{cfg}" if isinstance(cfg, str) and cfg else variant
        path = resolve_weights(name, weights=weights, cache_dir=kwargs.get("cache_dir"))
        shapes = tensor_shapes(path)
        for key in _TIMM_SOURCES:
            overlay.pop(key, None)
        overlay["file"] = os.fspath(path)
        if _CLASSIFIER[0] in shapes:  # the file's own class count: timm drops its classifier
            overlay["num_classes"] = shapes[_CLASSIFIER[0]][0]  # only where the model differs
        source = os.fspath(path)
    else:
        source = overlay.get("file") or getattr(cfg, "hf_hub_id", None) or (
            cfg.get("hf_hub_id") if isinstance(cfg, dict) else None) or "the pretrained weights"
    kwargs["pretrained_cfg_overlay"] = overlay
    kwargs["pretrained_filter_fn"] = functools.partial(check_state_dict, source=str(source))
    return kwargs


def check_state_dict(state_dict: dict[str, torch.Tensor], model: nn.Module, *,
                     source: str = "the weights") -> dict[str, torch.Tensor]:
    """Refuse weights that do not fit ``model`` or hold NaN/Inf, before timm loads them.

    Allowed, as timm adapts them: a classifier of another size (``num_classes`` differs), a stem
    for 3 input channels (``in_chans`` differs); a feature model takes only the tensors it has.
    """
    own = model.state_dict()
    sd = dict(state_dict)
    if not hasattr(model, "classifier"):  # features_only: the head is not part of the model
        sd = {k: v for k, v in sd.items() if k in own}
    adaptable = {k for k in _CLASSIFIER if k in own and k in sd}
    if _STEM in own and _STEM in sd and sd[_STEM].shape[1] == 3:
        theirs, ours = sd[_STEM].shape, own[_STEM].shape
        if len(theirs) == len(ours) and (theirs[0], *theirs[2:]) == (ours[0], *ours[2:]):
            adaptable.add(_STEM)  # only the input channels differ: timm adapts them
    missing = sorted(own.keys() - sd.keys())
    unexpected = sorted(sd.keys() - own.keys())
    shapes = sorted(k for k in own.keys() & sd.keys()
                    if own[k].shape != sd[k].shape and k not in adaptable)
    if missing or unexpected or shapes:
        raise WeightsError(f"{source} does not fit this model: missing {_few(missing)}, unexpected "
                           f"{_few(unexpected)}, other shapes {_few(shapes)}; is it another model's "
                           f"file?")
    bad = [k for k, v in sd.items()  # numpy: torch's per-call overhead is 100x more here
           if v.is_floating_point() and not np.isfinite(v.detach().cpu().float().numpy()).all()]
    if bad:
        raise WeightsError(f"{source} holds NaN or infinite values in {_few(bad)}; the file is damaged "
                           f"or its training diverged")
    return sd


def _few(keys: list[str]) -> str:
    return f"{keys[:3]}{f' and {len(keys) - 3} more' if len(keys) > 3 else ''}"
