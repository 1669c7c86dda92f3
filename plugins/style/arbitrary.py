"""The arbitrary-style network at run time: any style picture, one decoder (AdaIN).

The backbone encodes the frame and the style picture; each channel of the frame's ``c2``-``c4``
maps takes the mean and deviation of the style's (Huang & Belongie 2017), and the decoder (the
``adain`` card's graph, a head on the shared backbone) turns them into the picture, whose
colours then take the style picture's mean and covariance (unless ``keep_colours`` keeps the
frame's). ``strength`` blends the frame's maps with the renormalised ones before decoding, as
the paper does, and the colours alike.

The shared backbone pass of the frame is made for the other heads, at their input size
(224 px, letterboxed); a picture made from it would be that small. So this decoder encodes the
frame once more at the size it paints at, ``size`` on the long side (0: the frame's, at most
:data:`DEFAULT_SIDE`), through the pipeline's own backbone session. The style picture's
statistics are computed once per picture and side, and kept.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

import cv2
import numpy as np

from visionkit.errors import InputError, ModelError, UsageError
from visionkit.imageio import read_image
from visionkit.preprocess import preprocess
from visionkit.tasks import TaskInputs

from .paintings import painting, parse_name
from .picture import colour_statistics, finish_picture, match_colours, network_picture

#: the long side the network paints at when neither the option nor the frame says less
DEFAULT_SIDE = 512
#: style pictures are measured at most this large (their statistics settle long before)
MAX_STYLE_SIDE = 1024
#: sides are rounded to this: the deepest map the decoder reads has stride 16
MULTIPLE = 16
#: the backbone's deepest map (stride 32) needs this much on every side
MIN_SIDE = 32
#: a style picture longer than this many times its width is cut to it: its statistics are the
#: same, and the short side keeps enough pixels for the backbone
MAX_STYLE_ASPECT = 4


def style_picture(value: str) -> tuple[str, np.ndarray]:
    """A style option -> (the style's name, RGB picture): a built-in painting (``mosaic``,
    ``strokes:7``) or a picture file; one line for anything else."""
    named = parse_name(value)
    if named is not None:
        kind, seed = named
        return value, painting(kind, seed, 512)
    if not os.path.isfile(value):
        raise UsageError(f"style {value!r} is neither a picture file nor a built-in painting "
                         "(mosaic, strokes, bands, dots, ink; or KIND:SEED)")
    try:
        image = read_image(value)
    except InputError as exc:
        raise UsageError(f"style picture {exc}") from None
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UsageError(f"style picture {os.path.basename(value)} is {w}x{h}: at least {MIN_SIDE} px a side")
    short = min(h, w)
    long = min(max(h, w), MAX_STYLE_ASPECT * short)
    y, x = (h - min(h, long)) // 2, (w - min(w, long)) // 2
    return os.path.splitext(os.path.basename(value))[0], image[y : y + min(h, long), x : x + min(w, long)]


def style_value(options: Mapping[str, Any]) -> str:
    """The style picture the option names; the default painting where it names none (it is
    empty, or names the network itself)."""
    value = str(options["style"])
    return "mosaic" if not value or value.lower().endswith(".onnx") else value


def moments(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (unbiased, as in training) deviation of (1, C, H, W) maps."""
    flat = f.reshape(f.shape[0], f.shape[1], -1).astype(np.float64)
    return flat.mean(axis=2)[..., None, None], flat.std(axis=2, ddof=1)[..., None, None]


def adain(content: np.ndarray, style: tuple[np.ndarray, np.ndarray], eps: float = 1e-5) -> np.ndarray:
    mean, std = moments(content)
    s_mean, s_std = style
    return ((content - mean) / (std + eps) * (s_std + eps) + s_mean).astype(np.float32)


def work_size(h: int, w: int, side: int) -> tuple[int, int]:
    """(height, width) with the long side ``side``, both rounded to :data:`MULTIPLE`."""
    s = side / max(h, w)
    return (max(MIN_SIDE, round(h * s / MULTIPLE) * MULTIPLE), max(MIN_SIDE, round(w * s / MULTIPLE) * MULTIPLE))


