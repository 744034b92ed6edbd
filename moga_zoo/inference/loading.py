"""One way to get an inference-ready model: a name plus where its weights come from."""
from __future__ import annotations

import os
from typing import Any

import timm
import torch.nn as nn

from ..factory import create

__all__ = ["load_model"]


def load_model(
    model: str | nn.Module,
    *,
    weights: str | os.PathLike | None = None,
    pretrained: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """An eval-mode model from a name (``moga_a``, ``moga_a.in1k``, an architecture string,
    ``local-dir:PATH``, ``hf-hub:ORG/NAME``) or an existing module.

    ``weights`` (a local file or converted folder) implies ``pretrained``; with neither the model
    keeps its random initialisation, which is only useful to test a pipeline.
    """
    if isinstance(model, nn.Module):
        if weights is not None or pretrained:
            raise ValueError("weights/pretrained apply to a model name, not to a built module")
        return model.eval()
    if ":" in model:  # timm's own loaders: local-dir:, hf-hub:
        if weights is not None:
            raise ValueError(f"{model!r} already names its weights; drop the weights argument")
        return timm.create_model(model, pretrained=True, **kwargs).eval()
    if weights is not None:
        return create(model, pretrained=True, weights=os.fspath(weights), **kwargs).eval()
    return create(model, pretrained=pretrained, **kwargs).eval()
