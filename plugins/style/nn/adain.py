"""Arbitrary style transfer with adaptive instance normalisation, on the shared backbone.

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization"
(ICCV 2017): encode the content and the style picture with a fixed ImageNet network, give each
channel of the content's feature map the mean and standard deviation of the style's (AdaIN),
and decode the result to a picture with a decoder trained for it. Any style picture works at
run time; only the decoder is learned.

Here the encoder is the frozen backbone every task shares. Its stride-8 map (``c3``, 40
channels) is much thinner than VGG's ``relu4_1`` (512) that the paper decodes from, so the
decoder reads three maps, ``c4`` (stride 16), ``c3`` and ``c2`` (stride 4), each renormalised by
AdaIN, and joins them on its way up as a U-Net joins its skips: the deep map carries the
content's layout, the shallow ones the style's fine texture. Upsampling is nearest-neighbour
followed by a convolution (no transposed convolutions: they leave checkerboards), with
reflection padding as in the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: the backbone maps the decoder reads, deepest first
LAYERS = ("c4", "c3", "c2")


def adain(content: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """``content`` (N, C, H, W) with each channel's mean and deviation replaced by ``style``'s."""
    c_mean, c_std = content.mean((2, 3), keepdim=True), content.std((2, 3), keepdim=True) + eps
    s_mean, s_std = style.mean((2, 3), keepdim=True), style.std((2, 3), keepdim=True) + eps
    return (content - c_mean) / c_std * s_std + s_mean


class Conv(nn.Module):
    """Reflection padding, a 3x3 convolution and (except at the end) a ReLU."""

    def __init__(self, cin: int, cout: int, relu: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(cin, cout, 3)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(self.pad(x))
        return F.relu(x) if self.relu else x


class Up(nn.Module):
    """Twice the size, a skip map joined where there is one, two convolutions."""

    def __init__(self, cin: int, skip: int, cout: int):
        super().__init__()
        self.a = Conv(cin + skip, cout)
        self.b = Conv(cout, cout)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            if skip.shape[2:] != x.shape[2:]:  # sides that were not multiples of the strides
                x = F.interpolate(x, size=skip.shape[2:], mode="nearest")
            x = torch.cat([x, skip], dim=1)
        return self.b(self.a(x))


class AdaINDecoder(nn.Module):
    """Renormalised ``c4``, ``c3``, ``c2`` maps -> an RGB picture 0-255 at four times ``c2``'s size."""

    def __init__(self, channels: dict[str, int], width: int = 64):
        super().__init__()
        w = width
        self.head = nn.Sequential(Conv(channels["c4"], 2 * w), Conv(2 * w, 2 * w))
        self.up3 = Up(2 * w, channels["c3"], w)
        self.up2 = Up(w, channels["c2"], w // 2)
        self.up1 = Up(w // 2, 0, w // 4)
        self.up0 = Up(w // 4, 0, w // 4)
        self.out = Conv(w // 4, 3, relu=False)

    def forward(self, c4: Tensor, c3: Tensor, c2: Tensor) -> Tensor:
        x = self.up2(self.up3(self.head(c4), c3), c2)
        return 127.5 * (torch.tanh(self.out(self.up0(self.up1(x)))) + 1.0)


def adain_decoder(channels: dict[str, int], width: int = 64) -> AdaINDecoder:
    """The decoder for a backbone whose ``c2``-``c4`` maps have ``channels``; ``width=64``
    is the bundled one (0.45 M parameters for EfficientNet-Lite0's 24/40/112 channels)."""
    return AdaINDecoder(channels, width=width)


#: decoders visionkit ships: file -> how it was made (the model README has the numbers)
WEIGHTS = {
    "style_adain.onnx": "adain_decoder(width=64) on efficientnet_lite0_backbone, "
                        "visionkit train adain --content scikit-image --styles paintings scikit-image --seed 0",
}
