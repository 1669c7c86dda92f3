"""Motion detection by background subtraction: what differs from a running average of the
frames is moving.

The background forgets at a rate given in seconds, not frames: each frame weighs
``1 - exp(-dt / background_seconds)``, with ``dt`` from the source's frame rate and the frame
numbers (a camera that skipped frames moves the background on by as many), so a clip at 10 fps
and one at 60 fps absorb a parked car in the same time. The heat map fades the same way.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from visionkit.tasks import FrameInfo, Task, TaskInputs

from .results import Motion

#: frames are compared at most this wide: enough for people and cars, cheap at any resolution
WORK_WIDTH = 320
#: the rate assumed for sources that have none (stills, arrays)
FALLBACK_FPS = 25.0
_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


class MotionTask(Task):
    """Moving regions of a video against a background learned as it plays."""

    name = "motion"
    requires_model = False
    stateful = True  # the background is built from earlier frames
    default_options = {"background_seconds": 2.0, "threshold": 25, "min_area": 0.002, "heat_seconds": 1.0}
    option_limits = {
        "background_seconds": (0.05, 3600.0),  # how long a change takes to become background
        "threshold": (1, 255),  # grey-level difference that counts as motion
        "min_area": (0.0, 1.0),  # smallest region kept, as a share of the picture
        "heat_seconds": (0.0, 60.0),  # how long the heat map's trail lasts (0: no trail)
    }

    def __init__(self, model: Any = None, **options: Any) -> None:
        super().__init__(model, **options)
        self.reset()

    def reset(self) -> None:
        self._background: np.ndarray | None = None
        self._heat: np.ndarray | None = None
        self._last_index: int | None = None

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Motion:
        gray = _small_gray(inputs.image)
        dt = self._seconds_since_last(inputs.frame)
        if self._background is None or self._background.shape != gray.shape:
            self._background, self._heat = gray.copy(), np.zeros_like(gray)
            return Motion(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 0.0, learning=True,
                          mask=np.zeros(gray.shape, bool), heat=self._heat.copy())
        moving = cv2.absdiff(gray, self._background) > self.options["threshold"]
        mask = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, _KERNEL)  # drop speckle
        mask = cv2.dilate(mask, _KERNEL, iterations=2)  # join the parts of one object
        weight = 1.0 - math.exp(-dt / self.options["background_seconds"])
        cv2.accumulateWeighted(gray, self._background, weight)
        fade = math.exp(-dt / self.options["heat_seconds"]) if self.options["heat_seconds"] > 0 else 0.0
        self._heat = np.maximum(self._heat * fade, mask.astype(np.float32))
        boxes, areas = self._regions(mask, inputs.image.shape[:2])
        return Motion(boxes, areas, float(mask.mean()), mask=mask.astype(bool), heat=self._heat.copy())

    def _seconds_since_last(self, frame: FrameInfo) -> float:
        steps = frame.index - self._last_index if self._last_index is not None else 1
        self._last_index = frame.index
        if not 0 < steps <= 1000:  # a seek backwards or a new numbering: one frame's worth
            steps = 1
        return steps / (frame.fps or FALLBACK_FPS)

    def _regions(self, mask: np.ndarray, frame_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (frame pixels) and areas of the connected moving regions, largest first."""
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sy, sx = frame_hw[0] / mask.shape[0], frame_hw[1] / mask.shape[1]
        least = self.options["min_area"] * mask.size
        found = [s for s in stats[1:n] if s[cv2.CC_STAT_AREA] >= max(1.0, least)]
        found.sort(key=lambda s: (-int(s[cv2.CC_STAT_AREA]), int(s[0]), int(s[1])))
        boxes = np.array([[x * sx, y * sy, (x + w) * sx, (y + h) * sy] for x, y, w, h, _ in found],
                         np.float32).reshape(-1, 4)
        areas = np.array([round(s[cv2.CC_STAT_AREA] * sx * sy) for s in found], np.int64)
        return boxes, areas


def _small_gray(image: np.ndarray) -> np.ndarray:
    """Grey levels (float32) at most WORK_WIDTH wide, blurred against sensor and codec noise."""
    h, w = image.shape[:2]
    if w > WORK_WIDTH:
        size = (WORK_WIDTH, max(1, round(h * WORK_WIDTH / w)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(gray, (5, 5), 0).astype(np.float32)
