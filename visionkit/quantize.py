"""int8 backbones: a static, per-channel int8 copy of a backbone that every head uses unchanged.

:func:`quantize_backbone` writes ``<backbone>_int8.onnx`` beside the fp32 file (what
``Pipeline(..., precision="int8")`` and ``visionkit predict --precision int8`` load). The copy
is static QDQ: weights int8 per output channel, activations uint8 with ranges measured on
calibration pictures (generated ShapeWorld scenes plus the user's own images), each prepared
exactly as the backbone's card says. onnxruntime fuses the QDQ pairs into int8 kernels.

What stays float, and why (each measured on EfficientNet-Lite0 at 224 px, 2 cores):

* the input normalisation at the graph's start (uint8 pixels -> Cast, Mul/Sub, Add): int8
  there becomes QLinearMul/QLinearAdd, which made the whole backbone slower than fp32;
* the first convolution, which reads the picture, and a depthwise convolution right after it:
  the int8 weights of each alone moved the deepest feature map more than those of all other
  layers together (1 - cosine 4e-3 and 37e-3 against about 6e-3), for a small share of the
  work. A float first convolution also keeps the normalisation in onnxruntime's NCHW layout,
  where it costs 0.1 ms; before an int8 one, onnxruntime moved the float Mul and Add to NHWC,
  where broadcasting over three channels cost 1.5-2.5 ms each.

Every quantized convolution's bias is then corrected for the mean shift its rounded weights
cause (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
Correction"): on a flat patch the rounding error of a kernel is not noise but a constant
offset, which later layers amplify. With it the mean cosine of the deepest feature map to
fp32, on ShapeWorld pictures, went from 0.989 to 0.997.

Dynamic int8 is not offered: it re-measures activation ranges on every call and ran
convolutions 4x slower than fp32 here.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from .errors import InputError, ModelError, UsageError, require
from .onnx_cards import embed_card
from .outputs import discard, publish, temp_path

if TYPE_CHECKING:
    import onnx

    from .cards import ModelCard

#: ``x.onnx`` -> ``x_int8.onnx``
INT8_SUFFIX = "_int8"
#: operators whose tensors become int8. An activation (Clip for ReLU6, Relu) must be among them:
#: quantized with its convolution, the convolution's output range is the activation's (0..6),
#: not the pre-activation range (about -100..100 on Lite0's stem), which left 8 levels for 0..6
#: MaxPool is left out: in uint8 onnxruntime ran the ShapeWorld ResNet's one max-pool, behind
#: the float stem, at 3.6 ms against 0.13 ms in float, more than all its int8 convolutions
QUANTIZED_OPS = ("Conv", "Clip", "Relu", "Add")
_ACTIVATIONS = ("Clip", "Relu")
#: generated calibration pictures by default: 32, 64 and 128 gave Lite0 the same mean feature
#: cosine to fp32 (within 3e-4); 64 take about 10 s on two cores
DEFAULT_PICTURES = 64
#: frames taken from the user's calibration sources at most (a video gives its first ones)
MAX_USER_FRAMES = 512
#: held-out generated pictures on which the result is compared with fp32 once it is written
_CHECK_PICTURES = 8
_CALIBRATION_SEED = 0
_CHECK_SEED = 1


def int8_path(backbone: str | Path) -> Path:
    """Where the int8 copy of a backbone lives: ``<stem>_int8.onnx`` beside it."""
    path = Path(backbone)
    return path.with_name(f"{path.stem}{INT8_SUFFIX}{path.suffix or '.onnx'}")


def is_int8(card: "ModelCard") -> bool:
    """Whether a card is that of an int8 copy (``config["precision"]``)."""
    return card.config.get("precision") == "int8"


@dataclass(frozen=True)
class Quantized:
    """An int8 backbone just written, and what it was made from."""

    path: Path
    card: "ModelCard"
    source: Path
    generated: int  # ShapeWorld calibration pictures
    user: int  # calibration pictures from the user's sources
    float_nodes: tuple[str, ...]  # nodes left in float (normalisation, stem)
    cosine: float  # lowest cosine similarity to fp32 over the features of held-out pictures
    seconds: float


def quantize_backbone(model: str | Path, out: str | Path | None = None, *,
                      calibrate: Sequence[str | Path] = (), n: int | None = None,
                      seed: int = _CALIBRATION_SEED) -> Quantized:
    """Write the int8 copy of a backbone and return what was written.

    :param model: the fp32 backbone (an ONNX file with a backbone card).
    :param out: where to write (default: ``<stem>_int8.onnx`` beside ``model``).
    :param calibrate: the user's images, folders or videos, used with the generated pictures;
        pictures like those the backbone will see make the ranges fit them.
    :param n: generated ShapeWorld calibration pictures (0 for the user's alone; None for
        :data:`DEFAULT_PICTURES`).
    :param seed: the generated pictures' seed.
    """
    onnx = require("onnx", "train")
    from .bundled import resolve_model

    start = time.perf_counter()
    source = resolve_model(model)
    fp32, card = _read_backbone(source, onnx)
    target = Path(out) if out is not None else int8_path(source)
    if target.resolve() == source.resolve():
        raise UsageError(f"--out {target} is the fp32 backbone itself; write the int8 copy elsewhere")
    n = DEFAULT_PICTURES if n is None else n
    if n < 0:
        raise UsageError(f"--n must be 0 or more, not {n}")
    from .preprocess import preprocess

    # prepared as they come: the network inputs are small, the user's frames may not be
    tensors = [preprocess(picture, card.input)[0] for picture in user_pictures(calibrate)]
    user = len(tensors)
    tensors += [preprocess(picture, card.input)[0] for picture in generated_pictures(n, seed)]
    if not tensors:
        raise UsageError("no calibration pictures: give --n above 0 or images with --calibrate")
    _name_nodes(fp32)
    keep = float_nodes(fp32)
    int8 = _quantize(fp32, tensors, keep)
    if not any(node.op_type == "DequantizeLinear" for node in int8.graph.node):
        raise UsageError(f"{source.name}: nothing in it runs in int8 (no convolutions to quantize)")
    _correct_biases(int8, fp32, tensors)
    int8_card = _int8_card(card, source, int8, n, user, seed, keep)
    embed_card(int8, int8_card)
    target.parent.mkdir(parents=True, exist_ok=True)
    _save(int8, target, onnx)
    cosine = _check(source, target, card, seed)
    return Quantized(target, int8_card, source, n, user, tuple(keep), cosine, time.perf_counter() - start)


# --- calibration pictures ----------------------------------------------------------------------

def generated_pictures(n: int, seed: int) -> list[np.ndarray]:
    """``n`` ShapeWorld pictures: one third single-shape scenes (128 px), the rest the scenes
    the detector and pose estimator see (256 px), so close-ups and crowded scenes both set ranges."""
    from .data.scenes import scene_for
    from .data.shapeworld import iter_classify, render

    singles = n // 3
    pictures = [image for image, _ in iter_classify(singles, seed=seed, size=128)]
    for i in range(n - singles):
        pictures.append(render(scene_for("pose" if i % 2 else "detect", seed, i)))
    return pictures


def user_pictures(specs: Sequence[str | Path]) -> Iterator[np.ndarray]:
    """RGB frames of the user's images, folders (searched recursively) and videos, at most
    :data:`MAX_USER_FRAMES`; an unreadable one is an InputError naming it."""
    if not specs:
        return
    from .sources import FrameError
    from .sources.specs import camera_index, open_sources

    for spec in specs:
        if camera_index(spec) is not None:
            raise UsageError(f"--calibrate {spec}: calibration takes images, folders or videos, not a camera")
    taken = 0
    with open_sources([str(s) for s in specs], recursive=True) as frames:
        for frame in frames:
            if isinstance(frame, FrameError):
                raise InputError(f"--calibrate: {frame}")
            yield frame.image
            taken += 1
            if taken >= MAX_USER_FRAMES:
                return


class _Feeds:
    """onnxruntime's calibration reader over prepared input tensors."""

    def __init__(self, name: str, tensors: list[np.ndarray]) -> None:
        self._items = iter(tensors)
        self._name = name

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._items, None)
        return None if tensor is None else {self._name: tensor}


