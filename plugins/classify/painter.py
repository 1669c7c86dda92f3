"""The classification overlay: the top classes on a dark panel, top-left."""

from __future__ import annotations

import numpy as np

from visionkit.overlays import draw_label_panel
from visionkit.results import Classification


def draw_classification(canvas: np.ndarray, result: Classification, highlight: int | None = None) -> None:
    lines = [f"{label} {score:.2f}" for label, score in zip(result.labels[:3], result.scores[:3])]
    draw_label_panel(canvas, lines)
