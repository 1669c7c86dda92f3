"""The embeddings overlay: a small swatch at each embedded box's top-left corner, its colour
read from the vector, so objects that look alike to the model get alike colours."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label, line_width

from .results import Embeddings

_DIRECTIONS: dict[int, np.ndarray] = {}


def swatch_colours(vectors: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 colours: each vector projected on three fixed random directions."""
    d = vectors.shape[1] if vectors.ndim == 2 else 0
    if d not in _DIRECTIONS:  # fixed per length, so a colour means the same on every frame
        _DIRECTIONS[d] = np.random.default_rng(d).normal(size=(d, 3)).astype(np.float32)
    z = vectors @ _DIRECTIONS[d] * 2.0  # unit vectors project to about +-1/sqrt(3) per axis
    return (255 / (1 + np.exp(-z))).astype(np.uint8)


def draw_embeddings(canvas: np.ndarray, result: Embeddings, highlight: int | None = None) -> list[Label]:
    side = 3 * line_width(canvas) + 3
    for n, (box, colour) in enumerate(zip(result.boxes, swatch_colours(result.vectors))):
        x, y = int(box[0]), int(box[1])
        grow = side if n == highlight else 0
        cv2.rectangle(canvas, (x, y), (x + side + grow, y + side + grow), (255, 255, 255), -1)
        cv2.rectangle(canvas, (x + 1, y + 1), (x + side + grow - 1, y + side + grow - 1),
                      tuple(int(c) for c in colour), -1)
    return [Label(result.summary(), kind="panel")] if len(result) else []
