"""``visionkit eval segment``: per-class IoU, mIoU and pixel accuracy of label maps."""

from __future__ import annotations

from typing import Any, Mapping

from visionkit.coco_evaluator import CocoEvaluator
from visionkit.evaluation import evaluate_segment, segment_ground_truth


class SegmentEvaluator(CocoEvaluator):
    """Label maps against a COCO dataset's ``masks/`` label maps, or its annotation masks."""

    iou_type = "segm"
    table_titles = {"per_class": "per class (IoU)"}

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        super().check(data, settings)
        # a missing label map fails here, before a model is loaded
        segment_ground_truth(self.dataset(data))

    def measure(self, dataset, predictions, pipeline, settings: Mapping[str, Any]) -> dict[str, Any]:
        return evaluate_segment(dataset, predictions)
