"""Draws a :class:`~visionkit_motion.results.Motion`: the fading heat map, then a box round
each moving region (the one picked in the app thicker)."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import draw_label_panel

from .results import Motion

BOX_COLOUR = (255, 160, 0)  # RGB orange: apart from the class colours of the detectors


def draw_motion(canvas: np.ndarray, result: Motion, highlight: int | None = None) -> None:
    h, w = canvas.shape[:2]
    if result.heat is not None and result.heat.any():
        heat = cv2.resize(result.heat, (w, h), interpolation=cv2.INTER_LINEAR)
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
        weight = (0.55 * heat)[..., None]  # where nothing moved, the frame shows through untouched
        canvas[:] = (canvas * (1 - weight) + colour * weight).astype(np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(np.round(result.boxes).astype(int)):
        thick = 3 if i == highlight else 1
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), BOX_COLOUR, thick, cv2.LINE_AA)
    if result.learning:
        draw_label_panel(canvas, [result.summary()])
