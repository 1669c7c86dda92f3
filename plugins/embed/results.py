"""The embed task's result: one appearance vector per detected object (numpy only).

Vectors are L2-normalised, so the cosine similarity of two objects is their dot product and
their Euclidean distance is ``sqrt(2 - 2 cos)``: what re-identification compares (FaceNet,
Schroff et al. 2015) and what a tracker fuses with box overlap (BoT-SORT, Aharon et al. 2022).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Embeddings:
    """Appearance vectors of the objects the detector found, in the detector's order.

    ``indices`` are the rows of the detect result each vector belongs to (the task embeds
    only detections above its ``score``), so a tracker puts the vectors beside its boxes
    without matching boxes again.
    """

    boxes: np.ndarray  # (N, 4) float32 [x1, y1, x2, y2], image pixels
    vectors: np.ndarray  # (N, D) float32, unit length
    labels: tuple[str, ...]
    scores: np.ndarray  # (N,) float32, the detections'
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (N,) rows of detect's result

    kind: ClassVar[str] = "embeddings"
    schema_version: ClassVar[int] = 1

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0

    def similarity(self, other: Embeddings | None = None) -> np.ndarray:
        """Cosine similarity of every vector with every vector of ``other`` (default: itself), (N, M)."""
        theirs = self.vectors if other is None else other.vectors
        return self.vectors @ theirs.T

    def for_detections(self, n: int) -> np.ndarray:
        """(n, D) vectors aligned with the ``n`` rows of the detect result; zero rows for the
        detections that were not embedded (a tracker reads a zero vector as "no feature")."""
        out = np.zeros((n, self.dim), np.float32)
        out[np.asarray(self.indices, np.int64)] = self.vectors
        return out

    def summary(self, k: int = 3) -> str:
        if not len(self):
            return "nothing embedded"
        counts: dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        shown = ", ".join(f"{n} {lab}" for lab, n in list(counts.items())[:k])
        return f"{len(self)} embedded ({self.dim}-d): {shown}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "boxes": [[round(float(v), 2) for v in box] for box in self.boxes],
            "labels": list(self.labels),
            "scores": [round(float(s), 6) for s in self.scores],
            "indices": [int(i) for i in self.indices],
            "vectors": [[round(float(v), 5) for v in row] for row in self.vectors],
        }
