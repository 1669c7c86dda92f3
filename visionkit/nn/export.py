"""Export backbones and heads to single-file ONNX models with their card embedded.

* :func:`export_backbone` writes ``image`` (float32 NCHW, dynamic batch/height/width) ->
  ``c3``, ``c4``, ``c5`` and a card with ``task="backbone"`` and the content :func:`model_hash`.
* :func:`export_head` writes the feature maps a head reads (e.g. ``c5``, dynamic batch) ->
  its output (e.g. ``logits``) and a card naming the backbone (name + hash) it was trained on.
* :func:`verify_onnx` runs an exported file in onnxruntime and compares with torch.

The card is JSON under ``metadata_props[visionkit.cards.METADATA_KEY]``. The hash is the first
16 hex digits of the sha256 of the serialized ModelProto with ``metadata_props`` cleared, so
it names the graph and weights, not the card.
"""

from __future__ import annotations

import datetime as _dt
import io
import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnx
import torch
from torch import nn

from ..cards import BackboneRef, InputSpec, ModelCard
from ..onnx_cards import embed_card, model_hash, read_card

__all__ = [
    "ExportMismatchError", "embed_card", "export_backbone", "export_head", "export_model", "git_commit",
    "model_hash", "provenance", "read_card", "record_metrics", "verify_onnx",
]

OPSET = 17


class ExportMismatchError(RuntimeError):
    """onnxruntime and torch disagree on an exported model: a bug, never a user error."""


def git_commit(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of ``cwd`` (default: this package's checkout), None if unknown."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def provenance(seed: int | None = None, data: Any = None, command: str | None = None,
               **extra: Any) -> dict[str, Any]:
    """Where a model came from: command, seed, data, git commit, torch version, UTC date."""
    return {
        "command": command if command is not None else shlex.join(sys.argv),
        "seed": seed,
        "data": data,
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        **extra,
    }


def _to_onnx(module: nn.Module, args: tuple, input_names: Sequence[str], output_names: Sequence[str],
             dynamic_axes: Mapping[str, Mapping[int, str]]) -> onnx.ModelProto:
    was_training = module.training
    module.eval()
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is deliberate
            # shape checks in Python (e.g. "no regions?") are traced as constants, on purpose
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                module, args, buf, input_names=list(input_names), output_names=list(output_names),
                dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()}, opset_version=OPSET,
                do_constant_folding=True, dynamo=False,
            )
    finally:
        module.train(was_training)
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    return model


def _save(model: onnx.ModelProto, card: ModelCard, path: str | Path) -> ModelCard:
    card = card.with_(hash=model_hash(model)) if card.task == "backbone" else card
    embed_card(model, card)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))  # one file: weights stay inside the protobuf
    return card


def export_model(module: nn.Module, path: str | Path, *, card: ModelCard, example: tuple,
                 input_names: Sequence[str], output_names: Sequence[str],
                 dynamic_axes: Mapping[str, Mapping[int, str]]) -> ModelCard:
    """Export a standalone model (one that takes the picture, not a backbone's maps) to a single
    ONNX file with ``card`` embedded; ``example`` is a tuple of inputs to trace with."""
    return _save(_to_onnx(module, example, input_names, output_names, dynamic_axes), card, path)


class PixelInput(nn.Module):
    """Export wrapper: uint8 NHWC pixels in, normalised float NCHW into ``model``.

    Moving the cast, the normalisation and the transpose into the graph leaves Python only
    the geometry (a zero-copy view for an image already at the input size) and sends a
    tensor four times smaller across to onnxruntime, whose fused kernels do the arithmetic
    faster than numpy's separate passes.
    """

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float], scale: float = 1 / 255):
        super().__init__()
        self.model = model
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mul", torch.tensor(scale, dtype=torch.float32) / std_t, persistent=False)
        self.register_buffer("add", -torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) / std_t,
                             persistent=False)
        self.strides = getattr(model, "strides", None)

    def forward(self, pixels: torch.Tensor):
        x = pixels.permute(0, 3, 1, 2).to(torch.float32)
        return self.model(x * self.mul + self.add)


