"""Training targets and loss of the DeepPose-style head (torch).

Regions are the true figure boxes, jittered in scale and position the way a detector's
boxes err, then squared by :func:`~.rois.pose_regions` exactly as at run time. The loss is
an L1 on the region-normalised coordinates of every labelled joint (visible or occluded,
COCO ``v > 0``) plus a binary cross entropy teaching the confidence whether the joint is
visible (``v == 2``).

:class:`PoseSharedHead` is the head on the shared backbone for the joint recipe
(:mod:`visionkit.nn.heads`); its card's configuration names the skeleton and the detector
label whose boxes are figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from visionkit.data.figures import JOINTS, SKELETON
from visionkit.data.scenes import FIGURE_ID
from visionkit.nn.export import verify_onnx
from visionkit.nn.heads import Batch, ExportContext, HeadLoss, SharedHead, measure_on_coco

from .head import PoseHead
from .rois import pose_regions, to_region

#: box jitter: log-scale and centre shift (in box sides), standard deviations
JITTER_SCALE, JITTER_SHIFT = 0.08, 0.04


def figure_targets(
    boxes: list[np.ndarray],
    classes: list[np.ndarray],
    keypoints: list[np.ndarray],
    rng: np.random.Generator | None,
    figure_id: int = FIGURE_ID,
):
    """Regions (R, 4), their batch indices (R,) and joints (R, K, 3) of every figure (objects
    of class ``figure_id``) in a batch."""
    regions, batch, joints = [], [], []
    for i, (b, c, k) in enumerate(zip(boxes, classes, keypoints)):
        sel = c == figure_id
        if not sel.any():
            continue
        fb = b[sel].copy()
        if rng is not None:
            size = fb[:, 2:] - fb[:, :2]
            centre = (fb[:, :2] + fb[:, 2:]) / 2 + rng.normal(0, JITTER_SHIFT, size.shape) * size
            size = size * np.exp(rng.normal(0, JITTER_SCALE, size.shape))
            fb = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        regions.append(pose_regions(fb))
        batch.append(np.full(int(sel.sum()), i, np.int64))
        joints.append(k[sel])
    if not regions:
        return None
    return np.concatenate(regions), np.concatenate(batch), np.concatenate(joints).astype(np.float32)


def pose_loss(head: PoseHead, feats: dict[str, Tensor], targets) -> tuple[Tensor, dict[str, float]]:
    """L1 on labelled joints + BCE on visibility; stats: summed normalised error and counts."""
    regions, batch, joints = targets
    raw = head.raw(
        feats["c3"], feats["c4"], feats["c5"], torch.from_numpy(regions), torch.from_numpy(batch)
    ).float()
    uv = torch.from_numpy(to_region(joints[..., :2], regions).astype(np.float32))
    labelled = torch.from_numpy(joints[..., 2] > 0)
    visible = torch.from_numpy((joints[..., 2] == 2).astype(np.float32))
    err = (raw[..., :2] - uv).abs().sum(-1)
    n = max(int(labelled.sum()), 1)
    loss = err[labelled].sum() / n * 4 + F.binary_cross_entropy_with_logits(raw[..., 2], visible)
    return loss, {"pose_err": float(err[labelled].detach().sum()), "pose_n": float(labelled.sum())}


FEATURES = ("c3", "c4", "c5")


class PoseSharedHead(SharedHead):
    """Joints regressed in the figures' regions (jittered true boxes while training)."""

    name = task = "pose"
    features = FEATURES
    order = 40
    headline = ("pck@0.1",)
    #: the class whose objects carry the joints (its id in the detector's labels, and its name,
    #: which the card names for the run time) and the joints' skeleton: ShapeWorld's, unless a
    #: head is trained on a keypoint set of the user's (which sets both on its instance)
    figure: tuple[int, str] = (FIGURE_ID, "figure")
    skeleton: tuple[tuple[int, int], ...] = tuple(SKELETON)

    def build(self, channels: Mapping[str, int], labels: Sequence[str] | None = None) -> PoseHead:
        return PoseHead({k: channels[k] for k in FEATURES}, len(labels or JOINTS))

    def loss(self, module: PoseHead, features: Mapping[str, Tensor], batch: Batch) -> HeadLoss:
        # validation regions are the true boxes: the same every epoch, so epochs compare
        rng = batch.rng if batch.train else None
        targets = figure_targets(batch.boxes, batch.classes, batch.keypoints, rng, self.figure[0])
        if targets is None:
            return HeadLoss({"pose": torch.zeros(())})
        loss, stats = pose_loss(module, dict(features), targets)
        return HeadLoss({"pose": loss}, stats)

    def export(
        self, module: PoseHead, ctx: ExportContext, labels: Sequence[str] | None = None
    ) -> dict[str, Path]:
        rois = torch.tensor([[8.0, 8.0, 120.0, 96.0], [40.0, 30.0, 200.0, 250.0]])
        path = ctx.export(
            module, "pose", features=FEATURES, task="pose", labels=labels or JOINTS, output="keypoints",
            output_names=("keypoints",),
            extra_inputs={"regions": rois, "batch_indices": torch.zeros(2, dtype=torch.int64)},
            config={"skeleton": [list(p) for p in self.skeleton], "figure_label": self.figure[1]},
        )
        return {"pose": path}

    def verify(
        self, module: PoseHead, paths: Mapping[str, Path], features: Mapping[str, np.ndarray]
    ) -> float:
        rois = np.array([[10, 12, 90, 100], [100, 20, 250, 240], [0, 0, 256, 256]], np.float32)
        feeds = {k: features[k] for k in FEATURES} | {"regions": rois, "batch_indices": np.zeros(3, np.int64)}
        return verify_onnx(paths["pose"], module, feeds)

    def measure(self, models: Mapping[str, Path], held_out: tuple[int, int], log) -> dict:
        # the pipeline brings the detector pose needs, from the same export
        return measure_on_coco("pose", {k: models[k] for k in ("backbone", "detect", "pose")}, held_out, log)
