"""What a pipeline lends its tasks beyond one frame: the shared backbone and the other tasks
as functions of an image.

Tasks that run networks many times per frame use it: occlusion sensitivity runs the backbone
and a head on hundreds of masked copies, a style loss compares feature maps of two pictures,
a captioner's encoder is the backbone itself. Every call goes through the pipeline's own
sessions, so nothing is loaded twice::

    def forward(self, inputs):
        ctx = inputs.context
        feats, transform = ctx.features(masked_copy)         # backbone maps of another image
        probs = ctx.predict("classify", masked_copy)          # another task's result on it
        maps = ctx.features_batch(np.stack(copies))           # N copies, one backbone call
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import UsageError
from .preprocess import Transform, preprocess

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .runtime import OnnxModel
    from .tasks import Task


class TaskContext:
    """The shared backbone and the pipeline's tasks, callable on any RGB uint8 image."""

    def __init__(self, pipeline: "Pipeline") -> None:
        self._pipeline = pipeline

    @property
    def backbone(self) -> "OnnxModel | None":
        """The shared backbone's model (its card holds the input spec, features, strides)."""
        return self._pipeline.backbone

    def _require_backbone(self) -> "OnnxModel":
        if self._pipeline.backbone is None:
            raise UsageError("no shared backbone runs in this pipeline (only standalone models)")
        return self._pipeline.backbone

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        """The backbone's input tensor for an image, and the transform back to its pixels."""
        return preprocess(image, self._require_backbone().card.input)

    def features(self, image: np.ndarray) -> tuple[dict[str, np.ndarray], Transform]:
        """The backbone's feature maps of one image (batch of one) and its transform."""
        tensor, transform = self.preprocess(image)
        return self.features_batch(tensor), transform

    def features_batch(self, tensors: np.ndarray) -> dict[str, np.ndarray]:
        """Feature maps of N preprocessed inputs stacked on the batch axis, in one backbone
        call where the graph takes a batch, else one call each."""
        model = self._require_backbone()
        name = model.inputs[0].name
        batch_dim = model.inputs[0].shape[0] if model.inputs[0].shape else 1
        if isinstance(batch_dim, int) and batch_dim == 1 and len(tensors) > 1:
            outs = [model.run({name: tensors[i : i + 1]}) for i in range(len(tensors))]
            return {out: np.concatenate([o[k] for o in outs]) for k, out in enumerate(model.outputs)}
        return dict(zip(model.outputs, model.run({name: tensors})))

    def task(self, name: str) -> "Task":
        """One of the pipeline's tasks."""
        try:
            return self._pipeline.tasks[name]
        except KeyError:
            running = ", ".join(self._pipeline.tasks)
            raise UsageError(f"task {name!r} is not running in this pipeline (running: {running})") from None

    def predict(self, name: str, image: np.ndarray) -> Any:
        """The named task's result on another image, with the tasks it needs; the frame's own
        results and every task's state are left alone (a stateful task is refused)."""
        return self._pipeline.run_detached(name, image)
