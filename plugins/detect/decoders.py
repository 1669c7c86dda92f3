"""Decoders from detector families' raw outputs to :class:`Detections` in image pixels."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from visionkit.boxes import cxcywh_to_xyxy, nms, to_image
from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.results import Detections
from visionkit.tasks import TaskInputs

YOLOX_STRIDES = (8, 16, 32)


@lru_cache(maxsize=8)
def _yolox_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets (x, y) and strides of every row of a YOLOX output, row-major per stride."""
    cells, strides = [], []
    for s in YOLOX_STRIDES:
        ys, xs = np.mgrid[0 : height // s, 0 : width // s]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((xs.size, 1), s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def _detections(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, labels) -> Detections:
    names = tuple(labels[i] if i < len(labels) else str(i) for i in class_ids.tolist())
    return Detections(boxes.astype(np.float32), scores.astype(np.float32), class_ids.astype(np.int64), names)


def decode_yolox(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                 options: Mapping[str, Any]) -> Detections:
    """YOLOX rows ``(dx, dy, log w, log h, objectness, class scores...)`` per grid cell.

    Centres are ``(cell + d) * stride`` and sizes ``exp(log) * stride`` in network-input
    pixels (Ge et al. 2021, "YOLOX: Exceeding YOLO Series in 2021"); the exported graph has
    already applied the sigmoids. A box's score is objectness x class score.
    """
    rows = np.asarray(outputs[0], dtype=np.float32).reshape(-1, outputs[0].shape[-1])
    cells, strides = _yolox_grid(*card.input.size)
    if len(rows) != len(cells):
        raise ModelError(f"YOLOX output has {len(rows)} rows, a {card.input.size[0]}x{card.input.size[1]} "
                         f"input at strides {YOLOX_STRIDES} gives {len(cells)}")
    class_scores = rows[:, 4:5] * rows[:, 5:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores >= options["score"]
    rows, strides, cells, scores, class_ids = rows[keep], strides[keep], cells[keep], scores[keep], class_ids[keep]
    centres = (rows[:, :2] + cells) * strides
    sizes = np.exp(rows[:, 2:4]) * strides
    boxes = cxcywh_to_xyxy(np.concatenate([centres, sizes], axis=1))
    kept = nms(boxes, scores, class_ids, options["iou"], options["max_det"], options.get("agnostic", False))
    h, w = inputs.image.shape[:2]
    return _detections(to_image(boxes[kept], inputs.transform, w, h), scores[kept], class_ids[kept], card.labels)
