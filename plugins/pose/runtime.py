"""The pose task at run time: figures' regions in, joints out (numpy + onnxruntime).

Figures come from the detect task's result (boxes labelled ``figure_label``, the card's
``config``), which the pipeline runs first because :meth:`PoseTask.needs` says so; with
``whole_image=True`` the picture itself is the one figure's region and no detector runs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from visionkit.errors import ModelError
from visionkit.results import Detections, Keypoints
from visionkit.runtime import feature_feeds
from visionkit.tasks import Task, TaskInputs

from .rois import pose_regions


class PoseTask(Task):
    name: ClassVar[str] = "pose"
    #: score: lowest detection score of a figure that gets joints; whole_image: the picture is
    #: one figure (no detector); max_instances: cap on figures per frame
    default_options: ClassVar[Mapping[str, Any]] = {"score": 0.5, "whole_image": False, "max_instances": 50}
    option_limits: ClassVar[Mapping[str, tuple]] = {"score": (0.0, 1.0), "max_instances": (1, None)}

    def __init__(self, model, **options: Any) -> None:
        if not model.card.is_head:
            raise ModelError(f"{model.path.name}: the pose task runs heads on the shared backbone")
        super().__init__(model, **options)

    _detector_checked = False

    def needs(self) -> tuple[str, ...]:
        return () if self.options["whole_image"] else ("detect",)

    def _figures(self, inputs: TaskInputs) -> tuple[np.ndarray, np.ndarray]:
        """Figure boxes (image pixels) and their scores, best first."""
        h, w = inputs.image.shape[:2]
        if self.options["whole_image"]:
            return np.array([[0, 0, w, h]], np.float32), np.ones(1, np.float32)
        dets = inputs.results.get("detect")
        if not isinstance(dets, Detections):
            raise ModelError("pose needs the detect task's figures (or whole_image=True)")
        label = self.config.get("figure_label", "figure")
        self._check_detector(inputs, label)
        keep = np.array([lab == label for lab in dets.labels], bool) & (dets.scores >= self.options["score"])
        boxes, scores = dets.boxes[keep], dets.scores[keep]
        order = np.argsort(-scores, kind="stable")[: self.options["max_instances"]]
        return boxes[order], scores[order]

    def _check_detector(self, inputs: TaskInputs, label: str) -> None:
        """A detector without this head's instance class finds nothing to give it: say so."""
        if inputs.context is None or self._detector_checked:
            return
        self._detector_checked = True  # the detector does not change while the task lives
        detector = inputs.context.task("detect")
        labels = detector.card.labels if detector.card is not None else ()
        if labels and label not in labels:
            self.note(f"{detector.model_name} has no class {label!r}, so this head ({self.model_name}) "
                      f"gets no instances; it regresses the joints of {label}s only "
                      "(give a detector that finds them, or -o pose.whole_image=true)")

    def forward(self, inputs: TaskInputs) -> list[np.ndarray]:
        boxes, scores = self._figures(inputs)
        k = len(self.card.labels)
        if len(boxes) == 0:
            return [np.zeros((0, k, 3), np.float32), boxes, scores]
        regions = pose_regions(inputs.transform.to_input(boxes))
        feeds = feature_feeds(
            self.model,
            {
                **(inputs.features or {}),
                "regions": regions,
                "batch_indices": np.zeros(len(regions), np.int64),
            },
        )
        return [self.model.run(feeds)[0], boxes, scores]

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Keypoints:
        points, boxes, scores = outputs
        points = np.array(points, np.float32, copy=True)
        if len(points):
            xy = inputs.transform.to_image(points[..., :2].reshape(-1, 2)).reshape(points.shape[0], -1, 2)
            points[..., :2] = xy
        skeleton = tuple((int(i), int(j)) for i, j in self.config.get("skeleton", ()))
        return Keypoints(
            boxes.astype(np.float32), scores.astype(np.float32), points, tuple(self.card.labels), skeleton
        )