# --- the graph ----------------------------------------------------------------------------------

def _read_backbone(path: Path, onnx: Any) -> tuple["onnx.ModelProto", "ModelCard"]:
    from .cards import card_from_metadata, read_sidecar

    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelError(f"{path.name}: not an ONNX model ({type(exc).__name__})") from None
    card = read_sidecar(path) or card_from_metadata({p.key: p.value for p in model.metadata_props}, path.name)
    if card is None or card.task != "backbone":
        what = "has no card" if card is None else f"is a {card.task!r} model"
        raise UsageError(f"{path.name} {what}; only a shared backbone (task 'backbone') is quantized")
    if is_int8(card):
        raise UsageError(f"{path.name} is already int8 (quantized from "
                         f"{card.provenance.get('quantized_from', {}).get('file', 'an fp32 backbone')})")
    if not card.hash:
        raise UsageError(f"{path.name}: its card has no hash, so no head can name it")
    return model, card


def _name_nodes(model: "onnx.ModelProto") -> None:
    """Give every node a unique name: the quantizer keeps or skips nodes by name."""
    used = {node.name for node in model.graph.node if node.name}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def float_nodes(model: "onnx.ModelProto") -> list[str]:
    """Names of the nodes kept in float: everything between the graph input and the first
    convolution (the normalisation), that convolution, a depthwise convolution reading its
    output, and the activation after each of them."""
    nodes = list(model.graph.node)
    producer = {out: node for node in nodes for out in node.output}
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    first = next((node for node in nodes if node.op_type == "Conv"), None)
    if first is None:
        return []
    keep: list[str] = []
    pending = [first.input[0]]
    while pending:  # the normalisation: every producer upstream of the first convolution
        node = producer.get(pending.pop())
        if node is not None and node.name not in keep:
            if node.op_type != "Constant":  # constants are never quantized: not worth listing
                keep.append(node.name)
            pending.extend(node.input)

    def with_activation(conv: Any) -> Any:
        keep.append(conv.name)
        after = consumers.get(conv.output[0], [])
        if len(after) == 1 and after[0].op_type in _ACTIVATIONS:
            keep.append(after[0].name)
            return after[0]
        return conv

    last = with_activation(first)
    weights = {init.name: init for init in model.graph.initializer}
    after = consumers.get(last.output[0], [])
    if len(after) == 1 and after[0].op_type == "Conv" and _attr(after[0], "group", 1) > 1:
        w = weights.get(after[0].input[1])
        if w is not None and len(w.dims) == 4 and w.dims[1] == 1:  # one input channel per group
            with_activation(after[0])
    return keep


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantizer logs a pre-processing hint at WARNING on the root logger each call."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _quantize(model: "onnx.ModelProto", tensors: list[np.ndarray], keep: list[str]) -> "onnx.ModelProto":
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.metadata_props[:]  # the card is rewritten for the int8 copy
    with tempfile.TemporaryDirectory(prefix="visionkit-int8-") as tmp, _quiet_quantizer():
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(bare, str(src))
        quantize_static(
            str(src), str(dst), _Feeds(model.graph.input[0].name, tensors),
            quant_format=QuantFormat.QDQ, per_channel=True,
            # u8 activations with s8 weights is the pair onnxruntime's x86 int8 kernels take
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=keep,
            calibrate_method=CalibrationMethod.MinMax,  # ReLU6 bounds most ranges already
        )
        return onnx.load(str(dst))


