"""Class names for a model's outputs: from its weights' config, else ImageNet's (shipped with timm)."""
from __future__ import annotations

from typing import Any, Mapping

import torch.nn as nn
from timm.data import ImageNetInfo, infer_imagenet_subset

from ..errors import UsageError

__all__ = ["class_names"]


def class_names(model: nn.Module) -> list[str]:
    """One readable name per output class of ``model``.

    Order of preference: ``label_names`` in the model's pretrained config (a converted folder's or
    hub repo's ``config.json``), ImageNet names when the class count matches an ImageNet subset,
    else ``class_0``, ``class_1``...
    """
    num_classes = int(getattr(model, "num_classes", 0))
    cfg: Mapping[str, Any] = getattr(model, "pretrained_cfg", None) or {}
    given = cfg.get("label_names")
    if given:
        return _from_config(given, cfg.get("label_descriptions"), num_classes)
    subset = infer_imagenet_subset(model)
    if subset:
        info = ImageNetInfo(subset)
        return [info.index_to_description(i) for i in range(info.num_classes())]
    return [f"class_{i}" for i in range(num_classes)]


def _from_config(names: Any, descriptions: Any, num_classes: int) -> list[str]:
    if isinstance(names, Mapping):  # {index: name}, keys may be strings after a JSON round trip
        names = [names.get(i, names.get(str(i), f"class_{i}")) for i in range(num_classes)]
    names = [str(n) for n in names]
    if len(names) != num_classes:
        raise UsageError(
            f"the weights' config lists {len(names)} label names for a model with {num_classes} "
            f"classes; fix label_names in its config.json")
    if isinstance(descriptions, Mapping):  # timm keeps descriptions keyed by label name
        names = [str(descriptions.get(n, n)) for n in names]
    return names
