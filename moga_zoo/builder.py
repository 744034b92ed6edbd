"""Any point of the search space -> a timm ``MobileNetV3`` through timm's block-string builder."""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import torch.nn as nn

from . import _timm
from .models import imagenet_cfg
from .search_space import SKELETON, STAGE_SIZES, Architecture, Choice, LayerSpec

__all__ = ["layer_block_string", "arch_def", "model_kwargs", "build_moga"]

#: timm's MobileNetV3 stem is a fixed 3x3 stride-2 conv; the skeleton must say the same.
_TIMM_STEM = {"kernel": 3, "stride": 2}
_ROUND = {"int": int}


def _act_suffix(act: str) -> str:
    """Block-string suffix of an activation (the model's default is hard-swish)."""
    return {"relu": "_nre", "hard_swish": ""}[act]


def _first_block_string() -> str:
    fb = SKELETON["first_block"]
    if fb["type"] != "depthwise_separable":
        raise ValueError(f"first block type {fb['type']!r} is not supported by the builder")
    return (f"ds_r1_k{fb['kernel']}_s{fb['stride']}_c{fb['out_chs']}{_act_suffix(fb['act'])}"
            f"{'' if fb['residual'] else '_noskip'}")


def _head_conv_string() -> str:
    head = SKELETON["head"]
    return f"cn_r1_k1_s1_c{head['conv_chs']}{_act_suffix(head['act'])}"


def layer_block_string(spec: LayerSpec, choice: Choice) -> str:
    """timm block string of one searchable layer, e.g. ``ir_r1_k5_s2_e6_c24_nre``."""
    s = f"ir_r1_k{choice.kernel}_s{spec.stride}_e{choice.expansion}_c{spec.out_chs}"
    s += _act_suffix(spec.act)
    if choice.se:
        s += f"_se{SKELETON['se']['ratio']}"
    return s


def arch_def(arch: Architecture, strides: "Sequence[int] | None" = None) -> list[list[str]]:
    """Block strings grouped in timm stages: 1 . 2 . 3 . 4 . 2 . 3 . 1 blocks; ``strides`` is
    the searchable layers' stride schedule (None: the MoGA networks' own)."""
    strings = [layer_block_string(spec, c) for spec, c in arch.layers(strides)]
    stages, start = [[_first_block_string()]], 0
    for size in STAGE_SIZES:
        stages.append(strings[start:start + size])
        start += size
    stages.append([_head_conv_string()])
    return stages


def model_kwargs(arch: Architecture, channel_multiplier: float = 1.0,
                 strides: "Sequence[int] | None" = None, **kwargs: Any) -> dict[str, Any]:
    """Keyword arguments for timm's ``MobileNetV3`` that make ``arch`` exactly."""
    stem, se = SKELETON["stem"], SKELETON["se"]
    if {k: stem[k] for k in _TIMM_STEM} != _TIMM_STEM:
        raise ValueError(f"timm's MobileNetV3 stem is {_TIMM_STEM}, the skeleton asks for {stem}")
    if se["act"] != "block":
        raise ValueError(f"squeeze-excite activation {se['act']!r} is not supported by the builder")
    se_layer = partial(_timm.SqueezeExcite, gate_layer=se["gate"], rd_round_fn=_ROUND[se["round"]])
    return dict(
        block_args=_timm.decode_arch_def(arch_def(arch, strides)),
        num_features=SKELETON["head"]["num_features"],
        head_bias=SKELETON["head"]["head_bias"],
        stem_size=SKELETON["stem"]["out_chs"],
        fix_stem=True,
        se_from_exp=True,
        round_chs_fn=partial(_timm.round_channels, multiplier=channel_multiplier),
        norm_layer=partial(nn.BatchNorm2d, **_timm.resolve_bn_args(kwargs)),
        act_layer=_timm.resolve_act_layer(kwargs, stem["act"]),
        se_layer=se_layer,
        drop_rate=kwargs.pop("drop_rate", SKELETON["head"]["drop_rate"]),
        **kwargs,
    )


def build_moga(
    arch: Architecture,
    variant: str = "moga",
    pretrained: bool = False,
    channel_multiplier: float = 1.0,
    strides: "Sequence[int] | None" = None,
    **kwargs: Any,
) -> nn.Module:
    """Build ``arch`` as a timm ``MobileNetV3`` (or ``MobileNetV3Features`` with ``features_only``).

    ``variant`` names a registered model (``moga_a``) whose pretrained config timm resolves; for
    other architectures pass ``pretrained_cfg`` or get :func:`moga_zoo.models.imagenet_cfg`.
    ``strides`` sets the searchable layers' stride schedule (None: the MoGA networks' own, total
    stride 32); the weights do not depend on it.
    """
    if variant == "moga" and "pretrained_cfg" not in kwargs:
        kwargs["pretrained_cfg"] = imagenet_cfg()
    kw = model_kwargs(arch, channel_multiplier, strides, **kwargs)
    # features_only as in timm's own _create_mnv3: MobileNetV3Features by default, timm's generic
    # feature wrappers (feature_cls='hook'/'fx'/..., feature_cfg) when asked for
    model_cls, kwargs_filter, mode = _timm.MobileNetV3, None, ""
    if kw.pop("features_only", False):
        if "feature_cfg" in kw or "feature_cls" in kw:
            mode = "cfg"
        else:
            mode = "cls"
            model_cls = _timm.MobileNetV3Features
            kwargs_filter = ("num_classes", "num_features", "head_conv", "head_bias", "head_norm",
                             "global_pool")
    model = _timm.build_model_with_cfg(
        model_cls, variant, pretrained,
        features_only=mode == "cfg",
        pretrained_strict=mode != "cls",
        kwargs_filter=kwargs_filter,
        **kw,
    )
    if mode == "cls":
        model.default_cfg = _timm.pretrained_cfg_for_features(model.default_cfg)
    return model
