"""The segmentation overlay: translucent class colours, and a legend of the classes present."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label, class_colour
from visionkit.results import SegmentationMask


def draw_segmentation(canvas: np.ndarray, result: SegmentationMask, highlight: int | None = None,
                      alpha: float = 0.5) -> list[Label]:
    """Translucent class colours over the image; returns the legend (largest class first)."""
    label_map = result.label_map
    if label_map.shape != canvas.shape[:2]:
        label_map = cv2.resize(label_map, canvas.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    ids = [int(i) for i in np.unique(label_map) if i != 0]
    if not ids:
        return []
    names = result.class_names
    lut = np.zeros((256, 3), np.uint8)
    for i in ids:
        lut[i] = class_colour(names[i] if i < len(names) else str(i))
    mask = label_map != 0
    canvas[mask] = (canvas[mask] * (1 - alpha) + lut[label_map[mask]] * alpha).astype(np.uint8)
    return [Label(name, class_colour(name), kind="legend") for name in result.areas()]
