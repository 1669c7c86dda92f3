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
    """Per-pixel argmax at the model's output resolution, then mapped onto the image."""
    scores = np.asarray(outputs[0])[0]
    if scores.ndim != 3:
        raise ModelError(f"segmentation output should be (1, C, H, W) or (1, H, W, C), got {list(outputs[0].shape)}")
    axis = _class_axis(scores, len(card.labels) or min(scores.shape[0], scores.shape[-1]))
    ids = scores.argmax(axis=axis).astype(np.uint8)
    label_map = _onto_image(ids, inputs, card.input.size)
    names = card.labels or tuple(str(i) for i in range(scores.shape[axis]))
    return SegmentationMask(label_map, tuple(names))


def decode_label_map(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                     options: Mapping[str, Any]) -> SegmentationMask:
    """A head that already gives class ids per input pixel (``(1, H, W)`` uint8, the FCN head
    on the shared backbone): only the mapping back onto the image is left."""
    ids = np.asarray(outputs[0])
    if ids.ndim != 3 or ids.shape[0] != 1:
        raise ModelError(f"label-map output should be (1, H, W), got {list(ids.shape)}")
    ids = ids[0].astype(np.uint8, copy=False)
    size = inputs.input_size if min(inputs.input_size) > 0 else ids.shape
    return SegmentationMask(_onto_image(ids, inputs, size), tuple(card.labels))


def _onto_image(ids: np.ndarray, inputs: TaskInputs, input_size: tuple[int, int]) -> np.ndarray:
    """Class ids on the model's output grid -> one per original-image pixel: one inverse affine
    warp (nearest) that is right for a stretched, centre-cropped or letterboxed input; pixels
    the crop left out become background."""
    out_h, out_w = ids.shape
    in_h, in_w = input_size
    t = inputs.transform
    rx, ry = out_w / in_w, out_h / in_h
    h, w = inputs.image.shape[:2]
    if (rx, ry) == (1.0, 1.0) and (t.scale_x, t.scale_y, t.offset_x, t.offset_y) == (1.0, 1.0, 0.0, 0.0) \
            and (h, w) == (out_h, out_w):
        return ids
    # image pixel centre (x + 0.5) -> input (x + 0.5) * s + o -> output grid index (* r - 0.5)
    warp = np.array([[t.scale_x * rx, 0, (0.5 * t.scale_x + t.offset_x) * rx - 0.5],
                     [0, t.scale_y * ry, (0.5 * t.scale_y + t.offset_y) * ry - 0.5]], dtype=np.float64)
    return cv2.warpAffine(ids, warp, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
