"""The two-stage detection head (torch): a region proposal network and a RoIAlign box head.

Ren et al. 2015, "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal
Networks"; RoIAlign from He et al. 2017, "Mask R-CNN". Exported as two graphs (see
``rcnn.py`` for the numpy between them):

* :class:`ProposalHead` ``(c2, c3, c4, c5) -> (objectness, deltas, p2)``: a top-down fusion
  gives ``p3`` (stride 8), where a 3x3 conv scores :data:`~.rcnn.ANCHOR_SIZES` x
  :data:`~.rcnn.ANCHOR_RATIOS` anchors per cell, and ``p2`` (stride 4) for pooling.
* :class:`BoxHead` ``(p2, rois, batch_indices) -> (probs, deltas)``: 7x7 RoIAlign on ``p2``
  (fine enough for 10-pixel shapes), two fully connected layers, softmax over background +
  classes and per-class box deltas.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from visionkit.nn.fpn import TopDownFusion, conv_bn_relu
from visionkit.nn.roi_align import RoIAlign

from .rcnn import ANCHOR_RATIOS, ANCHOR_SIZES

NUM_ANCHORS = len(ANCHOR_SIZES) * len(ANCHOR_RATIOS)
POOL = 7


class ProposalHead(nn.Module):
    """Backbone maps c2..c5 -> anchor objectness logits (N, A, H/8, W/8), deltas (N, 4A, H/8, W/8)
    and the fused stride-4 map ``p2`` (N, width, H/4, W/4)."""

    def __init__(self, in_channels: Mapping[str, int], width: int = 64):
        super().__init__()
        deep = {k: v for k, v in in_channels.items() if k != "c2"}
        self.fusion = TopDownFusion(deep, width, outputs=("c3",))
        # p2 only feeds RoIAlign: a 1x1 lateral plus the upsampled p3, no 3x3 at stride 4 (which
        # would cost as much as the whole rest of the head)
        self.lateral2 = nn.Conv2d(in_channels["c2"], width, 1)
        self.conv = conv_bn_relu(width, width)
        self.objectness = nn.Conv2d(width, NUM_ANCHORS, 1)
        self.deltas = nn.Conv2d(width, 4 * NUM_ANCHORS, 1)
        nn.init.normal_(self.objectness.weight, std=0.01)
        nn.init.constant_(self.objectness.bias, -4.0)  # few anchors hold objects: start near p=0.02
        nn.init.normal_(self.deltas.weight, std=0.001)
        nn.init.zeros_(self.deltas.bias)

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor, c5: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        (p3,) = self.fusion(c3, c4, c5)
        p2 = self.lateral2(c2) + F.interpolate(p3, size=c2.shape[-2:], mode="nearest")
        x = self.conv(p3)
        return self.objectness(x), self.deltas(x), p2


class BoxHead(nn.Module):
    """Pooled regions of ``p2`` -> class probabilities (R, 1 + C) and deltas (R, 4C)."""

    def __init__(self, num_classes: int, width: int = 64, hidden: int = 256, reduced: int = 32):
        super().__init__()
        self.num_classes = num_classes
        self.pool = RoIAlign((POOL, POOL), spatial_scale=1 / 4, sampling_ratio=2)
        self.reduce = conv_bn_relu(width, reduced, k=1)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(reduced * POOL * POOL, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        self.cls = nn.Linear(hidden, num_classes + 1)
        self.box = nn.Linear(hidden, 4 * num_classes)
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.zeros_(self.cls.bias)
        nn.init.normal_(self.box.weight, std=0.001)
        nn.init.zeros_(self.box.bias)

    def logits(self, p2: Tensor, rois: Tensor, batch_indices: Tensor) -> tuple[Tensor, Tensor]:
        x = self.fc(self.reduce(self.pool(p2.float(), rois, batch_indices)))
        return self.cls(x), self.box(x)

    def forward(self, p2: Tensor, rois: Tensor, batch_indices: Tensor) -> tuple[Tensor, Tensor]:
        logits, deltas = self.logits(p2, rois, batch_indices)
        return torch.softmax(logits, dim=1), deltas
