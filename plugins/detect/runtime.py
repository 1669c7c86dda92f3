"""The detect task at run time: options, and the decoder the model's card names."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from visionkit.tasks import DecoderTask, TaskInputs

from .rcnn import RCNNDecoder


class DetectTask(DecoderTask):
    name: ClassVar[str] = "detect"
    #: score: lowest score kept; iou: NMS overlap above which the weaker box goes; max_det: cap;
    #: agnostic: NMS across classes, so one object never carries two labels (COCO scoring keeps
    #: the per-class default); proposals / pre_nms: a two-stage model's regions per frame after
    #: and before the proposals' NMS, 0 for what its card says (other families have none)
    default_options: ClassVar[Mapping[str, Any]] = {
        "score": 0.3, "iou": 0.45, "max_det": 300, "agnostic": False, "proposals": 0, "pre_nms": 0,
    }
    option_limits: ClassVar[Mapping[str, tuple]] = {
        "score": (0.0, 1.0), "iou": (0.0, 1.0), "max_det": (1, None),
        "proposals": (0, 10000), "pre_nms": (0, 100000),
    }

    def forward(self, inputs: TaskInputs) -> list:
        if isinstance(self._decoder, RCNNDecoder):
            return self._decoder.forward(inputs, self.options)
        if self.options["proposals"] or self.options["pre_nms"]:
            self.note(f"proposals and pre_nms are for two-stage models; {self.model_name} "
                      f"({self.card.output}) proposes no regions, so they change nothing")
        return super().forward(inputs)
