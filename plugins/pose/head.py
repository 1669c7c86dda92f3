"""The DeepPose-style keypoint head (torch) on the shared backbone.

Toshev & Szegedy 2014, "DeepPose: Human Pose Estimation via Deep Neural Networks": joints are
*regressed* as coordinates normalised to the person's region, not found as heat-map peaks.
Here the region's features are pooled from the shared backbone (a top-down fusion to stride
8, then RoIAlign, see :mod:`visionkit.nn.roi_align`) instead of re-running a network on a
crop; three convolutions and two fully connected layers give, per joint, ``(u, v)`` in the
region and a confidence that the joint is visible.

The exported graph maps ``(u, v)`` back to input pixels itself, so its ``keypoints`` output
is ``(R, K, 3)``: x, y in input pixels, confidence 0..1.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from visionkit.nn.fpn import TopDownFusion
from visionkit.nn.roi_align import RoIAlign

POOL = 16


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # no batch norm: a batch holds only a handful of figures, too few for its statistics
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU(inplace=True))


class PoseHead(nn.Module):
    """(c3, c4, c5, regions (R, 4), batch_indices (R,)) -> raw (R, K, 3): u, v, visibility logit."""

    def __init__(self, in_channels: Mapping[str, int], num_joints: int, width: int = 64, hidden: int = 256):
        super().__init__()
        self.num_joints = num_joints
        self.fusion = TopDownFusion(in_channels, width, outputs=("c3",))
        self.pool = RoIAlign((POOL, POOL), spatial_scale=1 / 8, sampling_ratio=2)
        self.convs = nn.Sequential(
            _conv(width, width), _conv(width, 2 * width, 2), _conv(2 * width, 2 * width, 2)
        )
        flat = 2 * width * (POOL // 4) ** 2
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_joints * 3)
        )
        nn.init.zeros_(self.fc[-1].weight)
        with torch.no_grad():  # start every joint at the region's centre
            self.fc[-1].bias.view(num_joints, 3)[:, :2] = 0.5

    def raw(self, c3: Tensor, c4: Tensor, c5: Tensor, regions: Tensor, batch_indices: Tensor) -> Tensor:
        (p3,) = self.fusion(c3, c4, c5)
        x = self.convs(self.pool(p3.float(), regions, batch_indices))
        return self.fc(x).view(-1, self.num_joints, 3)

    def forward(self, c3: Tensor, c4: Tensor, c5: Tensor, regions: Tensor, batch_indices: Tensor) -> Tensor:
        out = self.raw(c3, c4, c5, regions, batch_indices)
        origin, side = regions[:, None, :2], (regions[:, 2:] - regions[:, :2])[:, None, :]
        return torch.cat([origin + out[..., :2] * side, torch.sigmoid(out[..., 2:])], dim=2)
