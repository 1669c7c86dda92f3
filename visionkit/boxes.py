"""Box utilities shared by detection decoders: conversion, clipping, per-class NMS.

NMS is OpenCV's (``cv2.dnn.NMSBoxesBatched``: greedy, per class), not a hand-written loop.
"""

from __future__ import annotations

import cv2
import numpy as np

from .preprocess import Transform


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def to_image(boxes_xyxy: np.ndarray, transform: Transform, width: int, height: int) -> np.ndarray:
    """Boxes in network-input pixels -> original-image pixels, clipped to the image."""
    out = transform.to_image(boxes_xyxy).astype(np.float32)
    np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
    return out


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou: float,
        max_det: int = 300) -> np.ndarray:
    """Indices kept by per-class greedy NMS at IoU ``iou``, best score first."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = boxes_xyxy.copy()
    xywh[:, 2:] -= xywh[:, :2]
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), class_ids.tolist(),
                                   score_threshold=0.0, nms_threshold=float(iou))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return keep[:max_det]


#: a highlighted item follows into the next frame when a box of its class overlaps this much
FOLLOW_IOU = 0.3


def iou_with(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each of ``boxes`` (N, 4) with one ``box``, all ``[x1, y1, x2, y2]``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    box = np.asarray(box, np.float64)
    inter_w = np.clip(np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0]), 0, None)
    inter_h = np.clip(np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1]), 0, None)
    inter = inter_w * inter_h

    def area(b: np.ndarray) -> np.ndarray:
        return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)

    union = area(boxes) + area(box) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def best_match(boxes: np.ndarray, class_ids: np.ndarray, box: np.ndarray, class_id: int,
               min_iou: float = FOLLOW_IOU) -> int | None:
    """The index of the box of class ``class_id`` that overlaps ``box`` most, if by ``min_iou``
    (how GUI panels keep a highlighted object selected from one frame to the next)."""
    if not len(boxes):
        return None
    iou = iou_with(boxes, box)
    iou[np.asarray(class_ids).reshape(-1) != class_id] = -1.0
    best = int(np.argmax(iou))
    return best if iou[best] >= min_iou else None
