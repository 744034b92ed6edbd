"""The one place that imports timm's private model modules.

timm exposes its EfficientNet/MobileNetV3 block builder only through underscore modules; keeping
those imports here means a timm refactor breaks one file.
"""
from timm.models._builder import build_model_with_cfg, pretrained_cfg_for_features
from timm.models._efficientnet_blocks import SqueezeExcite
from timm.models._efficientnet_builder import (
    EfficientNetBuilder,
    decode_arch_def,
    resolve_act_layer,
    resolve_bn_args,
    round_channels,
)
from timm.models.mobilenetv3 import MobileNetV3, MobileNetV3Features

__all__ = [
    "EfficientNetBuilder", "MobileNetV3", "MobileNetV3Features", "SqueezeExcite",
    "build_model_with_cfg", "decode_arch_def", "pretrained_cfg_for_features", "resolve_act_layer",
    "resolve_bn_args", "round_channels",
]
