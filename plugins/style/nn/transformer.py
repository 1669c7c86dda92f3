"""A fast style network: one picture in, the same picture in one style out.

Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (ECCV 2016): an image transformation network trained with a perceptual loss
on a fixed loss network. With the two changes that later work found to matter: instance
normalisation instead of batch normalisation (Ulyanov, Vedaldi & Lempitsky 2016) and upsampling
by a resize followed by a convolution instead of a transposed convolution, which leaves no
checkerboard (Odena, Dumoulin & Olah 2016).

Pictures go in and come out as RGB float 0-255, any size (the network is fully convolutional).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ConvBlock(nn.Module):
    """Reflection padding, a convolution, instance norm, ReLU (or nothing at the very end)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, *, norm: bool = True, relu: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.norm = nn.InstanceNorm2d(cout, affine=True) if norm else nn.Identity()
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(self.pad(x)))
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.a = ConvBlock(channels, channels, 3)
        self.b = ConvBlock(channels, channels, 3, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.b(self.a(x))


class UpsampleConv(nn.Module):
    """Nearest-neighbour upsampling by 2, then a convolution block."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__()
        self.conv = ConvBlock(cin, cout, kernel)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    """Down twice, ``blocks`` residual blocks at a quarter of the size, up twice."""

    def __init__(self, width: int = 32, blocks: int = 5):
        super().__init__()
        w = width
        self.down = nn.Sequential(ConvBlock(3, w, 9), ConvBlock(w, 2 * w, 3, 2), ConvBlock(2 * w, 4 * w, 3, 2))
        self.res = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(blocks)])
        self.up = nn.Sequential(UpsampleConv(4 * w, 2 * w), UpsampleConv(2 * w, w),
                                ConvBlock(w, 3, 9, norm=False, relu=False))

    def forward(self, pixels: Tensor) -> Tensor:
        """(N, 3, H, W) RGB 0-255 -> the same, styled; H and W multiples of 4 come back whole."""
        h, w = pixels.shape[2:]
        y = self.up(self.res(self.down(pixels / 127.5 - 1.0)))
        if y.shape[2:] != (h, w):  # sides that are not multiples of 4
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        return 127.5 * (torch.tanh(y) + 1.0)


def transformer_net(width: int = 32, blocks: int = 5) -> TransformerNet:
    """The network Johnson et al. describe at ``width=32`` (their first layer's channels)."""
    return TransformerNet(width=width, blocks=blocks)
