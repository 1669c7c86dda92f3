"""Export the shared model of :mod:`.shapeworld`: the backbone, then every head against its hash.

Files (``NAME`` defaults to ``shapeworld``), each a single ONNX file with its card inside:

=================================  =====================================================
``NAME_backbone.onnx``             uint8 RGB NHWC pixels -> c2, c3, c4, c5
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

from visionkit.cards import ModelCard
from visionkit.data.figures import JOINTS, SKELETON
from visionkit.data.scenes import CATEGORIES
from visionkit.data.shapeworld import CLASSES
from visionkit.nn.backbones import Backbone
from visionkit.nn.export import PixelInput, export_backbone, export_head, verify_onnx
from visionkit.plugins.segment.head import FCNLabels

from .shapeworld import INPUT, MEAN, SIZE, STD, SharedModel

FEATURES = ("c2", "c3", "c4", "c5")


def export_shared(
    model: SharedModel,
    out: Path,
    *,
    name: str = "shapeworld",
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write every file; ``metrics`` maps a file's role (``backbone``, ``classify``, ...) to
    the numbers its card records. Returns role -> path."""
    model = model.eval()
    out.mkdir(parents=True, exist_ok=True)
    metrics = dict(metrics or {})
    prov = dict(provenance or {})
    ch = dict(model.backbone.feature_channels)
    shapes = {k: (1, ch[k], SIZE // s, SIZE // s) for k, s in zip(FEATURES, (4, 8, 16, 32))}
    paths = {
        role: out / f"{name}_{role}.onnx"
        for role in ("backbone", "classify", "detect", "detect_boxes", "segment", "pose")
    }

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
            "arch": "resnet_mini",
            "channels": ch,
            "parameters": sum(p.numel() for p in model.backbone.parameters()),
            "normalization_in_graph": {"scale": 1 / 255, "mean": list(MEAN), "std": list(STD)},
        },
    )

    def head(role: str, module, feats, **kw) -> ModelCard:
        return export_head(
            module,
            paths[role],
            feature_shapes={k: shapes[k] for k in feats},
            backbone_card=bb,
            name=f"{name}_{role}",
            metrics=metrics.get(role),
            provenance=prov,
            **kw,
        )

    rois = torch.tensor([[8.0, 8.0, 120.0, 96.0], [40.0, 30.0, 200.0, 250.0]])
    batch = torch.zeros(2, dtype=torch.int64)
    head(
        "classify",
        model.classify,
        ["c5"],
        task="classify",
        labels=CLASSES,
        output="logits",
        options={"topk": 5},
    )
    head(
        "segment",
        FCNLabels(model.segment).eval(),
        FEATURES,
        task="segment",
        labels=("background",) + CATEGORIES,
        output="fcn",
        output_names=("labels",),
    )
    head(
        "detect",
        model.detect.rpn,
        FEATURES,
        task="detect",
        labels=CATEGORIES,
        output="rcnn",
        output_names=("objectness", "deltas", "p2"),
        options={"box_head": paths["detect_boxes"].name},
    )
    export_head(
        model.detect.boxes,
        paths["detect_boxes"],
        feature_shapes={"p2": (1, 64, SIZE // 4, SIZE // 4)},
        backbone_card=bb,
        name=f"{name}_detect_boxes",
        task="detect.boxes",
        labels=CATEGORIES,
        output="rcnn.boxes",
        output_names=("probs", "deltas"),
        metrics=metrics.get("detect"),
        provenance=prov,
        extra_inputs={"rois": rois, "batch_indices": batch},
    )
    head(
        "pose",
        model.pose,
        ("c3", "c4", "c5"),
        task="pose",
        labels=JOINTS,
        output="keypoints",
        output_names=("keypoints",),
        extra_inputs={"regions": rois, "batch_indices": batch},
        options={"skeleton": [list(p) for p in SKELETON], "figure_label": "figure"},
    )
    _verify(model, paths, backbone)
    return paths


def _verify(model: SharedModel, paths: Mapping[str, Path], backbone: torch.nn.Module) -> float:
    """onnxruntime must compute what torch computes, file by file, on a real scene."""
    from visionkit.data.scene_arrays import make_scene_arrays

    from .shapeworld import normalise

    data = make_scene_arrays([("detect", 2, 987_654)], INPUT, workers=1)
    worst = verify_onnx(paths["backbone"], backbone, {"image": np.ascontiguousarray(data.images)}, tol=1e-3)
    with torch.no_grad():
        f = model.backbone.forward_features(normalise(data.images[:1]))
    fn = {k: v.numpy() for k, v in f.items()}
    rois = np.array([[10, 12, 90, 100], [100, 20, 250, 240], [0, 0, 256, 256]], np.float32)
    batch = np.zeros(3, np.int64)
    worst = max(worst, verify_onnx(paths["classify"], model.classify, {"c5": fn["c5"]}))
    worst = max(worst, verify_onnx(paths["detect"], model.detect.rpn, {k: fn[k] for k in FEATURES}))
    with torch.no_grad():
        p2 = model.detect.rpn(*(f[k] for k in FEATURES))[2].numpy()
    worst = max(
        worst,
        verify_onnx(
            paths["detect_boxes"], model.detect.boxes, {"p2": p2, "rois": rois, "batch_indices": batch}
        ),
    )
    worst = max(
        worst,
        verify_onnx(
            paths["pose"],
            model.pose,
            {**{k: fn[k] for k in ("c3", "c4", "c5")}, "regions": rois, "batch_indices": batch},
        ),
    )
    _verify_labels(model, paths["segment"], fn)
    return worst


def _verify_labels(model: SharedModel, path: Path, feats: Mapping[str, np.ndarray]) -> None:
    """The segment graph ends in an argmax: compare class ids, allowing ties at a few pixels."""
    import onnxruntime as ort

    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {k: feats[k] for k in FEATURES}
    )[0]
    with torch.no_grad():
        ref = FCNLabels(model.segment).eval()(*(torch.from_numpy(feats[k]) for k in FEATURES)).numpy()
    if got.shape != ref.shape or (got != ref).mean() > 1e-3:
        raise RuntimeError(
            f"{path.name}: onnxruntime labels differ from torch at {100 * (got != ref).mean():.2f}% of pixels"
        )
