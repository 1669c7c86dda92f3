"""The detection overlay: a box per object in its class's colour, and a label naming it."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label, class_colour, dimmed, line_width
from visionkit.results import Detections


def draw_detections(canvas: np.ndarray, result: Detections, highlight: int | None = None) -> list[Label]:
    """Draws the boxes (a highlighted one thicker and on top, the others dimmed) and returns
    their labels, best score first, for the renderer to place where they cover nothing."""
    thick = line_width(canvas)
    n = len(result)
    order = [i for i in range(n) if i != highlight] + ([highlight] if highlight is not None else [])
    for i in order:  # the highlighted box last, so it is on top
        x1, y1, x2, y2 = (int(round(v)) for v in result.boxes[i])
        colour = class_colour(result.labels[i])
        if highlight is not None and i != highlight:
            colour = dimmed(colour)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick * 3 if i == highlight else thick, cv2.LINE_AA)
    labels = []
    for i in sorted(range(n), key=lambda i: -float(result.scores[i])):
        emphasis = "" if highlight is None else ("strong" if i == highlight else "dim")
        name = result.labels[i]
        labels.append(Label(f"{name} {float(result.scores[i]):.2f}", class_colour(name),
                            box=tuple(float(v) for v in result.boxes[i]), emphasis=emphasis))
    return labels
