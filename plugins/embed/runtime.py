"""The embed task at run time: the detector's boxes in, one appearance vector per box out.

The detect task runs first (:meth:`EmbedTask.needs`); its boxes above ``score`` (0.1 by
default, so that the low-score boxes ByteTrack's second pass matches get vectors too) are
embedded in one of two ways, as the model's card says:

* a **head** on the shared backbone (``shapeworld_embed.onnx``): the boxes become RoIs on the
  frame's feature maps, so an object costs a RoIAlign and a few small convolutions, not a
  network pass of its own;
* a **standalone** re-ID model (OpenVINO's person-reidentification-retail-0288, through a
  card with ``output: crops``): each box is cut out of the frame and run through the model
  (:mod:`.crops`).

Either way the vectors are L2-normalised and come with the rows of the detect result they
belong to (:class:`~.results.Embeddings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from visionkit.errors import ModelError
from visionkit.results import Detections
from visionkit.runtime import OnnxModel, feature_feeds
from visionkit.tasks import Task, TaskInputs

from .results import Embeddings

#: the inputs a head's graph takes besides the feature maps
ROI_INPUTS = ("rois", "batch_indices")


def select(scores: np.ndarray, score: float, limit: int) -> np.ndarray:
    """Rows of detections at or above ``score``, at most ``limit`` of the best, in their order."""
    scores = np.asarray(scores, np.float32).reshape(-1)
    keep = np.flatnonzero(scores >= score)
    if len(keep) > limit:
        keep = np.sort(keep[np.argsort(-scores[keep], kind="stable")[:limit]])
    return keep.astype(np.int64)


def normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; a zero or non-finite row stays zero (no feature)."""
    v = np.asarray(vectors, np.float32)
    v = np.where(np.isfinite(v).all(axis=1, keepdims=True), v, 0.0)
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def output_dim(model: OnnxModel) -> int:
    """The length of the vectors a model gives (its first output's last axis), 0 if dynamic."""
    shape = model.session.get_outputs()[0].shape
    last = shape[-1] if shape else None
    return int(last) if isinstance(last, int) and last > 0 else int(model.card.config.get("dim", 0))


class EmbedTask(Task):
    name: ClassVar[str] = "embed"
    #: score: lowest detection score embedded; max_instances: most boxes embedded per frame
    default_options: ClassVar[Mapping[str, Any]] = {"score": 0.1, "max_instances": 100}
    option_limits: ClassVar[Mapping[str, tuple]] = {"score": (0.0, 1.0), "max_instances": (1, None)}

    def __init__(self, model: OnnxModel, **options: Any) -> None:
        super().__init__(model, **options)
        self.dim = output_dim(model)
        if model.card.is_head:
            names = {i.name for i in model.inputs}
            missing = [n for n in ROI_INPUTS if n not in names]
            if missing:
                raise ModelError(f"{model.path.name}: an embed head takes the boxes as {', '.join(ROI_INPUTS)}; "
                                 f"it has no input {missing[0]!r}")
            self._crops = None
        else:  # a third-party model on crops, through the decoder its card names
            self._crops = self.load_decoder()(model)
            self.dim = getattr(self._crops, "dim", self.dim)

    def needs(self) -> tuple[str, ...]:
        return ("detect",)

    def forward(self, inputs: TaskInputs) -> list[Any]:
        dets = inputs.results.get("detect")
        if not isinstance(dets, Detections):
            raise ModelError("embed needs the detect task's boxes")
        rows = select(dets.scores, self.options["score"], self.options["max_instances"])
        boxes = np.asarray(dets.boxes, np.float32).reshape(-1, 4)[rows]
        if len(rows) == 0:
            vectors = np.zeros((0, self.dim), np.float32)
        elif self._crops is not None:
            vectors = self._crops.embed(inputs.image, boxes)
        else:
            feeds = feature_feeds(self.model, {
                **(inputs.features or {}),
                "rois": inputs.transform.to_input(boxes).astype(np.float32),
                "batch_indices": np.zeros(len(rows), np.int64),
            })
            vectors = self.model.run(feeds)[0]
        return [vectors, rows, dets]

    def decode(self, outputs: list[Any], inputs: TaskInputs) -> Embeddings:
        vectors, rows, dets = outputs
        labels = tuple(dets.labels[int(i)] for i in rows)
        vectors = np.asarray(vectors, np.float32)
        vectors = vectors.reshape(len(rows), -1) if len(rows) else np.zeros((0, self.dim), np.float32)
        return Embeddings(np.asarray(dets.boxes, np.float32).reshape(-1, 4)[rows], normalised(vectors), labels,
                          np.asarray(dets.scores, np.float32).reshape(-1)[rows], rows)
