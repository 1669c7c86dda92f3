"""What the ``motion`` task returns for a frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Motion:
    """The regions of a frame that differ from the learned background, largest first.

    ``mask`` and ``heat`` are at the task's working resolution (at most 320 px wide), not the
    frame's; painters stretch them. ``learning`` is True on a source's first frame, which only
    starts the background.
    """

    boxes: np.ndarray  # (N, 4) float32 [x1, y1, x2, y2] in frame pixels
    areas: np.ndarray  # (N,) int64, moving pixels of each region, in frame pixels
    moving_fraction: float  # share of the frame that moves now, 0..1
    learning: bool = False
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)  # (h, w) bool, moving now
    #: (h, w) float32 0..1: where things moved lately, fading
    heat: np.ndarray | None = field(default=None, repr=False, compare=False)

    kind: ClassVar[str] = "motion"
    schema_version: ClassVar[int] = 1

    def __len__(self) -> int:
        return len(self.boxes)

    def summary(self) -> str:
        if self.learning:
            return "learning the background"
        if not len(self):
            return "nothing moves"
        return f"{len(self)} moving region(s), {100 * self.moving_fraction:.1f}% of the picture"

    def to_dict(self) -> dict[str, Any]:
        return {
            "boxes": [[round(float(v), 1) for v in box] for box in self.boxes],
            "areas": [int(a) for a in self.areas],
            "moving_fraction": round(float(self.moving_fraction), 5),
            "learning": bool(self.learning),
        }
