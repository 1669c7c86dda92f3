"""``visionkit eval detect``: COCO box AP/AR and per-class AP through pycocotools."""

from __future__ import annotations

from typing import Any, Mapping

from visionkit.coco_evaluator import EVAL_SCORE, CocoEvaluator
from visionkit.evaluation import evaluate_detect


class DetectEvaluator(CocoEvaluator):
    """Boxes against a COCO dataset's; classes meet categories by name."""

    iou_type = "bbox"
    #: score: the lowest detection score kept while evaluating (AP needs the low-scoring tail)
    settings = {"score": EVAL_SCORE}
    table_titles = {"per_class": "per class (AP@[.5:.95])"}

    def measure(self, dataset, predictions, pipeline, settings: Mapping[str, Any]) -> dict[str, Any]:
        return evaluate_detect(dataset, predictions, pipeline.tasks[self.task].card.labels)
