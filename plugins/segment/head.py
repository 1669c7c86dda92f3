"""The FCN segmentation head (torch) on the shared backbone.

Long, Shelhamer & Darrell 2015, "Fully Convolutional Networks for Semantic Segmentation": the
coarse, semantic maps are upsampled and added to finer ones (their FCN-8s skips), here
through a top-down fusion down to stride 4 (c5 -> c4 -> c3 -> c2), one 3x3 convolution, a 1x1
classifier, and a bilinear upsampling to the input's resolution.

:class:`FCNHead` gives logits at stride 4 for training (the loss is taken after the same
bilinear upsampling); :class:`FCNLabels` is what is exported: class ids per input pixel,
uint8, so the run-time side only maps the label map back onto the image.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from visionkit.nn.fpn import TopDownFusion


class FCNHead(nn.Module):
    """c2..c5 -> class logits (N, 1 + C, H/4, W/4); class 0 is the background."""

    def __init__(self, in_channels: Mapping[str, int], num_classes: int, width: int = 48):
        super().__init__()
        self.fusion = TopDownFusion(in_channels, width, outputs=("c2",))
        self.classifier = nn.Conv2d(width, num_classes + 1, 1)

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor, c5: Tensor) -> Tensor:
        return self.classifier(self.fusion(c2, c3, c4, c5)[0])

    def upsampled(self, *features: Tensor) -> Tensor:
        """Logits at the input's resolution (4x bilinear), as exported."""
        return F.interpolate(self(*features), scale_factor=4.0, mode="bilinear", align_corners=False)

    def sampled(self, *features: Tensor, step: int = 2) -> Tensor:
        """:meth:`upsampled`'s values at every ``step``-th input pixel (rows and columns), for a
        training loss against ``labels[:, ::step, ::step]`` at a fraction of the cost."""
        logits = self(*features)
        n, _, h, w = logits.shape

        def axis(size: int) -> Tensor:
            # input pixel i -> stride-4 map coordinate (i + 0.5) / 4 - 0.5, as interpolate maps it
            src = (torch.arange(0, 4 * size, step, dtype=logits.dtype) + 0.5) / 4 - 0.5
            return (2 * src.clamp(min=0) + 1) / size - 1

        gy, gx = axis(h), axis(w)
        grid = torch.stack(torch.broadcast_tensors(gx[None, :], gy[:, None]), dim=-1)
        return F.grid_sample(
            logits, grid.expand(n, -1, -1, -1), mode="bilinear", padding_mode="border", align_corners=False
        )


class FCNLabels(nn.Module):
    """Export wrapper: c2..c5 -> ``labels`` (N, H, W) uint8 class ids at the input's resolution."""

    def __init__(self, head: FCNHead):
        super().__init__()
        self.head = head

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor, c5: Tensor) -> Tensor:
        return torch.argmax(self.head.upsampled(c2, c3, c4, c5), dim=1).to(torch.uint8)
