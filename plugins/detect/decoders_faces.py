"""Face detectors' raw outputs: UltraFace's boxes, and YuNet's boxes with five landmarks.

YuNet finds each face with its eyes, nose tip and mouth corners: the ``yunet`` decoder gives
the faces as :class:`Detections` (the detect task: boxes, tracking, COCO files), and the
``yunet_landmarks`` decoder gives the same faces as :class:`Keypoints` with their boxes (the
landmarks task). Both read YuNet's two published layouts: the anchor-free model of 2023
(12 outputs) and the earlier prior-box model (``loc``, ``conf``, ``iou``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from visionkit.boxes import nms
from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.results import Detections, Keypoints
from visionkit.tasks import TaskInputs

from .decoders import as_rows, detections

FACE = ("face",)
#: YuNet's landmarks, as the face sees itself: its right eye is on the picture's left
FACE_LANDMARKS = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")


def decode_ultraface(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                     options: Mapping[str, Any]) -> Detections:
    """UltraFace (an SSD whose graph decodes its priors): per prior, class probabilities with
    the background first, and the box's corners as fractions of the network input."""
    if len(outputs) != 2:
        raise ModelError(f"UltraFace gives two outputs (class probabilities and boxes); this model "
                         f"gives {len(outputs)}")
    probs, corners = (as_rows(o) for o in outputs)
    if corners.shape[1] != 4 and probs.shape[1] == 4:
        probs, corners = corners, probs
    if len(probs) != len(corners) or corners.shape[1] != 4 or probs.shape[1] < 2:
        raise ModelError(f"UltraFace gives per prior (background, classes...) and (x1, y1, x2, y2); "
                         f"this model's outputs are {[list(np.shape(o)) for o in outputs]}")
    h, w = card.input.size
    class_probs = probs[:, 1:]
    class_ids = class_probs.argmax(axis=1)
    scores = class_probs[np.arange(len(class_ids)), class_ids]
    boxes = corners * np.array([w, h, w, h], np.float32)
    return detections(boxes, scores, class_ids, inputs, card, options, FACE)


def _yunet_grid(outputs: list[np.ndarray], size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The 2023 model: per stride 8/16/32 and cell, class and objectness scores, a box
    ``(dx, dy, log w, log h)`` and five landmark offsets, all in strides from the cell's corner."""
    h, w = size
    flat = [as_rows(o) for o in outputs]
    boxes, scores, points = [], [], []
    for stride in (8, 16, 32):
        rows, cols = -(-h // stride), -(-w // stride)
        level = [t for t in flat if len(t) == rows * cols]
        widths = sorted(t.shape[1] for t in level)
        if widths != [1, 1, 4, 10]:
            raise ModelError(f"YuNet gives four outputs of {rows * cols} rows at stride {stride} for a "
                             f"{h}x{w} input (scores, objectness, box, landmarks); this model's outputs "
                             f"are {[list(np.shape(o)) for o in outputs]}")
        # scores and objectness (one value each: their order does not matter), box, landmarks
        cls, obj, box, kps = sorted(level, key=lambda t: t.shape[1])
        ys, xs = np.divmod(np.arange(rows * cols), cols)
        cells = np.stack([xs, ys], axis=1).astype(np.float32)
        centres = (cells + box[:, :2]) * stride
        sizes = np.exp(box[:, 2:4]) * stride
        boxes.append(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1))
        # the geometric mean of the two scores, as the model was trained to be read
        scores.append(np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1)))
        points.append((kps.reshape(-1, 5, 2) + cells[:, None, :]) * stride)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(points)


#: the prior-box model's prior sizes (input pixels) per level, at strides 8, 16, 32, 64
_PRIOR_SIZES = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
_CENTRE_VARIANCE, _SIZE_VARIANCE = 0.1, 0.2


