"""Training targets and loss of the DeepPose-style head (torch).

Regions are the true figure boxes, jittered in scale and position the way a detector's
boxes err, then squared by :func:`~.rois.pose_regions` exactly as at run time. The loss is
an L1 on the region-normalised coordinates of every labelled joint (visible or occluded,
COCO ``v > 0``) plus a binary cross entropy teaching the confidence whether the joint is
visible (``v == 2``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from visionkit.data.scenes import FIGURE_ID

from .head import PoseHead
from .rois import pose_regions, to_region

#: box jitter: log-scale and centre shift (in box sides), standard deviations
JITTER_SCALE, JITTER_SHIFT = 0.08, 0.04


def figure_targets(
    boxes: list[np.ndarray],
    classes: list[np.ndarray],
    keypoints: list[np.ndarray],
    rng: np.random.Generator | None,
):
    """Regions (R, 4), their batch indices (R,) and joints (R, K, 3) of every figure in a batch."""
    regions, batch, joints = [], [], []
    for i, (b, c, k) in enumerate(zip(boxes, classes, keypoints)):
        sel = c == FIGURE_ID
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
