"""The detection overlay: a box and a label per object, in its class's colour."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import FONT, class_colour, text_scale
from visionkit.results import Detections


def draw_detections(canvas: np.ndarray, result: Detections, highlight: int | None = None) -> None:
    scale = text_scale(canvas)
    thick = max(1, round(2 * scale))
    order = [i for i in range(len(result)) if i != highlight] + ([highlight] if highlight is not None else [])
    for i in order:  # the highlighted box last, so it is on top
        x1, y1, x2, y2 = (int(round(v)) for v in result.boxes[i])
        colour = class_colour(int(result.class_ids[i]))
        if highlight is not None and i != highlight:
            colour = tuple(int(c * 0.45) for c in colour)
        width = thick * 3 if i == highlight else thick
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, width, cv2.LINE_AA)
        text = f"{result.labels[i]} {result.scores[i]:.2f}"
        (tw, th), base = cv2.getTextSize(text, FONT, scale, max(1, thick // 2))
        ty = y1 - base - 2 if y1 - th - base - 2 >= 0 else y1 + th + 2
        cv2.rectangle(canvas, (x1, ty - th - 2), (x1 + tw + 4, ty + base), colour, -1)
        cv2.putText(canvas, text, (x1 + 2, ty), FONT, scale, (0, 0, 0), max(1, thick // 2), cv2.LINE_AA)
