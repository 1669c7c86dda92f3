"""The classifier an explanation is about, run by onnxruntime on pictures at its input size.

Occlusion, adversarial flips and top patches need the class scores of many altered copies of
one picture: :class:`ClassScorer` takes them as network-input pixels (N, H, W, 3) uint8, one
batched backbone call and one batched head call per chunk (a head on the shared backbone), or
the standalone model's own input (a third-party classifier), and returns probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionkit.cards import InputSpec
from visionkit.errors import ModelError
from visionkit.preprocess import to_tensor
from visionkit.runtime import OnnxModel, feature_feeds

#: copies per onnxruntime call: bounds the memory of 200 occluded 224-px copies' feature maps
CHUNK = 32


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ClassScorer:
    """Class probabilities of pictures, through the pipeline's own classify sessions."""

    def __init__(self, context: Any) -> None:
        task = context.task("classify")
        self.context = context
        self.model: OnnxModel = task.model
        self.card = task.model.card
        self.labels: tuple[str, ...] = tuple(self.card.labels)
        self.on_backbone = bool(self.card.is_head)
        self.spec: InputSpec = context.backbone.card.input if self.on_backbone else self.card.input
        self.backbone: OnnxModel | None = context.backbone if self.on_backbone else None
        if self.card.output not in ("logits", "probs"):
            raise ModelError(f"{self.model.path.name}: explanations need class logits or probabilities, "
                             f"the card says {self.card.output!r}")
        # a graph exported with a batch of one takes the copies one at a time (heads too)
        shape = self.model.inputs[0].shape
        self._one_at_a_time = bool(shape) and isinstance(shape[0], int) and shape[0] == 1

    def label(self, class_id: int) -> str:
        return self.labels[class_id] if class_id < len(self.labels) else str(class_id)

    def class_id(self, target: str | int, classes: int | None = None) -> int:
        """A class named by its label or its number; ``classes`` is how many the model scores
        (known from a prediction when the card has no labels)."""
        if isinstance(target, int) or str(target).strip().lstrip("-").isdigit():
            cid = int(target)
            n = len(self.labels) or classes
            if cid < 0 or (n is not None and cid >= n):
                raise ModelError(f"class {cid} is outside this model's {n} classes (0-{n - 1})")
            return cid
        text = str(target).strip().lower()
        exact = [i for i, name in enumerate(self.labels) if name.lower() == text]
        if exact:
            return exact[0]
        partial = [i for i, name in enumerate(self.labels) if text in name.lower()]
        if len(partial) == 1:
            return partial[0]
        if partial:
            some = ", ".join(self.labels[i] for i in partial[:5])
            raise ModelError(f"class {target!r} matches several: {some}{', ...' if len(partial) > 5 else ''}")
        raise ModelError(f"this model has no class {target!r}")

    def tensors(self, pixels: np.ndarray) -> np.ndarray:
        return np.concatenate([to_tensor(p, self.spec) for p in pixels])

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 network-input pixels -> (N, classes) float32 probabilities."""
        out = []
        for start in range(0, len(pixels), CHUNK):
            tensors = self.tensors(pixels[start : start + CHUNK])
            if self.on_backbone:
                feats = feature_feeds(self.model, self.context.features_batch(tensors))
                if self._one_at_a_time:
                    raw = np.concatenate([self.model.run({k: v[i : i + 1] for k, v in feats.items()})[0]
                                          for i in range(len(tensors))])
                else:
                    raw = self.model.run(feats)[0]
            elif self._one_at_a_time:
                name = self.model.inputs[0].name
                raw = np.concatenate([self.model.run({name: t[None]})[0] for t in tensors])
            else:
                raw = self.model.run({self.model.inputs[0].name: tensors})[0]
            scores = np.asarray(raw, np.float32).reshape(len(tensors), -1)
            out.append(softmax_rows(scores) if self.card.output == "logits" else scores)
        return np.concatenate(out)
