"""CNN backbones that return named feature maps (``c3``, ``c4``, ``c5``)."""

from .resnet import (
    ARCHS,
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

__all__ = [
    "ARCHS", "FEATURE_STRIDES", "Backbone", "BasicBlock", "Bottleneck", "ResNet", "create_resnet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet_mini",
]
