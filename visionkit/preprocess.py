"""Turn an RGB uint8 image into a model's input tensor, exactly as its card says.

Besides the tensor, :func:`preprocess` returns the :class:`Transform` that maps points of the
network input back to the original image, so boxes and keypoints come out in image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .cards import InputSpec
from .errors import InputError

_NP = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8, "int8": np.int8}


@dataclass(frozen=True)
class Transform:
    """``image_xy = (input_xy - offset) / scale``, per axis."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Points (..., 2) or boxes (..., 4) in network-input pixels -> original-image pixels."""
        xy = np.asarray(xy, dtype=np.float32)
        reps = xy.shape[-1] // 2
        scale = np.tile([self.scale_x, self.scale_y], reps)
        offset = np.tile([self.offset_x, self.offset_y], reps)
        return (xy - offset) / scale

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float32)
        reps = xy.shape[-1] // 2
        return xy * np.tile([self.scale_x, self.scale_y], reps) + np.tile([self.offset_x, self.offset_y], reps)


#: the largest intermediate picture "shorter side to resize, then crop" may make
MAX_RESIZED_PIXELS = 64_000_000


def _interpolation(scale: float) -> int:
    """Area averaging only when shrinking by more than 2x, where linear would alias: it costs
    8x linear (0.39 vs 0.05 ms for 320x240 -> 171x128 here) and measured no accuracy gain on
    ShapeWorld scenes shrunk 1.9x or 3.75x (97.8 % either way)."""
    return cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` at ``width`` x ``height``. A shrink by more than 2x halves the picture by area
    averaging (OpenCV's fast exact-2x path; an odd side rounds down and takes the general,
    slower one) while it stays at least twice the target, then
    finishes linearly: 2560x1920 -> 416x312 took 8.2 ms this way against 25.7 ms in one area
    resize, and differed from it by 0.45 grey levels on average where linear differed by 1.1."""
    h, w = image.shape[:2]
    while w >= 2 * width and h >= 2 * height:
        w, h = w // 2, h // 2
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    if (w, h) == (width, height):
        return image
    return cv2.resize(image, (width, height), interpolation=_interpolation(min(width / w, height / h)))


def _geometry(image: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    h, w = image.shape[:2]
    out_h, out_w = spec.size
    if spec.letterbox:
        s = min(out_w / w, out_h / h)
        new_w, new_h = max(1, round(w * s)), max(1, round(h * s))
        resized = _resize(image, new_w, new_h)
        if spec.letterbox_align == "center":
            ox, oy = (out_w - new_w) // 2, (out_h - new_h) // 2
        else:
            ox, oy = 0, 0
        canvas = np.full((out_h, out_w, 3), spec.pad_value, dtype=np.uint8)
        canvas[oy : oy + new_h, ox : ox + new_w] = resized
        return canvas, Transform(new_w / w, new_h / h, ox, oy)
    if spec.resize:
        s = spec.resize / min(w, h)
        new_w, new_h = max(out_w, round(w * s)), max(out_h, round(h * s))
        if new_w * new_h > MAX_RESIZED_PIXELS:  # a 1 x 10000 strip would need gigabytes
            raise InputError(f"a {w}x{h} image is too elongated for this model's resize to {spec.resize} "
                             f"(it would need a {new_w}x{new_h} intermediate picture)")
        resized = _resize(image, new_w, new_h)
        crop_h, crop_w = (spec.crop, spec.crop) if spec.crop else (out_h, out_w)
        y0, x0 = (new_h - crop_h) // 2, (new_w - crop_w) // 2
        cropped = resized[y0 : y0 + crop_h, x0 : x0 + crop_w]
        if (crop_h, crop_w) != (out_h, out_w):
            cropped = cv2.resize(cropped, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        fx, fy = out_w / crop_w, out_h / crop_h
        return cropped, Transform(new_w / w * fx, new_h / h * fy, -x0 * fx, -y0 * fy)
    if (h, w) == (out_h, out_w):
        return image, Transform(1.0, 1.0, 0.0, 0.0)
    return _resize(image, out_w, out_h), Transform(out_w / w, out_h / h, 0.0, 0.0)


@dataclass(frozen=True)
class _Affine:
    """Per-channel ``x * a + b`` folding scale, mean and std into one multiply-add."""

    a: np.ndarray
    b: np.ndarray


@lru_cache(maxsize=64)
def _affine(spec: InputSpec) -> _Affine:
    # mean and std are given in the model's own channel order, applied after reordering
    std = np.asarray(spec.std, dtype=np.float32)
    mean = np.asarray(spec.mean, dtype=np.float32)
    return _Affine(np.float32(spec.scale) / std, -mean / std)


@lru_cache(maxsize=64)
def _is_raw_pixels(spec: InputSpec) -> bool:
    return spec.dtype == "uint8" and spec.scale == 1.0 and not any(spec.mean) and spec.std == (1.0, 1.0, 1.0)


def _planar(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """HWC uint8 -> (1, 3, H, W) float, one channel plane at a time: the uint8 plane cast,
    scaled and shifted straight into its place in the tensor. The interleaved way (cast the
    whole HWC picture, normalise it, transpose, copy) made four float passes over scattered
    memory: 8.2 against 0.42 ms for a 640x640 input here."""
    h, w = pixels.shape[:2]
    affine = _affine(spec)
    out = np.empty((1, 3, h, w), np.float32)
    planes = cv2.split(pixels)
    if spec.channel_order == "bgr":
        planes = planes[::-1]
    for c, plane in enumerate(planes):
        np.multiply(plane, affine.a[c], out=out[0, c])
        if affine.b[c]:
            out[0, c] += affine.b[c]
    return out if spec.dtype == "float32" else out.astype(_NP[spec.dtype])


def preprocess(image: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    """RGB uint8 HxWx3 -> (1, C, H, W) or (1, H, W, C) tensor of ``spec.dtype``, and its Transform."""
    pixels, transform = _geometry(image, spec)
    return to_tensor(pixels, spec), transform


def network_pixels(image: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    """The first half of :func:`preprocess`: the RGB uint8 picture at the network's input size
    (resized, cropped or letterboxed as the card says), before any normalisation. Tools that
    change pixels the network sees (occlusion, adversarial examples) work on this picture and
    hand it to :func:`to_tensor`."""
    return _geometry(image, spec)


def to_tensor(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The second half of :func:`preprocess`: RGB uint8 pixels at the input size -> the (1, ...)
    tensor of ``spec``'s layout, dtype and normalisation."""
    if _is_raw_pixels(spec):
        # the model normalises inside its graph: hand it the pixels, no copy when possible
        if spec.channel_order == "bgr":
            pixels = pixels[..., ::-1]
        tensor = pixels if spec.layout == "NHWC" else pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(tensor[None])
    if spec.layout == "NCHW" and spec.dtype in ("float32", "float16"):
        return _planar(pixels, spec)
    if spec.channel_order == "bgr":
        pixels = pixels[..., ::-1]
    dtype = _NP[spec.dtype]
    affine = _affine(spec)
    if spec.dtype in ("uint8", "int8"):
        values = pixels.astype(np.float32) * affine.a + affine.b
        info = np.iinfo(dtype)
        tensor = np.clip(np.rint(values), info.min, info.max).astype(dtype)
    else:
        # (HWC float32) * a + b; numpy broadcasts the per-channel vectors over the last axis
        tensor = pixels.astype(np.float32)
        tensor *= affine.a
        tensor += affine.b
        if dtype is not np.float32:
            tensor = tensor.astype(dtype)
    if spec.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor[None])
