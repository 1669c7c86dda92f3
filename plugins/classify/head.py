"""The classification heads (torch).

* :class:`ClassifyHead`, global average pool on ``c5`` -> dropout -> linear, is the head of
  the classification recipe that trains a backbone with it (``visionkit train classify``
  without ``--data``): the backbone learns what the pooled map must say.
* :class:`StagesClassifyHead` is the head on a *frozen* backbone (the shared head of
  ``visionkit train heads`` and of transfer learning with ``--data``): a linear probe of
  pooled ``c5`` can only read what ImageNet taught the last stage, so two 3x3 convolutions
  on ``c4`` and a 1x1 on ``c5`` learn the task's own features first, both pooled and joined.
  On cached EfficientNet-Lite0 features of ShapeWorld pictures it reached 99.2 % validation
  top-1 where pooled ``c5`` reached 96.1 % (assets/models/README.md).

:class:`ClassifierNet` joins a backbone and :class:`ClassifyHead` for training; only the head
is exported as the classify model (input ``c5``, output ``logits``), the backbone on its own. During
ShapeWorld pre-training an auxiliary dense head (:class:`AuxSegHead`, a 1x1 convolution on
``c3`` predicting the semantic map) gives the backbone one label per feature cell instead of
one per image, which makes it learn shapes several times faster; it is never exported.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from visionkit.nn.fpn import conv_bn_relu


class ClassifyHead(nn.Module):
    """``c5`` (N, C, h, w) -> logits (N, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int, drop_rate: float = 0.2):
        super().__init__()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, c5: Tensor) -> Tensor:
        return self.fc(self.drop(torch.mean(c5, dim=(2, 3))))


class StagesClassifyHead(nn.Module):
    """``c4``, ``c5`` -> logits (N, num_classes): convolutions on each stage, pooled, joined."""

    def __init__(self, c4_channels: int, c5_channels: int, num_classes: int, width: int = 128,
                 drop_rate: float = 0.2):
        super().__init__()
        self.c4 = nn.Sequential(conv_bn_relu(c4_channels, width), conv_bn_relu(width, width))
        self.c5 = conv_bn_relu(c5_channels, width, k=1)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(2 * width, num_classes)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, c4: Tensor, c5: Tensor) -> Tensor:
        pooled = torch.cat([torch.mean(self.c4(c4), dim=(2, 3)), torch.mean(self.c5(c5), dim=(2, 3))], dim=1)
        return self.fc(self.drop(pooled))


class AuxSegHead(nn.Module):
    """Training-only: ``c3`` -> per-cell class logits (background + classes)."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)
        nn.init.xavier_uniform_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, c3: Tensor) -> Tensor:
        return self.conv(c3)


class ClassifierNet(nn.Module):
    """Backbone (anything with ``forward_features(x) -> {"c3": ..., "c5": ...}``) plus a
    classify head and, optionally, the auxiliary dense head."""

    def __init__(self, backbone: nn.Module, head: ClassifyHead, aux: AuxSegHead | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.aux = aux

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone.forward_features(x)["c5"])

    def forward_train(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(logits, aux logits or None)``."""
        feats = self.backbone.forward_features(x)
        aux = self.aux(feats["c3"]) if self.aux is not None else None
        return self.head(feats["c5"]), aux
