"""The classification overlay: the top classes, as lines of the summary panel at the top left."""

from __future__ import annotations

import numpy as np

from visionkit.overlays import Label
from visionkit.results import Classification


def draw_classification(canvas: np.ndarray, result: Classification,
                        highlight: int | None = None) -> list[Label]:
    """No pixels of its own: the top three classes as text, placed and drawn by the renderer."""
    top = zip(result.labels[:3], result.scores[:3])
    return [Label(f"{label} {score:.2f}", kind="panel") for label, score in top]
