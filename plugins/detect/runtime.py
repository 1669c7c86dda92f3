"""The detect task at run time: options, and the decoder the model's card names."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from visionkit.errors import UsageError
from visionkit.tasks import DecoderTask

_LIMITS = {"score": (0.0, 1.0), "iou": (0.0, 1.0)}


class DetectTask(DecoderTask):
    name: ClassVar[str] = "detect"
    #: score: lowest score kept; iou: NMS overlap above which the weaker box goes; max_det: cap
    default_options: ClassVar[Mapping[str, Any]] = {"score": 0.3, "iou": 0.45, "max_det": 300}

    def set_options(self, **options: Any) -> None:
        for key, (lo, hi) in _LIMITS.items():
            if key in options and not (isinstance(options[key], (int, float)) and lo <= options[key] <= hi):
                raise UsageError(f"{key} must be between {lo} and {hi}, not {options[key]!r}")
        if "max_det" in options and (not isinstance(options["max_det"], int) or options["max_det"] < 1):
            raise UsageError(f"max_det must be a positive whole number, not {options['max_det']!r}")
        super().set_options(**options)
