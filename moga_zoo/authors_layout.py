"""Key mapping from the authors' checkpoint layout (xiaomi-automl/MoGA) to our timm models."""
from __future__ import annotations

import re
from typing import Mapping

import torch

from .search_space import NUM_LAYERS, STAGE_SIZES, block_path

__all__ = ["authors_key_to_timm", "convert_authors_state_dict"]

_FIXED = {
    "stem.0": "conv_stem", "stem.1": "bn1",
    "separable_conv.0": "blocks.0.0.conv_dw", "separable_conv.1": "blocks.0.0.bn1",
    "separable_conv.3": "blocks.0.0.conv_pw", "separable_conv.4": "blocks.0.0.bn2",
    "conv_before_pooling.0": f"blocks.{len(STAGE_SIZES) + 1}.0.conv",
    "conv_before_pooling.1": f"blocks.{len(STAGE_SIZES) + 1}.0.bn1",
    "conv_head.0": "conv_head", "classifier": "classifier",
}
_IN_BLOCK = {
    "conv1": "conv_pw", "bn1": "bn1", "conv2": "conv_dw", "bn2": "bn2", "conv3": "conv_pwl",
    "bn3": "bn3", "mid_se.conv.0": "se.conv_reduce", "mid_se.fc.0": "se.conv_expand",
}
_MB = re.compile(r"^mb_module\.(\d+)\.(.+)\.(\w+)$")
_PLAIN = re.compile(r"^(.+)\.(\w+)$")


def authors_key_to_timm(key: str) -> str:
    """Map one state-dict key of the authors' layout to ours; raises ``KeyError`` if unknown."""
    m = _MB.match(key)
    if m and m[2] in _IN_BLOCK and int(m[1]) < NUM_LAYERS:
        return f"{block_path(int(m[1]))}.{_IN_BLOCK[m[2]]}.{m[3]}"
    m = _PLAIN.match(key)
    if m and m[1] in _FIXED:
        return f"{_FIXED[m[1]]}.{m[2]}"
    raise KeyError(f"{key!r} is not a key of the authors' MoGA layout")


def convert_authors_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename every key of an authors'-layout state dict (``module.`` prefixes are removed)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = authors_key_to_timm(key.removeprefix("module."))
        if new in out:
            raise KeyError(f"two keys map to {new!r}; is this a MoGA checkpoint?")
        out[new] = value
    return out
