"""``visionkit eval pose``: COCO keypoint AP (OKS, pycocotools) and PCK@0.1."""

from __future__ import annotations

from typing import Any, Mapping

from visionkit.errors import UsageError
from visionkit.coco_evaluator import EVAL_SCORE, CocoEvaluator
from visionkit.evaluation import evaluate_pose, pose_sigmas


class PoseEvaluator(CocoEvaluator):
    """Keypoints against the COCO category that has keypoints; joints meet by name. The
    pipeline brings the detector pose needs."""

    iou_type = "keypoints"
    #: score: the lowest score kept by the detector and pose while evaluating;
    #: sigmas: the OKS constant per keypoint (None: COCO's for 17 joints, else 0.05 each)
    settings = {"score": EVAL_SCORE, "sigmas": None}
    table_titles = {"per_joint": "per joint (PCK@0.1)"}

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        super().check(data, settings)
        pose_sigmas(self.dataset(data), _sigmas(settings))  # the right count, before a model is loaded

    def score_files(self, gt, dets, settings: Mapping[str, Any]):
        # the truth's joint count decides the default sigmas, as it does with --data
        sigmas = pose_sigmas(self.dataset(gt), _sigmas(settings))
        return super().score_files(gt, dets, {**settings, "sigmas": list(sigmas)})

    def measure(self, dataset, predictions, pipeline, settings: Mapping[str, Any]) -> dict[str, Any]:
        return evaluate_pose(dataset, predictions, pose_sigmas(dataset, settings.get("sigmas")))


def _sigmas(settings: Mapping[str, Any]) -> list[float] | None:
    sigmas = settings.get("sigmas")
    if sigmas is not None and (not isinstance(sigmas, (list, tuple)) or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) for s in sigmas)):
        raise UsageError(f"sigmas takes a list of numbers, one per keypoint, not {sigmas!r}")
    return sigmas
