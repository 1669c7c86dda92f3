"""A style network's output as a picture of the frame: read, checked, resized, finished.

Shared by every style network: the raw output (1, 3, H, W) or (1, H, W, 3) in some channel
order and scale becomes an RGB uint8 picture, one line for an output that is not one; then the
options that need no network: ``keep_colours`` keeps the frame's colours and takes only the
lightness from the network (Gatys et al. 2016, "Preserving color in neural artistic style
transfer": luminance-only transfer), ``strength`` blends it with the frame, ``size`` sets the
output's long side (0: the frame's).
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import cv2
import numpy as np

from visionkit.errors import ModelError
from visionkit.results import StyledImage
from visionkit.tasks import TaskInputs

#: the largest output side accepted from a network (a wrong card or a broken model beyond it)
MAX_OUTPUT_SIDE = 8192


def network_picture(raw: np.ndarray, name: str, *, bgr: bool, scale: float) -> np.ndarray:
    """A network's output (1, 3, H, W) or (1, H, W, 3) -> RGB uint8 (H, W, 3); ``scale`` is
    what one grey level is in the output, values outside 0-255 are clamped."""
    out = np.asarray(raw)
    if out.ndim == 4 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 3 or 3 not in (out.shape[0], out.shape[2]):
        raise ModelError(f"{name}: output of shape {tuple(np.shape(raw))} is not one 3-channel picture")
    if out.shape[0] == 3 and out.shape[2] != 3:
        out = out.transpose(1, 2, 0)
    if min(out.shape[:2]) < 8 or max(out.shape[:2]) > MAX_OUTPUT_SIDE:
        raise ModelError(f"{name}: an output picture of {out.shape[1]}x{out.shape[0]} is not a picture to show")
    if not np.issubdtype(out.dtype, np.number):
        raise ModelError(f"{name}: output of type {out.dtype} is not pixel values")
    values = out.astype(np.float32) / scale
    if not np.isfinite(values).all():
        raise ModelError(f"{name}: the output holds NaN or infinite values")
    picture = np.clip(values, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(picture[..., ::-1] if bgr else picture)


def keep_colours(content: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """``styled``'s lightness with ``content``'s colour (the chroma channels of YCrCb)."""
    styled_ycc = cv2.cvtColor(styled, cv2.COLOR_RGB2YCrCb)
    content_ycc = cv2.cvtColor(content, cv2.COLOR_RGB2YCrCb)
    content_ycc[..., 0] = styled_ycc[..., 0]
    return cv2.cvtColor(content_ycc, cv2.COLOR_YCrCb2RGB)


def colour_statistics(picture: np.ndarray, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The mean (3,) and covariance (3, 3) of a picture's RGB values, from every ``step``-th
    pixel along each axis (the statistics settle long before every pixel is counted)."""
    x = picture[::step, ::step].reshape(-1, 3).astype(np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False) + 1e-3 * np.eye(3)


def match_colours(picture: np.ndarray, target: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``picture`` with the mean and covariance of ``target``'s colours: whitened with its own
    covariance, coloured with the target's (Reinhard et al. 2001's colour transfer, over the
    full RGB covariance rather than per channel, so hues move together)."""
    mean, cov = colour_statistics(picture, step=4 if picture.shape[0] * picture.shape[1] > 128 * 128 else 1)
    t_mean, t_cov = target
    e, v = np.linalg.eigh(cov)
    te, tv = np.linalg.eigh(t_cov)
    transform = (tv * np.sqrt(np.maximum(te, 0))) @ tv.T @ (v / np.sqrt(np.maximum(e, 1e-6))) @ v.T
    affine = np.hstack([transform, (t_mean - transform @ mean)[:, None]]).astype(np.float32)
    return cv2.transform(np.ascontiguousarray(picture), affine)  # saturates to 0-255


def finish_picture(picture: np.ndarray, inputs: TaskInputs, options: Mapping[str, Any], *, style: str,
                   network_size: tuple[int, int], blend: bool = True) -> StyledImage:
    """The network's ``picture`` at the frame's size (or ``size``), with the colour option
    applied and, with ``blend``, the strength as a blend of pixels (a network that took the
    strength in already passes False), as the task's result."""
    start = time.perf_counter()
    h, w = inputs.image.shape[:2]
    up = w > picture.shape[1]
    picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA)
    if options["keep_colours"]:
        picture = keep_colours(inputs.image, picture)
    strength = float(options["strength"])
    if blend and strength < 1.0:
        picture = cv2.addWeighted(picture, strength, inputs.image, 1.0 - strength, 0.0)
    size = int(options["size"])
    if size:
        s = size / max(h, w)
        picture = cv2.resize(picture, (max(1, round(w * s)), max(1, round(h * s))),
                             interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    ms = (time.perf_counter() - start) * 1000
    net_h, net_w = network_size
    return StyledImage(np.ascontiguousarray(picture), style=style, info={
        "strength": strength, "keep_colours": bool(options["keep_colours"]),
        "network_size": [int(net_w), int(net_h)], "postprocess_ms": round(ms, 2)},
        original=inputs.image)
