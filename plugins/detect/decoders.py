"""Decoders of anchor-free grid detectors, from raw outputs to :class:`Detections` in image pixels.

Both families predict one box per cell of feature maps at strides 8, 16 and 32, in
network-input pixels: YOLOX (also the light person detector, a one-class YOLOX) and NanoDet.
:func:`detections` is the step every detect decoder ends with: score floor, NMS, image pixels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from visionkit.boxes import cxcywh_to_xyxy, nms, to_image
from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.results import Detections
from visionkit.tasks import TaskInputs

YOLOX_STRIDES = (8, 16, 32)


def detections(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, inputs: TaskInputs,
               card: ModelCard, options: Mapping[str, Any], default_labels: Sequence[str] = ()) -> Detections:
    """Boxes in network-input pixels kept by the task's options, as image-pixel Detections.

    ``default_labels`` name the classes of a family that always detects the same things (a face
    detector's "face") when the card brings no labels of its own.
    """
    keep = scores >= options["score"]
    boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
    kept = nms(boxes, scores, class_ids, options["iou"], options["max_det"], options.get("agnostic", False))
    h, w = inputs.image.shape[:2]
    labels = card.labels or tuple(default_labels)
    class_ids = class_ids[kept].astype(np.int64)
    names = tuple(labels[i] if i < len(labels) else str(i) for i in class_ids.tolist())
    return Detections(to_image(boxes[kept], inputs.transform, w, h), scores[kept].astype(np.float32),
                      class_ids, names)


def as_rows(output: np.ndarray) -> np.ndarray:
    """One output as (rows, values): the batch of one and any leading axes folded away."""
    output = np.asarray(output, dtype=np.float32)
    return output.reshape(-1, output.shape[-1]) if output.ndim else output.reshape(1, 1)


@lru_cache(maxsize=8)
def _yolox_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets (x, y) and strides of every row of a YOLOX output, row-major per stride."""
    cells, strides = [], []
    for s in YOLOX_STRIDES:
        ys, xs = np.mgrid[0 : height // s, 0 : width // s]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((xs.size, 1), s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode_yolox(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                 options: Mapping[str, Any]) -> Detections:
    """YOLOX rows ``(dx, dy, log w, log h, objectness, class scores...)`` per grid cell.

    Centres are ``(cell + d) * stride`` and sizes ``exp(log) * stride`` in network-input
    pixels (Ge et al. 2021, "YOLOX: Exceeding YOLO Series in 2021"); the exported graph has
    already applied the sigmoids. A box's score is objectness x class score.
    """
    rows = as_rows(outputs[0])
    cells, strides = _yolox_grid(*card.input.size)
    if len(rows) != len(cells) or rows.shape[1] < 6:
        raise ModelError(f"YOLOX gives one row of 5 + classes values per cell, {len(cells)} rows for a "
                         f"{card.input.size[0]}x{card.input.size[1]} input at strides {YOLOX_STRIDES}; "
                         f"this model's first output is {list(np.shape(outputs[0]))}")
    class_scores = rows[:, 4:5] * rows[:, 5:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores >= options["score"]  # decode only what can survive: most cells are background
    rows, strides, cells, scores, class_ids = rows[keep], strides[keep], cells[keep], scores[keep], class_ids[keep]
    centres = (rows[:, :2] + cells) * strides
    sizes = np.exp(rows[:, 2:4]) * strides
    boxes = cxcywh_to_xyxy(np.concatenate([centres, sizes], axis=1))
    return detections(boxes, scores, class_ids, inputs, card, options)


#: NanoDet's bins per box side: distances 0..7 strides (``reg_max`` 7, as every released model)
NANODET_BINS = 8


def _nanodet_levels(outputs: list[np.ndarray], size: tuple[int, int],
                    n_labels: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(stride, class scores, side distributions)`` per level, paired by their row counts."""
    if len(outputs) < 2 or len(outputs) % 2:
        raise ModelError(f"NanoDet gives class scores and box distributions per stride (an even "
                         f"number of outputs); this model gives {len(outputs)}")
    flat = [as_rows(o) for o in outputs]
    h, w = size
    levels = []
    for i in range(len(outputs) // 2):
        stride = 8 * 2**i  # 8, 16, 32 (and 64 for the four-level models)
        cells = -(-h // stride) * -(-w // stride)  # the maps round up: a 3x3 conv of stride 2
        pair = [t for t in flat if len(t) == cells]
        if len(pair) != 2:
            raise ModelError(f"NanoDet gives two outputs of {cells} rows at stride {stride} for a {h}x{w} "
                             f"input; this model's outputs are {[list(np.shape(o)) for o in outputs]}")
        scores, dist = pair  # exported class scores first
        if (dist.shape[1] == n_labels != scores.shape[1]
                or (scores.shape[1] == 4 * NANODET_BINS != dist.shape[1])):
            scores, dist = dist, scores
        if dist.shape[1] != 4 * NANODET_BINS:
            raise ModelError(f"NanoDet's box output holds 4 x {NANODET_BINS} bins per cell, not "
                             f"{dist.shape[1]} values")
        levels.append((stride, scores, dist))
    return levels


def decode_nanodet(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                   options: Mapping[str, Any]) -> Detections:
    """NanoDet (GFL head): per cell, class scores and a distribution over 8 bins for each of
    the distances from the cell centre to the box's left, top, right and bottom.

    A distance is the distribution's expectation, in strides (Li et al. 2020, "Generalized
    Focal Loss"); cell centres are ``(cell + 0.5) * stride``. The exported graph has applied
    the class sigmoids; the bins come as logits.
    """
    boxes, scores, class_ids = [], [], []
    bins = np.arange(NANODET_BINS, dtype=np.float32)
    h, w = card.input.size
    for stride, level_scores, dist in _nanodet_levels(outputs, (h, w), len(card.labels)):
        best = level_scores.argmax(axis=1)
        score = level_scores[np.arange(len(best)), best]
        keep = np.flatnonzero(score >= options["score"])
        cols = -(-w // stride)
        centres = (np.stack([keep % cols, keep // cols], axis=1) + 0.5) * stride
        logits = dist[keep].reshape(-1, 4, NANODET_BINS)
        probs = np.exp(logits - logits.max(axis=2, keepdims=True))
        sides = (probs / probs.sum(axis=2, keepdims=True)) @ bins * stride  # (n, 4): l, t, r, b
        boxes.append(np.concatenate([centres - sides[:, :2], centres + sides[:, 2:]], axis=1))
        scores.append(score[keep])
        class_ids.append(best[keep])
    return detections(np.concatenate(boxes).astype(np.float32), np.concatenate(scores),
                      np.concatenate(class_ids), inputs, card, options)
