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
        max_det: int = 300, agnostic: bool = False) -> np.ndarray:
    """Indices kept by per-class greedy NMS at IoU ``iou``, best score first; ``agnostic``
    suppresses across classes too (one box per object, whatever the classes say)."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    if agnostic:
        class_ids = np.zeros(len(scores), np.int64)
    xywh = np.array(boxes_xyxy, np.float64)
    xywh[:, 2:] -= xywh[:, :2]
    # arrays, not lists: OpenCV reads them as they are (.tolist() of 1,000 boxes cost 0.15 ms)
    keep = cv2.dnn.NMSBoxesBatched(xywh, np.ascontiguousarray(scores, np.float32),
                                   np.ascontiguousarray(class_ids, np.int32),
                                   score_threshold=0.0, nms_threshold=float(iou))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return keep[:max_det]


#: a highlighted item follows into the next frame when a box of its class overlaps this much
FOLLOW_IOU = 0.3


def iou_with(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each of ``boxes`` (N, 4) with one ``box``, all ``[x1, y1, x2, y2]``."""
    return box_iou(boxes, box)[:, 0]


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


_TINY = np.finfo(np.float64).tiny


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), xyxy (float64)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    # column against row: each step is one contiguous (N, M) array, no (N, M, 2) temporaries
    # (4x faster at 50 x 50, which a tracker computes every frame)
    ax1, ay1, ax2, ay2 = a.T[:, :, None]
    bx1, by1, bx2, by2 = b.T[:, None, :]
    inter = (np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0.0)
             * np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0.0))
    area_a = np.maximum(ax2 - ax1, 0.0) * np.maximum(ay2 - ay1, 0.0)
    area_b = np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    # an empty union has an empty intersection, so flooring it gives 0 there and changes nothing else
    return inter / np.maximum(area_a + area_b - inter, _TINY)


#: largest log-scale a decoded delta may apply (Faster R-CNN's log(1000/16)), against overflow
_MAX_LOG_SCALE = float(np.log(1000.0 / 16))


def encode_deltas(boxes: np.ndarray, targets: np.ndarray, weights=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """Faster R-CNN box deltas ``(dx, dy, dw, dh)`` that move ``boxes`` onto ``targets``
    (Ren et al. 2015): centre shifts in box widths/heights, log size ratios, times ``weights``."""
    wx, wy, ww, wh = weights
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    tw, th = targets[:, 2] - targets[:, 0], targets[:, 3] - targets[:, 1]
    dx = (targets[:, 0] + 0.5 * tw - boxes[:, 0] - 0.5 * bw) / bw
    dy = (targets[:, 1] + 0.5 * th - boxes[:, 1] - 0.5 * bh) / bh
    dw, dh = np.log(tw / bw), np.log(th / bh)
    return np.stack([wx * dx, wy * dy, ww * dw, wh * dh], axis=1).astype(np.float32)


def decode_deltas(boxes: np.ndarray, deltas: np.ndarray, weights=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """Inverse of :func:`encode_deltas`: ``deltas`` (N, 4) applied to ``boxes`` (N, 4)."""
    wx, wy, ww, wh = weights
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = boxes[:, 0] + 0.5 * bw, boxes[:, 1] + 0.5 * bh
    dw = np.minimum(deltas[:, 2] / ww, _MAX_LOG_SCALE)
    dh = np.minimum(deltas[:, 3] / wh, _MAX_LOG_SCALE)
    pcx, pcy = cx + deltas[:, 0] / wx * bw, cy + deltas[:, 1] / wy * bh
    pw, ph = np.exp(dw) * bw, np.exp(dh) * bh
    out = np.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], axis=1)
    return out.astype(np.float32)
