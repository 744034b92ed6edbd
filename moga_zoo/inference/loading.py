"""One way to get an inference-ready model: a name plus where its weights come from."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import timm
import torch.nn as nn

from ..errors import UsageError
from ..factory import create
from ..records import RecordError, read_json
from ..weights.border import loader_border
from ..weights.errors import WeightsError

__all__ = ["load_model", "folder_config"]

#: config.json fields that name the classes (timm's save_for_hf writes them).
_LABEL_KEYS = ("label_names", "label_descriptions")


def load_model(
    model: str | nn.Module,
    *,
    weights: str | os.PathLike | None = None,
    pretrained: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """An eval-mode model from a name (``moga_a``, ``moga_a.in1k``, an architecture string,
    ``local-dir:PATH``, ``hf-hub:ORG/NAME``) or an existing module.

    ``weights`` (a local file or converted folder) implies ``pretrained``; a ``config.json`` beside
    it supplies the class count, label names and data config. With neither the model keeps its
    random initialisation, which is only useful to test a pipeline.
    """
    if isinstance(model, nn.Module):
        if weights is not None or pretrained:
            raise UsageError("weights/pretrained apply to a model name, not to a built module")
        return model.eval()
    if ":" in model:  # timm's own loaders: local-dir:, hf-hub:
        if weights is not None:
            raise UsageError(f"{model!r} already names its weights; drop the weights argument")
        if model.startswith("local-dir:") and not (Path(model.split(":", 1)[1]) / "config.json").is_file():
            raise WeightsError(f"{model}: no folder with a config.json there; give a folder written by "
                               f"`moga-zoo convert` or timm's save_for_hf")
        with loader_border(model):
            return timm.create_model(model, pretrained=True, **kwargs).eval()
    if weights is not None:
        config = folder_config(weights)
        built = create(model, pretrained=True, weights=os.fspath(weights), **kwargs)
        classes = config.get("num_classes", built.num_classes)
        if "num_classes" not in kwargs and classes != built.num_classes:
            raise WeightsError(f"{_config_path(weights)}: num_classes {classes!r} disagrees with the "
                               f"weights, whose classifier has {built.num_classes} classes; fix or "
                               f"remove num_classes in config.json")
        built.pretrained_cfg = {**built.pretrained_cfg, **config.get("pretrained_cfg", {}),
                                **{k: config[k] for k in _LABEL_KEYS if k in config}}
        return built.eval()
    return create(model, pretrained=pretrained, **kwargs).eval()


def folder_config(weights: str | os.PathLike) -> dict[str, Any]:
    """The timm ``config.json`` next to a weights file or in a converted folder ({} if none)."""
    config = _config_path(weights)
    if not config.is_file():
        return {}
    try:
        data = read_json(config, "timm config.json")
    except RecordError as e:
        raise UsageError(f"{config}: not a readable timm config.json ({e}); fix or remove it") from None
    if not isinstance(data, dict):
        raise UsageError(f"{config}: expected a JSON object (timm's config.json); fix or remove it")
    return data


def _config_path(weights: str | os.PathLike) -> Path:
    path = Path(weights)
    return (path if path.is_dir() else path.parent) / "config.json"
