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
