"""MediaPipe's palm detector: palms as boxes, each with seven points (wrist, finger bases).

The model predicts, for each of its SSD anchors (Liu et al. 2016; MediaPipe's palm model of
Zhang et al. 2020, "MediaPipe Hands"), a palm score as a logit and offsets in network-input
pixels from the anchor's centre: the box centre and size, then seven points. Its anchors
are one grid per stride, 8 and 16, with 2 and 6 anchors per cell, all of unit size: only
their centres matter. The hand path (:mod:`.hands`) crops each palm's hand from these.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from visionkit.boxes import nms, to_image
from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.results import Detections
from visionkit.tasks import TaskInputs

#: (stride, anchors per cell) of the palm model's grids
PALM_GRIDS = ((8, 2), (16, 6))
#: of the seven palm points (the wrist, the bases of the four fingers, two joints of the
#: thumb), the two that give the hand's direction
WRIST, MIDDLE_BASE = 0, 2


@lru_cache(maxsize=8)
def palm_anchors(height: int, width: int) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in input pixels, row by row, anchors of a cell together."""
    centres = []
    for stride, per_cell in PALM_GRIDS:
        rows, cols = -(-height // stride), -(-width // stride)
        ys, xs = np.mgrid[0:rows, 0:cols]
        cells = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def find_palms(outputs: list[np.ndarray], size: tuple[int, int],
               options: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Palms kept by ``score``/``iou``/``max_det``: boxes (N, 4), scores (N,) and points
    (N, 7, 2), in network-input pixels, best first."""
    anchors = palm_anchors(*size)
    flat = [np.asarray(o, np.float32).reshape(-1, np.shape(o)[-1]) for o in outputs]
    scores = next((t for t in flat if t.shape[1] == 1), None)
    offsets = next((t for t in flat if t.shape[1] > 4 and t.shape[1] % 2 == 0), None)
    if (len(outputs) != 2 or scores is None or offsets is None
            or len(scores) != len(anchors) or len(offsets) != len(anchors)):
        raise ModelError(f"the palm detector gives offsets and a score for each of the {len(anchors)} "
                         f"anchors of a {size[0]}x{size[1]} input; this model's outputs are "
                         f"{[list(np.shape(o)) for o in outputs]}")
    logits = np.clip(scores[:, 0], -80, 80)  # exp overflows float32 beyond ~88
    probs = 1 / (1 + np.exp(-logits))
    keep = np.flatnonzero(probs >= options["score"])
    centres = anchors[keep] + offsets[keep, :2]
    half = offsets[keep, 2:4] / 2
    boxes = np.concatenate([centres - half, centres + half], axis=1)
    points = anchors[keep, None, :] + offsets[keep, 4:].reshape(len(keep), (offsets.shape[1] - 4) // 2, 2)
    kept = nms(boxes, probs[keep], np.zeros(len(keep), np.int64), options["iou"], options["max_det"])
    return boxes[kept], probs[keep][kept], points[kept]


def decode_palms(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                 options: Mapping[str, Any]) -> Detections:
    """The palm detector as a detector: palms as boxes labelled ``palm``."""
    boxes, scores, _ = find_palms(outputs, card.input.size, options)
    h, w = inputs.image.shape[:2]
    labels = card.labels[:1] or ("palm",)
    return Detections(to_image(boxes, inputs.transform, w, h), scores.astype(np.float32),
                      np.zeros(len(scores), np.int64), labels * len(scores))
