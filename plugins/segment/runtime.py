"""The segment task at run time: the decoder the model's card names."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from visionkit.errors import ModelError
from visionkit.results import SegmentationMask
from visionkit.tasks import Task, TaskInputs


class SegmentTask(Task):
    name: ClassVar[str] = "segment"
    default_options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, model, **options: Any) -> None:
        super().__init__(model, **options)
        if self.card.is_head:
            raise ModelError(f"{model.path.name}: segmentation heads on the shared backbone need the "
                             "FCN decoder, which this version of visionkit does not have")
        self._decoder = self.load_decoder()

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> SegmentationMask:
        return self._decoder(outputs, inputs, self.card, self.options)
