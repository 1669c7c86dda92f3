"""A cartoon filter: smoothed flat colours with dark edges, returned as a
:class:`~visionkit.results.StyledImage`, which replaces the frame under every overlay."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.results import StyledImage
from visionkit.tasks import Task, TaskInputs


class CartoonTask(Task):
    """The picture with ``levels`` tones per channel and inked edges."""

    name = "cartoon"
    requires_model = False
    default_options = {"levels": 6, "smoothing": 2, "edges": True}
    option_limits = {"levels": (2, 32), "smoothing": (0, 5)}

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> StyledImage:
        levels, image = self.options["levels"], inputs.image
        smooth = image
        for _ in range(self.options["smoothing"]):  # edge-preserving: flat areas, sharp borders
            smooth = cv2.bilateralFilter(smooth, 7, 50, 7)
        # each channel to `levels` evenly spaced tones, black and white included
        flat = (smooth.astype(np.uint16) * levels // 256 * 255 // (levels - 1)).astype(np.uint8)
        if self.options["edges"]:
            gray = cv2.medianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 5)
            ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
            flat[ink == 0] = 0
        return StyledImage(np.ascontiguousarray(flat), style="cartoon",
                           info={"levels": int(levels), "edges": bool(self.options["edges"])})

