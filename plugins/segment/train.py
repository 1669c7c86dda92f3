"""Loss, export and measurement of the FCN segmentation head on the shared backbone (torch).

The loss is the cross entropy of the logits, upsampled as exported, against the label map, at
every other input pixel in both directions (:meth:`~.head.FCNHead.sampled`): the exported
logits exactly there, for a quarter of the full cost. The exported graph ends in the argmax
(:class:`~.head.FCNLabels`), so its check compares class ids, not scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from visionkit.data.scenes import CATEGORIES
from visionkit.nn.heads import Batch, ExportContext, HeadLoss, SharedHead, measure_on_coco

from .head import FCNHead, FCNLabels

FEATURES = ("c2", "c3", "c4", "c5")
STEP = 2  # the loss reads every STEP-th pixel of rows and columns
#: the share of pixels where onnxruntime's class may differ from torch's: ties of the argmax
TIES = 1e-3


class SegmentSharedHead(SharedHead):
    """A class for every pixel of every training picture (background included)."""

    name = task = "segment"
    features = FEATURES
    order = 30
    headline = ("mIoU",)

    def build(self, channels: Mapping[str, int], labels: Sequence[str] | None = None) -> FCNHead:
        return FCNHead({k: channels[k] for k in FEATURES}, len(labels or CATEGORIES))

    def loss(self, module: FCNHead, features: Mapping[str, Tensor], batch: Batch) -> HeadLoss:
        labels = torch.from_numpy(batch.data.semantic[batch.index, ::STEP, ::STEP].astype(np.int64))
        logits = module.sampled(*(features[k] for k in FEATURES), step=STEP).float()
        return HeadLoss({"seg": F.cross_entropy(logits, labels)})

    def export(
        self, module: FCNHead, ctx: ExportContext, labels: Sequence[str] | None = None
    ) -> dict[str, Path]:
        # the wrapper must be in eval mode too: export restores a wrapper's mode on its children
        path = ctx.export(
            FCNLabels(module).eval(), "segment", features=FEATURES, task="segment",
            labels=("background",) + tuple(labels or CATEGORIES), output="fcn", output_names=("labels",),
        )
        return {"segment": path}

    def verify(self, module: FCNHead, paths: Mapping[str, Path], features: Mapping[str, np.ndarray]) -> float:
        import onnxruntime as ort

        path = paths["segment"]
        feeds = {k: features[k] for k in FEATURES}
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        with torch.no_grad():
            ref = FCNLabels(module).eval()(*(torch.from_numpy(v) for v in feeds.values())).numpy()
        differ = float((got != ref).mean()) if got.shape == ref.shape else 1.0
        if differ > TIES:
            raise RuntimeError(
                f"{path.name}: onnxruntime labels differ from torch at {100 * differ:.2f}% of pixels"
            )
        return 0.0

    def measure(self, models: Mapping[str, Path], held_out: tuple[int, int], log) -> dict:
        return measure_on_coco("segment", {k: models[k] for k in ("backbone", "segment")}, held_out, log)
