"""Camera-motion compensation: the frame-to-frame warp of the background, from sparse optical flow.

Corners (Shi and Tomasi 1994) on a downscaled grey frame are followed into the next frame with
pyramidal Lucas-Kanade flow (Bouguet's implementation of Lucas and Kanade 1981), and a
rotation + uniform scale + translation is fitted with RANSAC, so moving objects are outliers
to the dominant, camera-induced motion. The 2x3 result goes to ``ByteTracker.apply_affine``
before the frame's ``update``, as BoT-SORT's global motion compensation does.

A time budget keeps this from eating the frame: each estimate is measured, and when one costs
more than ``budget_ms`` the next frames skip it (identity) until the average is back within the
budget. The reference frame stays the last one estimated, so the next estimate returns the
whole motion since then and nothing is lost, only applied late.

References:
    N. Aharon et al., "BoT-SORT: Robust Associations Multi-Pedestrian Tracking", arXiv:2206.14651.
    J. Shi and C. Tomasi, "Good Features to Track", CVPR 1994.
    B. D. Lucas and T. Kanade, "An Iterative Image Registration Technique with an Application
    to Stereo Vision", IJCAI 1981.
"""

from __future__ import annotations

import math
import time

import numpy as np

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class CameraMotion:
    """Per-stream estimator of the previous-to-current frame affine (2x3, full-size pixels).

    Args:
        max_side: the grey frame is downscaled so its longer side is at most this (speed; the
            background motion is smooth, and corners at 1/2-1/4 scale are plenty).
        budget_ms: time one estimate may take on average; None for no limit.
        max_corners, min_inliers: corner count requested; fewest RANSAC inliers to trust a fit.
    """

    def __init__(self, max_side: int = 480, budget_ms: float | None = 10.0,
                 max_corners: int = 300, min_inliers: int = 10):
        self.max_side, self.budget_ms = int(max_side), budget_ms
        self.max_corners, self.min_inliers = int(max_corners), int(min_inliers)
        self.last_ms = 0.0     # measured cost of the latest estimate
        self.skipped = False   # whether the latest call skipped the estimate for the budget
        self.failed = False    # whether the latest estimate fell back to identity
        self.reset()

    def reset(self) -> None:
        """New stream: forget the reference frame."""
        self._prev, self._prev_pts, self._skip = None, None, 0

    def _grey(self, frame: np.ndarray):
        import cv2  # lazily: the tracker itself never needs OpenCV

        img = np.asarray(frame)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY if img.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)
        if img.dtype != np.uint8:
            img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        scale = min(1.0, self.max_side / max(img.shape[:2]))
        if scale < 1.0:
            img = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                             interpolation=cv2.INTER_AREA)
        return img, scale, np.asarray(frame).shape[:2]

    def _corners(self, grey: np.ndarray):
        import cv2

        spacing = max(3, min(grey.shape) // 40)  # spread corners: one busy patch must not dominate
        return cv2.goodFeaturesToTrack(grey, self.max_corners, 0.01, spacing, blockSize=3)

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        """The 2x3 affine mapping the reference frame's pixels to this frame's (RGB or grey)."""
        import cv2

        self.skipped = self.failed = False
        if self._skip > 0 and self._prev is not None:
            self._skip -= 1
            self.skipped = True
            return IDENTITY.copy()
        t0 = time.perf_counter()
        grey, scale, shape = self._grey(frame)
        m, prev = IDENTITY.copy(), self._prev
        restart = prev is None or prev[1] != scale or prev[2] != shape  # first frame, or a new size
        fitted = False
        if not restart and self._prev_pts is not None:
            pts, status, _ = cv2.calcOpticalFlowPyrLK(prev[0], grey, self._prev_pts, None,
                                                      winSize=(21, 21), maxLevel=3)
            ok = status.reshape(-1) == 1
            if ok.sum() >= self.min_inliers:
                fit, inliers = cv2.estimateAffinePartial2D(self._prev_pts[ok], pts[ok], method=cv2.RANSAC,
                                                           ransacReprojThreshold=1.0)
                fitted = fit is not None and int(inliers.sum()) >= self.min_inliers and np.isfinite(fit).all()
                if fitted:
                    m = fit.astype(np.float64)
                    m[:, 2] /= scale  # translation back to full-size pixels; the linear part is scale-free
        self.failed = not restart and not fitted
        self._prev, self._prev_pts = (grey, scale, shape), self._corners(grey)
        self.last_ms = (time.perf_counter() - t0) * 1000.0
        if self.budget_ms is not None and self.budget_ms > 0 and self.last_ms > self.budget_ms:
            # measured, not guessed: skip enough frames that the average cost fits the budget
            self._skip = math.ceil(self.last_ms / self.budget_ms) - 1
        return m
