"""Decoders from per-pixel class scores to a :class:`SegmentationMask` on the original image."""

from __future__ import annotations

from typing import Any, Mapping

import cv2
import numpy as np

from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.results import SegmentationMask
from visionkit.tasks import TaskInputs


def _class_axis(scores: np.ndarray, n_classes: int) -> int:
    if scores.shape[-1] == n_classes:
        return -1  # NHWC, as TFLite-born models such as DeepLabV3 give it
    if scores.shape[0] == n_classes:
        return 0
    raise ModelError(f"segmentation output {list(scores.shape)} has no axis of {n_classes} classes")


def decode_class_scores(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                        options: Mapping[str, Any]) -> SegmentationMask:
    """Per-pixel argmax at the model's output resolution, then one inverse affine warp (nearest)
    that maps every image pixel to its place in the output grid. The same warp is right for a
    stretched, centre-cropped or letterboxed input; pixels the crop left out become background.
    """
    scores = np.asarray(outputs[0])[0]
    if scores.ndim != 3:
        raise ModelError(f"segmentation output should be (1, C, H, W) or (1, H, W, C), got {list(outputs[0].shape)}")
    axis = _class_axis(scores, len(card.labels) or min(scores.shape[0], scores.shape[-1]))
    ids = scores.argmax(axis=axis).astype(np.uint8)
    out_h, out_w = ids.shape
    in_h, in_w = card.input.size
    t = inputs.transform
    rx, ry = out_w / in_w, out_h / in_h
    # image pixel centre (x + 0.5) -> input (x + 0.5) * s + o -> output grid index (* r - 0.5)
    warp = np.array([[t.scale_x * rx, 0, (0.5 * t.scale_x + t.offset_x) * rx - 0.5],
                     [0, t.scale_y * ry, (0.5 * t.scale_y + t.offset_y) * ry - 0.5]], dtype=np.float64)
    h, w = inputs.image.shape[:2]
    label_map = cv2.warpAffine(ids, warp, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    names = card.labels or tuple(str(i) for i in range(scores.shape[axis]))
    return SegmentationMask(label_map, tuple(names))
