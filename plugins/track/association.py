"""Pairing tracks with detections: the thresholded minimum-cost assignment (IoU is core's
:func:`visionkit.boxes.box_iou`)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def linear_assignment(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(rows, cols)`` minimising the total cost, a pair only where ``cost < thresh``.

    Solving on ``min(cost - thresh, 0)`` is the same problem as lapjv's ``cost_limit`` (a pair
    left unmatched costs ``thresh``) without padding the matrix to ``(T+N)^2``.
    """
    empty = np.zeros(0, dtype=np.int64)
    if cost.size == 0:
        return empty, empty
    gain = np.minimum(cost - thresh, 0.0)
    rows_any, cols_any = np.arange(gain.shape[0]), np.arange(gain.shape[1])
    if gain.size > 4096:  # large frames: rows/columns with no candidate cannot match, drop them first
        rows_any, cols_any = np.flatnonzero(gain.min(1) < 0), np.flatnonzero(gain.min(0) < 0)
        gain = gain[np.ix_(rows_any, cols_any)]
    r, c = linear_sum_assignment(gain)
    keep = gain[r, c] < 0
    return rows_any[r[keep]], cols_any[c[keep]]
