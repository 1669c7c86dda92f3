"""RoIAlign (He et al. 2017, "Mask R-CNN") in plain torch, exported as the ONNX ``RoiAlign`` op.

torchvision does not import on these machines, and the run-time side must stay free of custom
ops, so training uses :func:`roi_align` (bilinear sampling with ``grid_sample``, differentiable)
and export emits the standard ``RoiAlign`` node (opset 16+, ``coordinate_transformation_mode
="half_pixel"``, ``mode="avg"``), which onnxruntime implements. Both follow the same rules
(the Detectron/torchvision ``aligned=True`` ones):

* a box ``[x1, y1, x2, y2]`` in input pixels starts at ``x1 * spatial_scale - 0.5``;
* each of the ``out_h x out_w`` bins averages ``sampling_ratio**2`` bilinear samples;
* a sample further than one pixel outside the map counts as 0; one within a pixel of the
  border is clamped to it.

tests/test_roi_align.py checks torch against onnxruntime on boxes inside and across borders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RoIAlign", "roi_align"]


def _sample_points(start: Tensor, length: Tensor, bins: int, ratio: int) -> Tensor:
    """(R, bins * ratio) coordinates of the sample points along one axis."""
    steps = (torch.arange(bins * ratio, dtype=start.dtype, device=start.device) + 0.5) / ratio
    return start[:, None] + steps[None, :] * (length / bins)[:, None]


def roi_align(
    features: Tensor,
    rois: Tensor,
    batch_indices: Tensor,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int = 2,
) -> Tensor:
    """``features`` (B, C, H, W), ``rois`` (R, 4) xyxy in input pixels, ``batch_indices`` (R,)
    -> (R, C, out_h, out_w)."""
    out_h, out_w = output_size
    n, channels, height, width = features.shape
    r = rois.shape[0]
    if r == 0:
        return features.new_zeros((0, channels, out_h, out_w))
    s = sampling_ratio
    box = rois.to(features.dtype) * spatial_scale - 0.5
    ys = _sample_points(box[:, 1], box[:, 3] - box[:, 1], out_h, s)  # (R, out_h*s)
    xs = _sample_points(box[:, 0], box[:, 2] - box[:, 0], out_w, s)  # (R, out_w*s)
    valid = ((ys >= -1) & (ys <= height))[:, :, None] & ((xs >= -1) & (xs <= width))[:, None, :]
    gy = ys.clamp(0, height - 1) / max(height - 1, 1) * 2 - 1
    gx = xs.clamp(0, width - 1) / max(width - 1, 1) * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # (R, hs, ws, 2)
    pooled = []
    order = []
    # one plane per image through unbind: slicing features[b : b + 1] instead costs a backward
    # that zero-fills a whole-batch gradient per image (a fifth of a training step, measured)
    planes = features.unbind(0)
    for b in range(n):
        idx = torch.nonzero(batch_indices == b).flatten()
        if idx.numel() == 0:
            continue
        g = grid[idx].reshape(1, -1, out_w * s, 2)
        sampled = F.grid_sample(
            planes[b][None], g, mode="bilinear", padding_mode="border", align_corners=True
        )  # (1, C, k*hs, ws)
        sampled = sampled.reshape(channels, idx.numel(), out_h * s, out_w * s).transpose(0, 1)
        sampled = sampled * valid[idx][:, None].to(sampled.dtype)
        pooled.append(F.avg_pool2d(sampled, s))
        order.append(idx)
    out = torch.cat(pooled)
    return out[torch.argsort(torch.cat(order))]


class _OnnxRoiAlign(torch.autograd.Function):
    """Traced as one ONNX ``RoiAlign`` node; computes :func:`roi_align` while tracing."""

    @staticmethod
    def forward(ctx, features, rois, batch_indices, out_h: int, out_w: int, scale: float, ratio: int):
        return roi_align(features, rois, batch_indices, (out_h, out_w), scale, ratio)

    @staticmethod
    def symbolic(g, features, rois, batch_indices, out_h, out_w, scale, ratio):
        return g.op(
            "RoiAlign",
            features,
            rois,
            batch_indices,
            output_height_i=out_h,
            output_width_i=out_w,
            sampling_ratio_i=ratio,
            spatial_scale_f=scale,
            mode_s="avg",
            coordinate_transformation_mode_s="half_pixel",
        )


class RoIAlign(nn.Module):
    """Module form of :func:`roi_align`; exports as the ONNX ``RoiAlign`` op."""

    def __init__(self, output_size: tuple[int, int], spatial_scale: float, sampling_ratio: int = 2):
        super().__init__()
        self.output_size = (int(output_size[0]), int(output_size[1]))
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)

    def forward(self, features: Tensor, rois: Tensor, batch_indices: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():
            return _OnnxRoiAlign.apply(
                features, rois, batch_indices, *self.output_size, self.spatial_scale, self.sampling_ratio
            )
        return roi_align(
            features, rois, batch_indices, self.output_size, self.spatial_scale, self.sampling_ratio
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}"
        )
