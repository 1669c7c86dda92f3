"""Classification at run time: logits or probabilities -> top-k :class:`Classification`."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from visionkit.errors import ModelError
from visionkit.results import Classification
from visionkit.tasks import Task, TaskInputs


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    e /= e.sum()
    return e


class ClassifyTask(Task):
    name: ClassVar[str] = "classify"
    default_options: ClassVar[Mapping[str, Any]] = {"topk": 5}
    option_limits: ClassVar[Mapping[str, tuple]] = {"topk": (1, None)}

    def __init__(self, model, **options: Any) -> None:
        super().__init__(model, **options)
        if self.card.output not in ("logits", "probs"):
            raise ModelError(f"{model.path.name}: classify output must be logits or probs, card says {self.card.output!r}")

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Classification:
        # (1, C), (C,) and SqueezeNet's (1, C, 1, 1) all flatten to one score per class
        scores = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        labels = self.card.labels
        if labels and len(labels) != scores.size:
            raise ModelError(
                f"{self.model.path.name}: model gives {scores.size} scores, card has {len(labels)} labels"
            )
        probs = softmax(scores) if self.card.output == "logits" else scores
        k = min(int(self.options["topk"]), probs.size)
        # a full sort is cheaper than argpartition + argsort until classes number thousands
        top = (np.argsort(-probs, kind="stable") if probs.size <= 4096
               else np.argpartition(-probs, k - 1)[:k])[:k]
        if probs.size > 4096:
            top = top[np.argsort(-probs[top], kind="stable")]
        ids = top.tolist()
        return Classification(
            class_ids=tuple(ids),
            labels=tuple(labels[i] for i in ids) if labels else tuple(str(i) for i in ids),
            scores=tuple(probs[top].tolist()),
            probabilities=probs,
        )