def export_backbone(
    model: nn.Module, path: str | Path, *, name: str, input: InputSpec,
    feature_names: Sequence[str] | None = None, strides: Mapping[str, int] | None = None,
    metrics: Mapping[str, float] | None = None, provenance: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Export ``model`` (a module whose forward maps an image batch to a tuple of feature
    maps, e.g. :class:`visionkit.nn.backbones.Backbone`) and return its card (with hash)."""
    if strides is None:
        strides = getattr(model, "strides", None) or {"c3": 8, "c4": 16, "c5": 32}
    if feature_names is None:
        feature_names = tuple(strides)
    h, w = input.size
    if input.layout == "NHWC":
        dummy = torch.zeros(1, h, w, 3, dtype=torch.uint8 if input.dtype == "uint8" else torch.float32)
        axes = {"image": {0: "batch", 1: "height", 2: "width"}}
    else:
        dummy = torch.zeros(1, 3, h, w)
        axes = {"image": {0: "batch", 2: "height", 3: "width"}}
    for f in feature_names:
        axes[f] = {0: "batch", 2: f"{f}_height", 3: f"{f}_width"}
    proto = _to_onnx(model, (dummy,), ["image"], feature_names, axes)
    card = ModelCard(
        task="backbone", name=name, input=input, output="features",
        features=tuple(feature_names), strides={f: int(strides[f]) for f in feature_names},
        metrics=dict(metrics or {}), provenance=dict(provenance or {}), options=dict(options or {}),
    )
    return _save(proto, card, path)


def export_head(
    head: nn.Module, path: str | Path, *, feature_shapes: Mapping[str, Sequence[int]],
    backbone_card: ModelCard, name: str, task: str, labels: Sequence[str] = (),
    output: str = "logits", output_names: Sequence[str] = ("logits",),
    metrics: Mapping[str, float] | None = None, provenance: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None, dynamic_spatial: bool = True,
    extra_inputs: Mapping[str, torch.Tensor] | None = None,
    parts: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Export a head whose forward takes the feature maps named in ``feature_shapes``
    (``{"c5": (1, 256, 4, 4)}``, in forward-argument order), then any ``extra_inputs``
    (example tensors whose first axis varies, e.g. ``rois`` (R, 4)), and return its card.
    ``options`` are the task's user-settable defaults, ``config`` its fixed configuration and
    ``parts`` its other graphs (role -> file name beside it)."""
    if not backbone_card.hash:
        raise ValueError("the backbone card has no hash; export the backbone first")
    names = list(feature_shapes)
    extra = dict(extra_inputs or {})
    dummies = tuple(torch.zeros(*feature_shapes[n]) for n in names) + tuple(extra.values())
    axes: dict[str, dict[int, str]] = {}
    for n in names:
        axes[n] = {0: "batch", 2: f"{n}_height", 3: f"{n}_width"} if dynamic_spatial else {0: "batch"}
    for n in extra:
        axes[n] = {0: "rois"}
    for o in output_names:
        axes[o] = {0: "rois" if extra else "batch"}
    proto = _to_onnx(head, dummies, names + list(extra), output_names, axes)
    card = ModelCard(
        task=task, name=name, labels=tuple(labels), output=output,
        backbone=BackboneRef(name=backbone_card.name, hash=backbone_card.hash),
        features=tuple(names), metrics=dict(metrics or {}), provenance=dict(provenance or {}),
        options=dict(options or {}), config=dict(config or {}), parts=dict(parts or {}),
    )
    return _save(proto, card, path)


def verify_onnx(path: str | Path, module: nn.Module, feeds: Mapping[str, np.ndarray],
                tol: float = 1e-4) -> float:
    """Run ``path`` in onnxruntime (CPU) and ``module`` in torch on the same ``feeds``
    (forward-argument order); raise :class:`ExportMismatchError` when an output's relative
    error ``max|ort - torch| / max|torch|`` exceeds ``tol``. Returns the worst error."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {k: np.ascontiguousarray(np.asarray(v, np.float32) if np.asarray(v).dtype.kind == "f" else v)
             for k, v in feeds.items()}
    got = sess.run(None, feeds)
    was_training = module.training
    module.eval()
    with torch.no_grad():
        ref = module(*(torch.from_numpy(v) for v in feeds.values()))
    module.train(was_training)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    worst = 0.0
    for i, (g, r) in enumerate(zip(got, ref)):
        r = r.float().numpy()
        if g.shape != r.shape:
            raise ExportMismatchError(f"{path}: output {i} has shape {g.shape} in onnxruntime, {r.shape} in torch")
        err = float(np.abs(g - r).max() / max(float(np.abs(r).max()), 1e-12))
        worst = max(worst, err)
    if worst > tol:
        raise ExportMismatchError(f"{path}: onnxruntime differs from torch, relative error {worst:.2e} > {tol:.0e}")
    return worst


def record_metrics(path: str | Path, metrics: Mapping[str, Any]) -> None:
    """Write numbers measured after export into the card of the exported file at ``path``."""
    proto = onnx.load(str(path))
    embed_card(proto, read_card(path).with_(metrics=dict(metrics)))
    onnx.save_model(proto, str(path))