@lru_cache(maxsize=8)
def _yunet_priors(height: int, width: int) -> np.ndarray:
    """(N, 4) priors ``(cx, cy, w, h)`` in input pixels, cell by cell, level by level."""
    # the map sizes the network makes: two halvings that round up, then halvings that round down
    fh, fw = ((height + 1) // 2) // 2, ((width + 1) // 2) // 2
    priors = []
    for step, sizes in zip((8, 16, 32, 64), _PRIOR_SIZES):
        fh, fw = fh // 2, fw // 2
        for i in range(fh):
            for j in range(fw):
                for s in sizes:
                    priors.append(((j + 0.5) * step, (i + 0.5) * step, s, s))
    return np.asarray(priors, np.float32).reshape(-1, 4)


def _yunet_priors_decode(outputs: list[np.ndarray], size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The prior-box model: per prior, SSD offsets for the box and the five landmarks, face
    probabilities (background first) and a predicted IoU of the box."""
    flat = {t.shape[1]: t for t in (as_rows(o) for o in outputs)}
    priors = _yunet_priors(*size)
    if sorted(flat) != [1, 2, 14] or any(len(t) != len(priors) for t in flat.values()):
        raise ModelError(f"YuNet (prior boxes) gives loc, conf and iou for the {len(priors)} priors of a "
                         f"{size[0]}x{size[1]} input; this model's outputs are "
                         f"{[list(np.shape(o)) for o in outputs]}")
    loc, conf, iou = flat[14], flat[2], flat[1]
    centres = priors[:, :2] + loc[:, :2] * _CENTRE_VARIANCE * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(loc[:, 2:4] * _SIZE_VARIANCE)
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    points = priors[:, None, :2] + loc[:, 4:].reshape(-1, 5, 2) * _CENTRE_VARIANCE * priors[:, None, 2:]
    scores = np.sqrt(np.clip(conf[:, 1], 0, 1) * np.clip(iou[:, 0], 0, 1))
    return boxes, scores, points


def _yunet(outputs: list[np.ndarray], card: ModelCard,
           options: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces kept by the options: boxes, scores and (N, 5, 2) landmarks in network-input pixels."""
    size = card.input.size
    if len(outputs) == 3:
        boxes, scores, points = _yunet_priors_decode(outputs, size)
    elif len(outputs) == 12:
        boxes, scores, points = _yunet_grid(outputs, size)
    else:
        raise ModelError(f"YuNet gives 12 outputs (2023 model) or 3 (loc, conf, iou); this model "
                         f"gives {len(outputs)}")
    keep = scores >= options["score"]
    boxes, scores, points = boxes[keep], scores[keep], points[keep]
    kept = nms(boxes, scores, np.zeros(len(scores), np.int64), options["iou"], options["max_det"])
    return boxes[kept].astype(np.float32), scores[kept].astype(np.float32), points[kept].astype(np.float32)


def decode_yunet(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                 options: Mapping[str, Any]) -> Detections:
    """YuNet's faces as boxes labelled ``face`` (or the card's one label)."""
    boxes, scores, _ = _yunet(outputs, card, options)
    return detections(boxes, scores, np.zeros(len(scores), np.int64), inputs, card, options, FACE)


def decode_yunet_landmarks(outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard,
                           options: Mapping[str, Any]) -> Keypoints:
    """YuNet's faces with their five landmarks; each landmark's confidence is its face's score
    (the model rates faces, not single points)."""
    boxes, scores, points = _yunet(outputs, card, options)
    h, w = inputs.image.shape[:2]
    boxes = inputs.transform.to_image(boxes).reshape(-1, 4)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
    xy = inputs.transform.to_image(points.reshape(-1, 2)).reshape(-1, len(FACE_LANDMARKS), 2)
    confidence = np.repeat(scores[:, None, None], len(FACE_LANDMARKS), axis=1)
    return Keypoints(boxes.astype(np.float32), scores, np.concatenate([xy, confidence], axis=2).astype(np.float32),
                     FACE_LANDMARKS)
