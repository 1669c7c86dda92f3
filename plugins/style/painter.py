"""The before/after view of a styled picture: left of the split the frame as it came, right of
it the styled picture (the app's Style panel sets the split as ``highlight``, in thousandths of
the width). Without a split, the styled picture is drawn as it is: it is the base already."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label, line_width
from visionkit.results import StyledImage

#: ``highlight`` runs from 0 (all styled) to SPLIT_STEPS (all original)
SPLIT_STEPS = 1000


def draw_styled(canvas: np.ndarray, result: StyledImage, highlight: int | None = None) -> list[Label]:
    if highlight is None or result.original is None:
        return []
    h, w = canvas.shape[:2]
    x = int(round(w * min(max(highlight, 0), SPLIT_STEPS) / SPLIT_STEPS))
    if x <= 0:
        return []
    before = result.original[..., :3]
    if before.shape[:2] != (h, w):
        before = cv2.resize(before, (w, h), interpolation=cv2.INTER_AREA)
    canvas[:, :x] = before[:, :x]
    cv2.line(canvas, (x, 0), (x, h - 1), (255, 255, 255), line_width(canvas))
    return []
