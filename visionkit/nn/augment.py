"""Training augmentation on image batches, every random draw from a passed ``torch.Generator``.

Batches are float tensors ``(N, 3, H, W)`` with values in [0, 1]; :func:`to_float` turns
uint8 NHWC arrays/tensors (what the data generators return) into that. Each transform takes
the batch and a generator and returns a new batch; :class:`Augment` chains them with the
settings of a recipe. The same generator state gives the same output.

Transforms: horizontal flip, random crop with padding, random resized crop, a random affine
warp (scale, aspect stretch, rotation, shear, translation) and colour jitter (brightness,
contrast, saturation, per-channel colour cast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Augment", "to_float", "normalize", "hflip", "random_crop", "random_resized_crop",
    "random_affine", "colour_jitter", "warp_labels",
]


def to_float(images, channels_last: bool = False) -> Tensor:
    """uint8 ``(N, H, W, 3)`` (numpy or torch) -> float ``(N, 3, H, W)`` in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if t.ndim == 3:
        t = t[None]
    t = t.permute(0, 3, 1, 2).float().div_(255.0)
    return t.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def normalize(x: Tensor, mean, std) -> Tensor:
    """``(x - mean) / std`` per channel, for a ``(N, 3, H, W)`` batch."""
    m = torch.as_tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def hflip(x: Tensor, g: torch.Generator | None = None, p: float = 0.5) -> Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = (torch.rand(x.shape[0], generator=g) < p).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def random_crop(x: Tensor, g: torch.Generator | None = None, padding: int = 8, mode: str = "replicate") -> Tensor:
    """Pad each side by ``padding`` pixels and cut a random window of the original size."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode=mode)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=g).tolist()
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=g).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def _warp(x: Tensor, theta: Tensor, padding_mode: str) -> Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def warp_labels(labels: Tensor, theta: Tensor, fill: int = 0) -> Tensor:
    """Warp integer label maps ``(N, h, w)`` (any resolution) with the affine ``theta`` of an
    image warp: nearest sampling, ``fill`` where the warp reads outside the map."""
    n, h, w = labels.shape
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    src = labels.to(torch.float32)[:, None] + 1.0  # 0 marks "outside"
    out = F.grid_sample(src, grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0]
    out = out.round().to(labels.dtype) - 1
    return torch.where(out < 0, torch.full_like(out, fill), out)


def random_resized_crop(
    x: Tensor, g: torch.Generator | None = None, scale: tuple[float, float] = (0.6, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3), padding_mode: str = "border",
) -> Tensor:
    """Crop a random window (``scale`` of the area, aspect in ``ratio``) and resize it back."""
    n = x.shape[0]
    area = _uniform(n, *scale, g)
    log_r = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), g)
    r = torch.exp(log_r)
    sw = torch.sqrt(area * r).clamp(max=1.0)  # window width, fraction of the image
    sh = torch.sqrt(area / r).clamp(max=1.0)
    cx = (torch.rand(n, generator=g) * 2 - 1) * (1 - sw)
    cy = (torch.rand(n, generator=g) * 2 - 1) * (1 - sh)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sw, cx
    theta[:, 1, 1], theta[:, 1, 2] = sh, cy
    return _warp(x, theta, padding_mode)


def random_affine(
    x: Tensor, g: torch.Generator | None = None, scale: tuple[float, float] = (0.9, 1.1),
    stretch: float = 1.2, degrees: float = 0.0, shear: float = 0.0, translate: float = 0.05,
    padding_mode: str = "border", return_theta: bool = False,
):
    """Random geometric distortion: zoom, aspect stretch up to ``stretch`` along x or y,
    rotation within +-``degrees``, shear within +-``shear`` and shift within +-``translate``
    (fractions of the image). ``return_theta`` also returns the (N, 2, 3) sampling matrices
    (for :func:`warp_labels`)."""
    n = x.shape[0]
    s = _uniform(n, *scale, g)
    a = torch.exp(_uniform(n, -math.log(stretch), math.log(stretch), g))
    t = _uniform(n, -degrees, degrees, g) * (math.pi / 180.0)
    sh = _uniform(n, -shear, shear, g)
    tx, ty = _uniform(n, -translate, translate, g), _uniform(n, -translate, translate, g)
    # output -> input sampling matrix: R(t) @ Shear @ diag(1 / (s * a), a / s)
    sx, sy = 1.0 / (s * a), a / s
    c, si = torch.cos(t), torch.sin(t)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = c * sx
    theta[:, 0, 1] = (c * sh - si) * sy
    theta[:, 1, 0] = si * sx
    theta[:, 1, 1] = (si * sh + c) * sy
    theta[:, 0, 2], theta[:, 1, 2] = tx * 2, ty * 2
    out = _warp(x, theta, padding_mode)
    return (out, theta) if return_theta else out


def colour_jitter(
    x: Tensor, g: torch.Generator | None = None, brightness: float = 0.25, contrast: float = 0.25,
    saturation: float = 0.3, cast: float = 0.08,
) -> Tensor:
    """Random brightness, contrast, saturation (each a factor within 1 +- value) and a colour
    cast (per-channel gain within 1 +- ``cast``); values stay in [0, 1]."""
    n = x.shape[0]
    b = _uniform(n, 1 - brightness, 1 + brightness, g).view(n, 1, 1, 1)
    c = _uniform(n, 1 - contrast, 1 + contrast, g).view(n, 1, 1, 1)
    s = _uniform(n, 1 - saturation, 1 + saturation, g).view(n, 1, 1, 1)
    gain = _uniform(3 * n, 1 - cast, 1 + cast, g).view(n, 3, 1, 1)
    x = x * b
    grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = grey + (x - grey) * s
    mean = grey.mean(dim=(2, 3), keepdim=True)
    x = mean + (x - mean) * c
    return (x * gain).clamp_(0.0, 1.0)


@dataclass
class Augment:
    """The augmentation of a recipe; ``augment(x, generator)`` applies the enabled steps.

    Zero/None/False switches a step off.
    """

    flip: float = 0.5
    affine_scale: tuple[float, float] = (0.9, 1.1)
    stretch: float = 1.2
    degrees: float = 0.0
    shear: float = 0.0
    translate: float = 0.06
    crop_padding: int = 0
    resized_crop: tuple[float, float] | None = None
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    cast: float = 0.08
    affine_p: float = 0.8  # share of images that get a geometric distortion

    def __call__(self, x: Tensor, g: torch.Generator | None = None, labels: Tensor | None = None):
        """Augment ``x``; with ``labels`` (integer maps ``(N, h, w)`` aligned with the images,
        any resolution) apply the same flips and warps to them and return ``(x, labels)``.
        Crops are image-only: switch them off when passing labels."""
        if self.flip:
            flip = (torch.rand(x.shape[0], generator=g) < self.flip)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            if labels is not None:
                labels = torch.where(flip.view(-1, 1, 1), labels.flip(2), labels)
        if labels is None and self.crop_padding:
            x = random_crop(x, g, self.crop_padding)
        if labels is None and self.resized_crop:
            x = random_resized_crop(x, g, self.resized_crop)
        if self.affine_p > 0 and (self.stretch > 1 or self.degrees or self.shear or self.translate
                                  or tuple(self.affine_scale) != (1.0, 1.0)):
            warped, theta = random_affine(x, g, self.affine_scale, self.stretch, self.degrees,
                                          self.shear, self.translate, return_theta=True)
            keep = torch.rand(x.shape[0], generator=g) >= self.affine_p
            x = torch.where(keep.view(-1, 1, 1, 1), x, warped)
            if labels is not None:
                labels = torch.where(keep.view(-1, 1, 1), labels, warp_labels(labels, theta))
        if self.brightness or self.contrast or self.saturation or self.cast:
            x = colour_jitter(x, g, self.brightness, self.contrast, self.saturation, self.cast)
        return x if labels is None else (x, labels)
