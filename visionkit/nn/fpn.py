"""Top-down feature fusion (Lin et al. 2017, "Feature Pyramid Networks for Object Detection").

Every dense head on the shared backbone needs fine positions *and* deep semantics: a 1x1
lateral per level brings the maps to one width, each coarser map is upsampled and added to
the next finer one, and a 3x3 convolution smooths the chosen output levels. Each head owns
its fusion (heads are separate ONNX files and plugins share nothing but core), so the fusion
is kept small: 1x1 laterals and one or two 3x3 smoothing convolutions.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TopDownFusion", "conv_bn_relu"]


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class TopDownFusion(nn.Module):
    """Feature maps (finest first, e.g. c2..c5) -> fused maps at the ``outputs`` levels.

    :param in_channels: ``{name: channels}`` finest first, each level half the previous size.
    :param width: channels of every fused map.
    :param outputs: the level names to return, each smoothed by a 3x3 conv + BN + ReLU.
    """

    def __init__(self, in_channels: Mapping[str, int], width: int, outputs: Sequence[str]):
        super().__init__()
        self.names = tuple(in_channels)
        self.outputs = tuple(outputs)
        unknown = set(self.outputs) - set(self.names)
        if unknown:
            raise ValueError(f"output levels {sorted(unknown)} are not among {self.names}")
        self.lateral = nn.ModuleDict({n: nn.Conv2d(c, width, 1) for n, c in in_channels.items()})
        self.smooth = nn.ModuleDict({n: conv_bn_relu(width, width) for n in self.outputs})

    def merged(self, *features: Tensor) -> tuple[Tensor, ...]:
        """Every level's lateral plus the upsampled coarser sum, finest first, unsmoothed."""
        fused: list[Tensor] = []
        top = None
        for name, x in zip(reversed(self.names), reversed(features)):
            x = self.lateral[name](x)
            if top is not None:
                x = x + F.interpolate(top, size=x.shape[-2:], mode="nearest")
            top = x
            fused.append(x)
        return tuple(reversed(fused))

    def forward(self, *features: Tensor) -> tuple[Tensor, ...]:
        fused = dict(zip(self.names, self.merged(*features)))
        return tuple(self.smooth[n](fused[n]) for n in self.outputs)