class AdainOutput:
    """The ``adain`` decoder: runs the backbone on the frame and the style picture, AdaIN, then
    its graph; the task passes it the options (which style, how strong, what size)."""

    def __init__(self, model) -> None:
        self.model = model
        self.name = model.path.name
        self.layers = tuple(model.card.config.get("layers", ("c4", "c3", "c2")))
        missing = [layer for layer in self.layers if layer not in {i.name for i in model.inputs}]
        if missing:
            raise ModelError(f"{self.name}: the card's layers {', '.join(missing)} are not inputs of the graph")
        self.note = lambda text: None
        #: (key, name, picture, colour statistics) of the style picture
        self._picture: tuple[Any, str, np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None
        self._moments: tuple[Any, dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
        self.style_name = ""

    def _encode(self, context, picture: np.ndarray) -> dict[str, np.ndarray]:
        spec = dataclasses.replace(context.backbone.card.input, size=picture.shape[:2])
        tensor, _ = preprocess(picture, spec)
        return context.features_batch(tensor)

    def prepare(self, value: str) -> None:
        """Read the style picture (or draw the painting) ``value`` names, once while it stays the
        same file; one line for one that cannot be a style."""
        key = (value, os.stat(value).st_mtime_ns if os.path.isfile(value) else None)
        if self._picture is None or self._picture[0] != key:
            name, image = style_picture(value)
            self._picture = (key, name, image, colour_statistics(image))

    def _style_moments(self, context, value: str, side: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        self.prepare(value)
        key, name, image, _ = self._picture
        if self._moments is None or self._moments[0] != (key, side):
            h, w = image.shape[:2]
            size = work_size(h, w, min(side, MAX_STYLE_SIDE))
            picture = cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA if max(h, w) > side else cv2.INTER_CUBIC)
            maps = self._encode(context, picture)
            self._moments = ((key, side), {layer: moments(maps[layer]) for layer in self.layers})
        self.style_name = name
        return self._moments[1]

    def run(self, inputs: TaskInputs, options: Mapping[str, Any]) -> list[np.ndarray]:
        context = inputs.context
        if context is None or context.backbone is None:
            raise ModelError(f"{self.name} encodes with the shared backbone, which this pipeline does not run "
                             "(make it the style task's model)")
        wanted, have = self.model.card.backbone, context.backbone.card
        if wanted is not None and wanted.hash != have.hash:
            raise ModelError(f"{self.name} was trained on backbone {wanted.name} ({wanted.hash}); this pipeline "
                             f"runs {have.name} ({have.hash})")
        h, w = inputs.image.shape[:2]
        side = int(options["size"]) or min(max(h, w), DEFAULT_SIDE)
        size = work_size(h, w, side)
        frame = cv2.resize(inputs.image, size[::-1], interpolation=cv2.INTER_AREA if size[0] < h else cv2.INTER_CUBIC)
        style = self._style_moments(context, style_value(options), side)
        maps = self._encode(context, frame)
        alpha = float(options["strength"])
        feeds = {}
        for layer in self.layers:
            styled = adain(maps[layer], style[layer])
            feeds[layer] = styled if alpha >= 1 else (alpha * styled + (1 - alpha) * maps[layer]).astype(np.float32)
        return self.model.run(feeds)

    def __call__(self, outputs: list[np.ndarray], inputs: TaskInputs, card, options: Mapping[str, Any]):
        picture = network_picture(outputs[0], self.name, bgr=False, scale=1.0)
        alpha = float(options["strength"])
        if not options["keep_colours"] and self._picture is not None:
            matched = match_colours(picture, self._picture[3])
            picture = matched if alpha >= 1 else cv2.addWeighted(matched, alpha, picture, 1 - alpha, 0.0)
        # the strength went into the maps: the pixels are not blended again
        return finish_picture(picture, inputs, options, style=self.style_name, network_size=picture.shape[:2],
                              blend=False)
