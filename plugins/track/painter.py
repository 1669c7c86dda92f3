"""The tracking overlay: each track's box in the colour of its id, its recent path as a trail
that fades into the past, and a label with the id and class."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label, dimmed, instance_colour, line_width
from visionkit.results import Tracks


def id_colour(track_id: int) -> tuple[int, int, int]:
    """One colour per id, the same in every frame (ids are reused only by a new source)."""
    return instance_colour(int(track_id) % 1024)  # bounded: a long stream's ids cycle the palette


def draw_tracks(canvas: np.ndarray, result: Tracks, highlight: int | None = None) -> list[Label]:
    """Trails under boxes, the highlighted track last (on top); returns the id labels."""
    thick = line_width(canvas)
    n = len(result)
    order = [i for i in range(n) if i != highlight] + ([highlight] if highlight is not None else [])
    for i in order:
        colour = id_colour(result.ids[i])
        if highlight is not None and i != highlight:
            colour = dimmed(colour)
        trail = result.trails[i] if len(result.trails) > i else np.zeros((0, 2))
        points = trail[np.isfinite(trail).all(1)]
        for k in range(1, len(points)):
            # older segments thinner and darker: the path fades into the background
            age = k / len(points)
            shade = tuple(int(c * (0.35 + 0.65 * age)) for c in colour)
            a, b = (int(round(v)) for v in points[k - 1]), (int(round(v)) for v in points[k])
            cv2.line(canvas, tuple(a), tuple(b), shade, max(1, int(round(thick * (0.5 + age)))), cv2.LINE_AA)
        x1, y1, x2, y2 = (int(round(v)) for v in result.boxes[i])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick * 3 if i == highlight else thick, cv2.LINE_AA)
    labels = []
    for i in range(n):
        emphasis = "" if highlight is None else ("strong" if i == highlight else "dim")
        labels.append(Label(f"#{int(result.ids[i])} {result.labels[i]}", id_colour(result.ids[i]),
                            box=tuple(float(v) for v in result.boxes[i]), emphasis=emphasis))
    return labels
