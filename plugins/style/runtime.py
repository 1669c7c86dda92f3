"""Style transfer at run time: a feed-forward style network's output image -> :class:`StyledImage`.

A fast style network (Johnson, Alahi & Fei-Fei 2016) maps a picture to the same picture in the
style it was trained on. Many are exported with a fixed input size: the frame is resized to it
(as its card says) and the output resized back to the frame (or to ``size`` on its long side).
Its card's output is ``image`` (the decoder here); the output's channel order and scale are
the input's unless the card's ``config`` says otherwise:

``output_channel_order``  ``"rgb"`` or ``"bgr"``
``output_scale``          what one grey level is in the output: 1 for 0-255 outputs, ``1/255``
                          for 0-1 ones; values outside 0-255 are clamped

Options that need no other network: ``strength`` blends the styled picture with the frame
(1 = the network's picture), ``keep_colours`` keeps the frame's colours and takes only the
lightness from the network (Gatys et al. 2016, "Preserving color in neural artistic style
transfer": luminance-only transfer), ``size`` sets the output's long side (0: the frame's).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Mapping

import cv2
import numpy as np

from visionkit.errors import ModelError
from visionkit.results import StyledImage
from visionkit.tasks import DecoderTask, TaskInputs

#: a picture this many times the network's input side loses detail when squeezed into it
LARGE_FACTOR = 3
#: the largest output side accepted from a network (a wrong card or a broken model beyond it)
MAX_OUTPUT_SIDE = 8192


class StyleTask(DecoderTask):
    name: ClassVar[str] = "style"
    default_options: ClassVar[Mapping[str, Any]] = {"strength": 1.0, "keep_colours": False, "size": 0}
    option_limits: ClassVar[Mapping[str, tuple]] = {"strength": (0.0, 1.0), "size": (0, MAX_OUTPUT_SIDE)}

    def __init__(self, model, **options: Any) -> None:
        if model is not None and model.card.is_head:
            raise ModelError(f"{model.path.name}: style networks take the picture, not the backbone's maps")
        super().__init__(model, **options)
        if isinstance(self._decoder, ImageOutput):
            self._decoder.note = self.note


class ImageOutput:
    """The ``image`` decoder: a network's output picture, back at the frame's size."""

    def __init__(self, model) -> None:
        card = model.card
        self.name = model.path.name
        self.style = card.name or model.path.stem
        self.note = lambda text: None
        order = str(card.config.get("output_channel_order", card.input.channel_order)).lower()
        if order not in ("rgb", "bgr"):
            raise ModelError(f"{self.name}: card config output_channel_order is rgb or bgr, not {order!r}")
        self.bgr = order == "bgr"
        try:
            self.scale = float(card.config.get("output_scale", card.input.scale))
        except (TypeError, ValueError):
            raise ModelError(f"{self.name}: card config output_scale must be a number") from None
        if not self.scale > 0:
            raise ModelError(f"{self.name}: card config output_scale must be positive")

    def __call__(self, outputs: list[np.ndarray], inputs: TaskInputs, card, options: Mapping[str, Any]) -> StyledImage:
        start = time.perf_counter()
        picture = self.picture(outputs[0])
        h, w = inputs.image.shape[:2]
        net_h, net_w = inputs.input_size if inputs.input_size != (0, 0) else picture.shape[:2]
        if max(h, w) > LARGE_FACTOR * max(net_h, net_w):
            self.note(f"{w}x{h} pictures are styled at the network's {net_w}x{net_h} and enlarged: fine detail "
                      f"is lost (pass a smaller picture, or set style.size)")
        up = w > picture.shape[1]
        picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA)
        if options["keep_colours"]:
            picture = keep_colours(inputs.image, picture)
        strength = float(options["strength"])
        if strength < 1.0:
            picture = cv2.addWeighted(picture, strength, inputs.image, 1.0 - strength, 0.0)
        size = int(options["size"])
        if size:
            s = size / max(h, w)
            picture = cv2.resize(picture, (max(1, round(w * s)), max(1, round(h * s))),
                                 interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        ms = (time.perf_counter() - start) * 1000
        return StyledImage(np.ascontiguousarray(picture), style=self.style, info={
            "strength": strength, "keep_colours": bool(options["keep_colours"]),
            "network_size": [int(net_w), int(net_h)], "postprocess_ms": round(ms, 2)}, original=inputs.image)

    def picture(self, raw: np.ndarray) -> np.ndarray:
        """The network's output (1, 3, H, W) or (1, H, W, 3) -> RGB uint8 (H, W, 3)."""
        out = np.asarray(raw)
        if out.ndim == 4 and out.shape[0] == 1:
            out = out[0]
        if out.ndim != 3 or 3 not in (out.shape[0], out.shape[2]):
            raise ModelError(f"{self.name}: output of shape {tuple(np.shape(raw))} is not one 3-channel picture")
        if out.shape[0] == 3 and out.shape[2] != 3:
            out = out.transpose(1, 2, 0)
        if min(out.shape[:2]) < 8 or max(out.shape[:2]) > MAX_OUTPUT_SIDE:
            raise ModelError(f"{self.name}: an output picture of {out.shape[1]}x{out.shape[0]} is not a picture to show")
        if not np.issubdtype(out.dtype, np.number):
            raise ModelError(f"{self.name}: output of type {out.dtype} is not pixel values")
        values = out.astype(np.float32) / self.scale
        if not np.isfinite(values).all():
            raise ModelError(f"{self.name}: the output holds NaN or infinite values")
        picture = np.clip(values, 0, 255).round().astype(np.uint8)
        return np.ascontiguousarray(picture[..., ::-1] if self.bgr else picture)


def keep_colours(content: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """``styled``'s lightness with ``content``'s colour (the chroma channels of YCrCb)."""
    styled_ycc = cv2.cvtColor(styled, cv2.COLOR_RGB2YCrCb)
    content_ycc = cv2.cvtColor(content, cv2.COLOR_RGB2YCrCb)
    content_ycc[..., 0] = styled_ycc[..., 0]
    return cv2.cvtColor(content_ycc, cv2.COLOR_YCrCb2RGB)
