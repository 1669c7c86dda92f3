"""The region a figure's joints are regressed in: shared by training and run time.

DeepPose (Toshev & Szegedy 2014) normalises joint coordinates by the person's box, so one
regressor serves figures of every size. Detector boxes hug the *visible* pixels, while an
occluded limb's joints may lie outside them, and a thin figure's box may be a sliver: the
region is therefore a square around the box centre, :data:`MARGIN` times its longer side.
"""

from __future__ import annotations

import numpy as np

#: the square region's side, in longer box sides
MARGIN = 1.3


def pose_regions(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy boxes -> (N, 4) xyxy square regions around them."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = MARGIN * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    half = np.maximum(half, 4.0)[:, None]
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def to_region(points: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(N, K, 2) input pixels -> coordinates relative to each region (0..1 inside it)."""
    side = (regions[:, 2:] - regions[:, :2])[:, None, :]
    return (points - regions[:, None, :2]) / side
