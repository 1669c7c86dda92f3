"""ResNet backbones.

Paper: He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(https://arxiv.org/abs/1512.03385).

The layout follows the common PyTorch convention (stride in the 3x3 convolution of a
bottleneck, the "v1.5" variant) and its parameter names: ``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer1.0.downsample.0``/``.1``, ``fc``. A torchvision ResNet
state_dict therefore loads into the model of the same depth. ``resnet18`` with 1000
classes has 11,689,512 parameters and ``resnet50`` 25,557,032, as published.

Besides the classic depths there is ``resnet_mini``, the small fast backbone of the bundled
ShapeWorld models: one BasicBlock per stage, widths 32/64/128/256 (about 1.2 M parameters),
dense 3x3 convolutions that run near the fp32 ceiling of a small CPU.

``forward_features`` returns the named feature maps every task head reads:
``{"c2": stride 4, "c3": 8, "c4": 16, "c5": 32}`` (outputs of layer1 to layer4).
"""

from __future__ import annotations

from typing import Callable, Sequence, Type, Union

import torch
from torch import Tensor, nn

__all__ = [
    "BasicBlock", "Bottleneck", "ResNet", "Backbone", "FEATURE_STRIDES", "create_resnet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet_mini", "model_configs",
    "ARCHS",
]

#: feature name -> stride, in the order backbones return them
FEATURE_STRIDES = {"c2": 4, "c3": 8, "c4": 16, "c5": 32}


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4, with a shortcut."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        width = planes
        self.conv1 = conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3


Block = Union[Type[BasicBlock], Type[Bottleneck]]


class ResNet(nn.Module):
    """ResNet: 7x7/2 stem and 3x3/2 max-pool, four stages, global pool and a linear classifier.

    ``num_classes=0`` leaves out the classifier (``fc`` is an identity); ``drop_rate``
    applies dropout before it.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: int = 1000,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem_width: int = 64,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        self.inplanes = stem_width
        self.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0], stride=1)
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = widths[3] * block.expansion
        #: channels of each named feature map
        self.feature_channels = {
            "c2": widths[0] * block.expansion,
            "c3": widths[1] * block.expansion,
            "c4": widths[2] * block.expansion,
            "c5": widths[3] * block.expansion,
        }
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.reset_parameters(zero_init_residual)

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def reset_parameters(self, zero_init_residual: bool = False) -> None:
        """He (kaiming) normal init for convolutions, unit/zero batch norm."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(m.last_bn().weight)

    def stem(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward_features(self, x: Tensor) -> dict[str, Tensor]:
        """Named feature maps ``{"c2": stride 4, "c3": 8, "c4": 16, "c5": 32}``."""
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return {"c2": c2, "c3": c3, "c4": c4, "c5": c5}

    def forward_head(self, c5: Tensor) -> Tensor:
        return self.fc(self.drop(torch.flatten(self.avgpool(c5), 1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x)["c5"])


class Backbone(nn.Module):
    """Export wrapper: image -> tuple of feature maps, in ``names`` order (default c2 to c5)."""

    def __init__(self, model: ResNet, names: Sequence[str] = tuple(FEATURE_STRIDES)):
        super().__init__()
        self.model = model
        self.names = tuple(names)

    @property
    def strides(self) -> dict[str, int]:
        return {n: FEATURE_STRIDES[n] for n in self.names}

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        feats = self.model.forward_features(image)
        return tuple(feats[n] for n in self.names)


# ------------------------------------------------------------------ builders


def create_resnet(name: str, **kwargs) -> ResNet:
    """Build the named configuration of :data:`model_configs`; ``kwargs`` override it."""
    try:
        cfg = dict(model_configs[name])
    except KeyError:
        raise ValueError(f"unknown ResNet {name!r}; known: {', '.join(model_configs)}") from None
    cfg.pop("params", None)
    cfg.pop("paper", None)
    cfg.update(kwargs)
    return ResNet(**cfg)


def resnet18(**kwargs) -> ResNet:
    return create_resnet("resnet18", **kwargs)


def resnet34(**kwargs) -> ResNet:
    return create_resnet("resnet34", **kwargs)


def resnet50(**kwargs) -> ResNet:
    return create_resnet("resnet50", **kwargs)


def resnet101(**kwargs) -> ResNet:
    return create_resnet("resnet101", **kwargs)


def resnet152(**kwargs) -> ResNet:
    return create_resnet("resnet152", **kwargs)


def resnet_mini(**kwargs) -> ResNet:
    """Small fast ResNet for 128 px inputs: BasicBlock x [1,1,1,1], widths 32/64/128/256."""
    return create_resnet("resnet_mini", **kwargs)


# ------------------------------------------------------------------ configurations
#: name -> constructor arguments, plus "params" (parameter count with 1000 classes) for the
#: published depths. No pretrained weights are downloaded: the project trains its own.
model_configs: dict[str, dict] = {
    "resnet18": dict(block=BasicBlock, layers=(2, 2, 2, 2), params=11_689_512),
    "resnet34": dict(block=BasicBlock, layers=(3, 4, 6, 3), params=21_797_672),
    "resnet50": dict(block=Bottleneck, layers=(3, 4, 6, 3), params=25_557_032),
    "resnet101": dict(block=Bottleneck, layers=(3, 4, 23, 3), params=44_549_160),
    "resnet152": dict(block=Bottleneck, layers=(3, 8, 36, 3), params=60_192_808),
    "resnet_mini": dict(block=BasicBlock, layers=(1, 1, 1, 1), widths=(32, 64, 128, 256), stem_width=32),
}

#: builders by name, for ``--arch`` options
ARCHS: dict[str, Callable[..., ResNet]] = {
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
    "resnet101": resnet101, "resnet152": resnet152, "resnet_mini": resnet_mini,
}
