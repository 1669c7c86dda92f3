"""The keypoint overlay: each instance's skeleton, bones as lines and joints as dots."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import dimmed, instance_colour, line_width
from visionkit.results import Keypoints

#: keypoints less confident than this are not drawn (nor the bones that touch them)
KEYPOINT_MIN_CONFIDENCE = 0.3


def draw_keypoints(canvas: np.ndarray, result: Keypoints, highlight: int | None = None) -> None:
    """Bones as lines and joints as dots, one colour per instance; a highlighted one thicker."""
    thick = line_width(canvas)
    for n in range(len(result)):
        colour = instance_colour(n)
        if highlight is not None and n != highlight:
            colour = dimmed(colour)
        width = thick * 2 if n == highlight else thick
        pts = result.points[n]
        visible = pts[:, 2] >= KEYPOINT_MIN_CONFIDENCE
        for i, j in result.skeleton:
            if visible[i] and visible[j]:
                cv2.line(canvas, (int(pts[i, 0]), int(pts[i, 1])), (int(pts[j, 0]), int(pts[j, 1])),
                         colour, width, cv2.LINE_AA)
        for k in np.flatnonzero(visible):
            cv2.circle(canvas, (int(pts[k, 0]), int(pts[k, 1])), width + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, (int(pts[k, 0]), int(pts[k, 1])), width + 1, colour, -1, cv2.LINE_AA)
