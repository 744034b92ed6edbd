"""Any point of the search space -> a timm ``MobileNetV3`` through timm's block-string builder."""
from __future__ import annotations

from functools import partial
from typing import Any

import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from . import _timm
from .search_space import SE_RATIO, SKELETON, STAGE_SIZES, Architecture, Choice, LayerSpec

__all__ = ["layer_block_string", "arch_def", "model_kwargs", "build_moga", "imagenet_cfg"]

_FIRST_BLOCK = "ds_r1_k3_s1_c16_nre_noskip"
_HEAD_CONV = f"cn_r1_k1_s1_c{SKELETON['head']['conv_chs']}"


def layer_block_string(spec: LayerSpec, choice: Choice) -> str:
    """timm block string of one searchable layer, e.g. ``ir_r1_k5_s2_e6_c24_nre``."""
    s = f"ir_r1_k{choice.kernel}_s{spec.stride}_e{choice.expansion}_c{spec.out_chs}"
    if spec.act == "relu":
        s += "_nre"  # the model's default activation is hard-swish
    if choice.se:
        s += f"_se{SE_RATIO}"
    return s


def arch_def(arch: Architecture) -> list[list[str]]:
    """Block strings grouped in timm stages: 1 . 2 . 3 . 4 . 2 . 3 . 1 blocks."""
    strings = [layer_block_string(spec, c) for spec, c in arch.layers()]
    stages, start = [[_FIRST_BLOCK]], 0
    for size in STAGE_SIZES:
        stages.append(strings[start:start + size])
        start += size
    stages.append([_HEAD_CONV])
    return stages


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


def model_kwargs(arch: Architecture, channel_multiplier: float = 1.0, **kwargs: Any) -> dict[str, Any]:
    """Keyword arguments for timm's ``MobileNetV3`` that make ``arch`` exactly."""
    se_layer = partial(_timm.SqueezeExcite, gate_layer="hard_sigmoid", rd_round_fn=int)
    return dict(
        block_args=_timm.decode_arch_def(arch_def(arch)),
        num_features=SKELETON["head"]["num_features"],
        head_bias=SKELETON["head"]["head_bias"],
        stem_size=SKELETON["stem"]["out_chs"],
        fix_stem=True,
        se_from_exp=True,
        round_chs_fn=partial(_timm.round_channels, multiplier=channel_multiplier),
        norm_layer=partial(nn.BatchNorm2d, **_timm.resolve_bn_args(kwargs)),
        act_layer=_timm.resolve_act_layer(kwargs, "hard_swish"),
        se_layer=se_layer,
        drop_rate=kwargs.pop("drop_rate", SKELETON["head"]["drop_rate"]),
        **kwargs,
    )


def build_moga(
    arch: Architecture,
    variant: str = "moga",
    pretrained: bool = False,
    channel_multiplier: float = 1.0,
    **kwargs: Any,
) -> nn.Module:
    """Build ``arch`` as a timm ``MobileNetV3`` (or ``MobileNetV3Features`` with ``features_only``).

    ``variant`` names a registered model (``moga_a``) whose pretrained config timm resolves; for
    other architectures pass ``pretrained_cfg`` or get :func:`imagenet_cfg`.
    """
    if variant == "moga" and "pretrained_cfg" not in kwargs:
        kwargs["pretrained_cfg"] = imagenet_cfg()
    kw = model_kwargs(arch, channel_multiplier, **kwargs)
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
