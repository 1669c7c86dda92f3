"""The segment task at run time: decoded by the decoder the model's card names."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from visionkit.tasks import DecoderTask


class SegmentTask(DecoderTask):
    name: ClassVar[str] = "segment"
    default_options: ClassVar[Mapping[str, Any]] = {}