def _correct_biases(int8: "onnx.ModelProto", fp32: "onnx.ModelProto", tensors: list[np.ndarray]) -> None:
    """Subtract from each quantized convolution's bias the mean output shift of its rounded
    weights, ``(W_int8 - W) * E[x]`` per output channel, with ``E[x]`` the fp32 mean of the
    convolution's input over the calibration pictures."""
    from onnx import numpy_helper

    fp32_convs = {node.name: node for node in fp32.graph.node if node.op_type == "Conv"}
    producer = {out: node for node in int8.graph.node for out in node.output}
    inits = {init.name: init for init in int8.graph.initializer}

    def dequantized(name: str) -> tuple[Any, np.ndarray, np.ndarray] | None:
        """(DequantizeLinear node, integer values less their zero point, scale) of a constant."""
        dq = producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear" or not all(i in inits for i in dq.input):
            return None
        values = numpy_helper.to_array(inits[dq.input[0]]).astype(np.float64)
        if len(dq.input) > 2:
            zero = numpy_helper.to_array(inits[dq.input[2]]).astype(np.float64)
            values = values - (zero.reshape([-1] + [1] * (values.ndim - 1)) if zero.ndim else zero)
        return dq, values, numpy_helper.to_array(inits[dq.input[1]]).astype(np.float64)

    todo = []
    for node in int8.graph.node:
        if node.op_type == "Conv" and node.name in fp32_convs and len(node.input) > 2:
            w, b = dequantized(node.input[1]), dequantized(node.input[2])
            if w is not None and b is not None:
                todo.append((node, fp32_convs[node.name], w, b))
    if not todo:
        return
    means = _input_means(fp32, sorted({ref.input[0] for _, ref, _, _ in todo}), tensors)
    weights = {init.name: init for init in fp32.graph.initializer}
    for node, ref, (_, wq, w_scale), (b_dq, bq, b_scale) in todo:
        w = numpy_helper.to_array(weights[ref.input[1]]).astype(np.float64)
        scale = w_scale.reshape([-1] + [1] * (wq.ndim - 1)) if w_scale.ndim else w_scale
        error = (wq * scale - w).reshape(w.shape[0], w.shape[1], -1).sum(axis=2)  # (out, in per group)
        groups = int(_attr(ref, "group", 1))
        mean = means[ref.input[0]].reshape(groups, -1)  # (groups, inputs per group)
        shift = np.einsum("goi,gi->go", error.reshape(groups, -1, error.shape[1]), mean).reshape(-1)
        corrected = np.rint(bq - shift / b_scale)  # int32 bias, zero point 0
        info = np.iinfo(np.int32)
        inits[b_dq.input[0]].CopyFrom(numpy_helper.from_array(
            np.clip(corrected, info.min, info.max).astype(np.int32), b_dq.input[0]))


