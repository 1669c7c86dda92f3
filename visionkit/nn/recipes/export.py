"""Export the shared model of :mod:`.shapeworld`: the backbone, then every head against its hash.

Files (``NAME`` defaults to ``shapeworld``), each a single ONNX file with its card inside:
``NAME_backbone.onnx`` (uint8 RGB NHWC pixels -> c2, c3, c4, c5), then each head's files
(:meth:`visionkit.nn.heads.SharedHead.export`). With the built-in heads:

=================================  =====================================================
``NAME_classify.onnx``             c5 -> logits (14 shapes)
``NAME_detect.onnx``               c2..c5 -> objectness, deltas, p2 (proposal stage)
``NAME_detect_boxes.onnx``         p2, rois, batch_indices -> probs, deltas (RoiAlign)
``NAME_segment.onnx``              c2..c5 -> labels (uint8 class per input pixel)
``NAME_pose.onnx``                 c3, c4, c5, regions, batch_indices -> keypoints
=================================  =====================================================

Every file is run in onnxruntime and compared with torch before this returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from visionkit.nn.backbones import Backbone
from visionkit.nn.export import PixelInput, export_backbone, verify_onnx
from visionkit.nn.heads import ExportContext

from .shapeworld import INPUT, MEAN, STD, SharedModel, normalise

FEATURES = ("c2", "c3", "c4", "c5")
STRIDES = (4, 8, 16, 32)


def export_shared(
    model: SharedModel,
    out: Path,
    *,
    name: str = "shapeworld",
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write every file; ``metrics`` maps ``backbone`` and each head's name to the numbers its
    cards record. Returns role (``backbone``, ``detect``, ``detect_boxes``, ...) -> path."""
    model = model.eval()
    out.mkdir(parents=True, exist_ok=True)
    metrics = dict(metrics or {})
    prov = dict(provenance or {})
    ch = dict(model.backbone.feature_channels)
    h, w = INPUT.size
    paths = {"backbone": out / f"{name}_backbone.onnx"}

    # wrappers must be in eval mode too: export restores a wrapper's mode on all its children
    backbone = PixelInput(Backbone(model.backbone, FEATURES), mean=MEAN, std=STD).eval()
    bb = export_backbone(
        backbone,
        paths["backbone"],
        name=f"{name}_backbone",
        input=INPUT,
        metrics=metrics.get("backbone"),
        provenance=prov,
        options={
            "arch": model.arch,
            "channels": ch,
            "parameters": sum(p.numel() for p in model.backbone.parameters()),
            "normalization_in_graph": {"scale": 1 / 255, "mean": list(MEAN), "std": list(STD)},
        },
    )
    shapes = {k: (1, ch[k], h // s, w // s) for k, s in zip(FEATURES, STRIDES)}
    for head, module in model.parts():
        ctx = ExportContext(out, name, bb, shapes, (h, w), dict(metrics.get(head.name) or {}), prov)
        written = head.export(module, ctx)
        if set(written) != set(head.roles):
            raise RuntimeError(
                f"head {head.name!r} wrote {sorted(written)}, not its roles {list(head.roles)}"
            )
        paths.update(written)
    _verify(model, paths, backbone)
    return paths


def _verify(model: SharedModel, paths: Mapping[str, Path], backbone: torch.nn.Module) -> float:
    """onnxruntime must compute what torch computes, file by file, on a real scene."""
    from visionkit.data.scene_arrays import make_scene_arrays

    data = make_scene_arrays([("detect", 2, 987_654)], INPUT, workers=1)
    worst = verify_onnx(paths["backbone"], backbone, {"image": np.ascontiguousarray(data.images)}, tol=1e-3)
    with torch.no_grad():
        feats = model.backbone.forward_features(normalise(data.images[:1]))
    fn = {k: v.numpy() for k, v in feats.items()}
    for head, module in model.parts():
        worst = max(worst, head.verify(module, paths, fn))
    return worst
