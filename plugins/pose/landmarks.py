"""The landmarks task: named points on each object a third-party model finds, in one pass.

Face and hand models find their objects and place points on them themselves (a face's eyes,
nose and mouth corners; a hand's 21 joints), so this task needs no detector of its own: the
decoder the card names turns the model's outputs into :class:`~visionkit.results.Keypoints`,
each instance with its box, score and points, drawn and listed like the pose task's figures.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from visionkit.tasks import DecoderTask


class LandmarksTask(DecoderTask):
    name: ClassVar[str] = "landmarks"
    #: score: lowest score of an object that gets its points; iou: overlap above which the
    #: weaker of two objects goes; max_det: cap on objects per frame
    default_options: ClassVar[Mapping[str, Any]] = {"score": 0.5, "iou": 0.3, "max_det": 50}
    option_limits: ClassVar[Mapping[str, tuple]] = {"score": (0.0, 1.0), "iou": (0.0, 1.0), "max_det": (1, None)}
