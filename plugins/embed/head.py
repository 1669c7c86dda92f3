"""The re-identification head (torch): one unit-length appearance vector per box.

Schroff et al. 2015, "FaceNet: A Unified Embedding for Face Recognition and Clustering":
an embedding on the unit hypersphere, trained with a triplet loss so that two views of one
identity lie closer than either lies to anyone else; Hermans et al. 2017, "In Defense of the
Triplet Loss for Person Re-Identification": batches of P identities x K views and, per anchor,
the hardest positive and hardest negative in the batch (:mod:`.train`).

On the shared backbone nothing is re-run on a crop: c3..c5 are fused top-down to stride 8
(Lin et al. 2017, :class:`~visionkit.nn.fpn.TopDownFusion`), each box's region is pooled with
RoIAlign (He et al. 2017; the ONNX ``RoiAlign`` op, :mod:`visionkit.nn.roi_align`), two small
convolutions and global average pooling reduce it to one vector, and a linear projection maps
that to ``dim`` numbers, L2-normalised inside the graph.

Exported: ``c3, c4, c5, rois (R, 4) in input pixels, batch_indices (R,)`` -> ``embeddings (R, dim)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from visionkit.nn.fpn import TopDownFusion, conv_bn_relu
from visionkit.nn.roi_align import RoIAlign

__all__ = ["FEATURES", "POOL", "EmbedHead", "embed_head"]

FEATURES = ("c3", "c4", "c5")
POOL = 8  # RoIAlign bins per side: a ShapeWorld object spans 1 to 8 cells of the stride-8 map


class EmbedHead(nn.Module):
    """(c3, c4, c5, rois (R, 4), batch_indices (R,)) -> (R, dim) unit vectors."""

    def __init__(self, in_channels: Mapping[str, int], dim: int = 128, width: int = 48, hidden: int = 128,
                 stride: int = 8):
        super().__init__()
        self.dim = dim
        self.fusion = TopDownFusion({k: in_channels[k] for k in FEATURES}, width, outputs=("c3",))
        self.pool = RoIAlign((POOL, POOL), spatial_scale=1 / stride, sampling_ratio=2)
        # batch norm is safe here: a step pools a hundred or more regions
        self.tower = nn.Sequential(conv_bn_relu(width, hidden // 2), conv_bn_relu(hidden // 2, hidden, stride=2))
        self.project = nn.Linear(hidden, dim)

    def raw(self, c3: Tensor, c4: Tensor, c5: Tensor, rois: Tensor, batch_indices: Tensor) -> Tensor:
        """The projection before normalisation, (R, dim)."""
        (p3,) = self.fusion(c3, c4, c5)
        x = self.tower(self.pool(p3.float(), rois, batch_indices))
        return self.project(x.mean(dim=(2, 3)))

    def forward(self, c3: Tensor, c4: Tensor, c5: Tensor, rois: Tensor, batch_indices: Tensor) -> Tensor:
        return F.normalize(self.raw(c3, c4, c5, rois, batch_indices), dim=1, eps=1e-6)


def embed_head(channels: Mapping[str, int], dim: int = 128, width: int = 48, hidden: int = 128,
               stride: int = 8) -> EmbedHead:
    """The head for a backbone whose maps have ``channels`` (its card's ``options["channels"]``)
    and whose ``c3`` has ``stride``."""
    missing = [k for k in FEATURES if k not in channels]
    if missing:
        raise ValueError(f"the embed head reads {', '.join(FEATURES)}; the backbone lacks {', '.join(missing)}")
    return EmbedHead(channels, dim=dim, width=width, hidden=hidden, stride=stride)
