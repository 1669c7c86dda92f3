"""CNN backbones that return named feature maps (``c2``, ``c3``, ``c4``, ``c5``)."""

from typing import Callable

from torch import nn

from . import efficientnet_lite, resnet
from .efficientnet_lite import DepthwiseSeparable, EfficientNetLite, InvertedResidual, efficientnet_lite0
from .resnet import (
    FEATURE_STRIDES,
    Backbone,
    BasicBlock,
    Bottleneck,
    ResNet,
    create_resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet_mini,
)

#: every family's builders by name, for ``--arch`` options
ARCHS: dict[str, Callable[..., nn.Module]] = {**resnet.ARCHS, **efficientnet_lite.ARCHS}

__all__ = [
    "ARCHS", "FEATURE_STRIDES", "Backbone", "BasicBlock", "Bottleneck", "ResNet", "create_resnet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet_mini",
    "DepthwiseSeparable", "EfficientNetLite", "InvertedResidual", "efficientnet_lite0",
]
