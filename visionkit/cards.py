"""Model cards: what a model expects, what it outputs, and where it came from.

A card travels inside the ONNX file (``metadata_props`` key ``visionkit.card``, JSON) for
models this project exports, or in a sidecar ``NAME.card.json`` next to a third-party
``NAME.onnx`` (written by ``visionkit models card``). Lookup order: an explicit card path,
the sidecar, the embedded card.

Preprocessing, as the card states it, turns an RGB uint8 image into the model input::

    geometry  letterbox to size | shorter side to ``resize`` then centre-crop | stretch to size
    colour    reorder to ``channel_order``
    values    x = (pixel * scale - mean) / std, per channel in the model's channel order,
              cast to ``dtype`` (integer dtypes are rounded and clipped)
    layout    NCHW or NHWC, batch of one
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Mapping

from .errors import CardError

#: 2 split a card's fixed ``config`` and its graphs ``parts`` from the user ``options``
CARD_VERSION = 2
METADATA_KEY = "visionkit.card"
SIDECAR_SUFFIX = ".card.json"

Layout = Literal["NCHW", "NHWC"]
DType = Literal["float32", "float16", "uint8", "int8"]
ChannelOrder = Literal["rgb", "bgr"]

#: onnxruntime's type strings for the dtypes a card may name
ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
}


@dataclass(frozen=True)
class InputSpec:
    """How to turn an RGB uint8 image into this model's input tensor."""

    size: tuple[int, int]  # (height, width) of the network input
    layout: Layout = "NCHW"
    dtype: DType = "float32"
    channel_order: ChannelOrder = "rgb"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: int | None = None  # shorter side, then centre-crop to ``crop`` or ``size``
    crop: int | None = None
    letterbox: bool = False
    letterbox_align: Literal["center", "topleft"] = "center"
    pad_value: float = 114.0
    name: str | None = None  # ONNX input name; None means the model's first input

    def __post_init__(self) -> None:
        if self.layout not in ("NCHW", "NHWC"):
            raise CardError(f"card input layout must be NCHW or NHWC, not {self.layout!r}")
        if self.dtype not in ("float32", "float16", "uint8", "int8"):
            raise CardError(f"card input dtype {self.dtype!r} is not float32/float16/uint8/int8")
        if self.channel_order not in ("rgb", "bgr"):
            raise CardError(f"card channel order must be rgb or bgr, not {self.channel_order!r}")
        if len(self.size) != 2 or min(self.size) < 1:
            raise CardError(f"card input size must be (height, width), got {self.size!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) == 0:
            raise CardError("card mean and std need three values each, std non-zero")


@dataclass(frozen=True)
class BackboneRef:
    """The exported backbone a head was trained on: its name and content hash."""

    name: str
    hash: str


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to run a model and read its outputs."""

    task: str  # "backbone", "classify", ...
    name: str
    input: InputSpec | None = None  # None for heads, which take feature maps
    labels: tuple[str, ...] = ()
    output: str = "logits"  # how to read the outputs: "logits", "probs", "features", ...
    backbone: BackboneRef | None = None  # heads: the backbone they need
    features: tuple[str, ...] = ()  # backbones: feature outputs; heads: feature inputs
    strides: Mapping[str, int] = field(default_factory=dict)  # backbones: stride per feature
    hash: str | None = None  # backbones: content hash that heads refer to
    metrics: Mapping[str, float] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    #: defaults of the task's user-settable options (e.g. ``topk``); the task declares which exist
    options: Mapping[str, Any] = field(default_factory=dict)
    #: fixed configuration the model was built with (a skeleton, the label that marks figures)
    config: Mapping[str, Any] = field(default_factory=dict)
    #: the model's other graphs by role, file names beside it (``{"box_head": "x_boxes.onnx"}``);
    #: core loads them and checks that each was exported for the same backbone
    parts: Mapping[str, str] = field(default_factory=dict)
    version: int = CARD_VERSION

    @property
    def is_head(self) -> bool:
        return self.backbone is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["features"] = list(self.features)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelCard":
        try:
            d = dict(d)
            if int(d.get("version", CARD_VERSION)) > CARD_VERSION:
                raise CardError(
                    f"card version {d['version']} is newer than this visionkit reads "
                    f"({CARD_VERSION}); upgrade visionkit"
                )
            inp = d.get("input")
            if inp is not None:
                inp = dict(inp)
                for key in ("size", "mean", "std"):
                    if key in inp:
                        inp[key] = tuple(inp[key])
                d["input"] = InputSpec(**inp)
            if d.get("backbone") is not None:
                d["backbone"] = BackboneRef(**d["backbone"])
            d["labels"] = tuple(d.get("labels", ()))
            d["features"] = tuple(d.get("features", ()))
            if int(d.get("version", CARD_VERSION)) < 2:
                d = _from_version_1(d)
            return cls(**d)
        except CardError:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            raise CardError(f"malformed model card: {exc}") from None

    @classmethod
    def from_json(cls, text: str, origin: str = "card") -> "ModelCard":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise CardError(f"{origin}: a card is a JSON object")
        return cls.from_dict(data)

    def with_(self, **changes: Any) -> "ModelCard":
        return replace(self, **changes)


#: what version-1 cards kept in ``options`` that is fixed configuration or another graph
_V1_PARTS = ("box_head",)
_V1_CONFIG = ("figure_label", "skeleton")


def _from_version_1(d: dict) -> dict:
    """Version-1 cards mixed graphs and fixed configuration into ``options``: sort them out."""
    options = dict(d.get("options") or {})
    parts = {k: options.pop(k) for k in _V1_PARTS if k in options}
    config = {k: options.pop(k) for k in _V1_CONFIG if k in options}
    return {**d, "options": options, "config": {**config, **dict(d.get("config") or {})},
            "parts": {**parts, **dict(d.get("parts") or {})}, "version": CARD_VERSION}


def sidecar_path(model_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.card.json`` beside it."""
    p = Path(model_path)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def read_sidecar(model_path: str | Path) -> ModelCard | None:
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    return ModelCard.from_json(path.read_text(encoding="utf-8"), origin=str(path))


def write_sidecar(card: ModelCard, model_path: str | Path, out: str | Path | None = None) -> Path:
    path = Path(out) if out is not None else sidecar_path(model_path)
    path.write_text(card.to_json() + "\n", encoding="utf-8")
    return path


def card_from_metadata(metadata: Mapping[str, str], origin: str) -> ModelCard | None:
    """The card embedded in an ONNX file's metadata map, if any."""
    text = metadata.get(METADATA_KEY)
    return None if text is None else ModelCard.from_json(text, origin=f"{origin} (embedded card)")


def check_against_inputs(card: ModelCard, inputs: list[tuple[str, list, str]], origin: str) -> None:
    """Refuse a card that does not fit the model's inputs ``[(name, shape, ort_type), ...]``.

    Only static dimensions are compared; symbolic ones (batch, dynamic H/W) fit anything.
    """
    spec = card.input
    if spec is None:
        return
    by_name = {name: (shape, typ) for name, shape, typ in inputs}
    name = spec.name or inputs[0][0]
    if name not in by_name:
        raise CardError(f"{origin}: card names input {name!r}, model has {sorted(by_name)}")
    shape, typ = by_name[name]
    dtype = ORT_TYPES.get(typ, typ)
    if dtype != spec.dtype:
        raise CardError(f"{origin}: card says {spec.dtype} input, model takes {dtype}")
    if len(shape) != 4:
        raise CardError(f"{origin}: card describes an image input, model input has shape {shape}")
    c_axis, h_axis, w_axis = (1, 2, 3) if spec.layout == "NCHW" else (3, 1, 2)
    want = {c_axis: 3, h_axis: spec.size[0], w_axis: spec.size[1]}
    for axis, expected in want.items():
        got = shape[axis]
        if isinstance(got, int) and got > 0 and got != expected:
            raise CardError(
                f"{origin}: card says {spec.layout} {spec.size[0]}x{spec.size[1]}x3, "
                f"model input is {list(shape)}"
            )