def _input_means(fp32: "onnx.ModelProto", names: list[str],
                 tensors: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-channel means (axis 1) of the named fp32 tensors over the calibration inputs."""
    import onnx

    from .runtime import CPU

    probe = onnx.ModelProto()
    probe.CopyFrom(fp32)
    del probe.metadata_props[:]
    present = {out.name for out in probe.graph.output}
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names if name not in present)
    session = _session(probe.SerializeToString(), [CPU])
    outputs = [out.name for out in session.get_outputs()]
    input_name = session.get_inputs()[0].name
    sums: dict[str, np.ndarray] = {}
    for tensor in tensors:
        values = dict(zip(outputs, session.run(None, {input_name: tensor})))
        for name in names:
            v = values[name].astype(np.float64)
            mean = v.mean(axis=tuple(i for i in range(v.ndim) if i != 1))
            sums[name] = sums.get(name, 0.0) + mean
    return {name: total / len(tensors) for name, total in sums.items()}


def _session(model: bytes | str, providers: list[str]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=providers)


# --- the card -------------------------------------------------------------------------------------

def _int8_card(card: "ModelCard", source: Path, int8: "onnx.ModelProto", n: int, user: int, seed: int,
               keep: list[str]) -> "ModelCard":
    import onnxruntime as ort

    from .onnx_cards import model_hash

    provenance = dict(card.provenance)
    provenance["quantized_from"] = {"file": source.name, "hash": card.hash}
    provenance["quantization"] = {
        "graph_hash": model_hash(int8),
        "format": "static QDQ",
        "weights": "int8, symmetric, per output channel",
        "activations": "uint8, per tensor, min-max ranges",
        "bias_correction": "mean shift of the rounded weights",
        "float_nodes": list(keep),
        "calibration": {"shapeworld": n, "seed": seed, "user": user},
        "onnxruntime": ort.__version__,
        "command": f"visionkit models quantize {source.name}"
                   + (f" --n {n}" if n != DEFAULT_PICTURES else "") + (f" --seed {seed}" if seed else "")
                   + (" --calibrate ..." if user else ""),
    }
    # The int8 copy keeps the fp32 backbone's hash on purpose: a head names the backbone it was
    # trained on by that hash, and core refuses a head whose hash differs from the loaded
    # backbone's. The int8 graph computes the same features (to int8 precision), so every head
    # exported against the fp32 backbone runs on it unchanged; its own content hash is recorded
    # in provenance["quantization"]["graph_hash"].
    return card.with_(config={**card.config, "precision": "int8"}, provenance=provenance)


def _save(model: "onnx.ModelProto", target: Path, onnx: Any) -> None:
    """Write under a temporary name and publish whole, so a failure leaves no half file."""
    tmp = temp_path(target)
    try:
        onnx.save(model, str(tmp))
    except BaseException:
        discard(tmp)
        raise
    publish(tmp, target, overwrite=True)


def _check(fp32: Path, int8: Path, card: "ModelCard", seed: int) -> float:
    """The lowest cosine similarity of any feature map, int8 vs fp32, on held-out pictures."""
    from .preprocess import preprocess
    from .runtime import CPU

    a, b = _session(str(fp32), [CPU]), _session(str(int8), [CPU])
    name = a.get_inputs()[0].name
    lowest = 1.0
    for picture in generated_pictures(_CHECK_PICTURES, seed + _CHECK_SEED):
        tensor = preprocess(picture, card.input)[0]
        for x, y in zip(a.run(None, {name: tensor}), b.run(None, {name: tensor})):
            lowest = min(lowest, cosine(x, y))
    return lowest


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays taken as flat vectors (1.0 for two zero arrays)."""
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / norm) if norm else float(np.array_equal(x, y))
