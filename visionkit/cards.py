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

A card comes from outside (a download, a hand-edited sidecar), so every field is checked
when the card is made, whether read from JSON or built in code: a card that loads is one
that preprocessing and the tasks can use. A refusal is one :class:`CardFieldError` line
naming the card, the field and what the field allows.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import reprlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Mapping

from .errors import CardError
from .textfile import read_small_text

#: 2 split a card's fixed ``config`` and its graphs ``parts`` from the user ``options``
CARD_VERSION = 2
METADATA_KEY = "visionkit.card"
SIDECAR_SUFFIX = ".card.json"

#: the largest network input a card may ask for, per side and in all: preprocessing allocates
#: a few float arrays of this size, which must stay far below the memory of a machine
MAX_SIDE = 16384
MAX_PIXELS = 8192 * 8192
#: real cards nest a handful of levels (provenance holds the training recipe); the limit keeps
#: reading, copying and writing a card far inside Python's recursion limit
MAX_DEPTH = 32
#: a card is a few kilobytes; ImageNet-21k's labels make one of about 1 MB
MAX_CARD_CHARS = 16 * 2**20

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

#: the top-level keys of a card, as :meth:`ModelCard.to_json` writes them
CARD_KEYS = ("version", "task", "name", "input", "labels", "output", "backbone", "features",
             "strides", "hash", "metrics", "provenance", "options", "config", "parts")
_INPUT_KEYS = ("size", "layout", "dtype", "channel_order", "scale", "mean", "std", "resize", "crop",
               "letterbox", "letterbox_align", "pad_value", "name")
_COLLECTIONS = ("labels", "features", "strides", "metrics", "provenance", "options", "config", "parts")
_SIDE = f"a whole number 1..{MAX_SIDE}"

_MISSING = object()  # a field the card leaves out, told apart from null

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40
_short.maxlist = _short.maxtuple = _short.maxdict = 4
_short.maxlevel = 2


def shown(value: Any) -> str:
    """A value as a short one-line literal, for messages (any size, any depth); JSON's
    words for null, true and false, since cards are JSON."""
    if value is _MISSING:
        return "missing"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return _short.repr(value)


class CardFieldError(CardError):
    """A card field outside what it allows. ``field`` names it (``input.std``), ``allowed``
    says what it takes (``three finite numbers above 0``), ``value`` is what it got."""

    def __init__(self, field: str, allowed: str, value: Any = _MISSING, origin: str = "card") -> None:
        self.field, self.allowed, self.value, self.origin = field, allowed, value, origin
        super().__init__(f"{origin}: {field} must be {allowed}, not {shown(value)}")

    def at(self, origin: str) -> "CardFieldError":
        """The same refusal, naming the card it came from."""
        return CardFieldError(self.field, self.allowed, self.value, origin)


# --- field checks: each returns the value in its plain Python form, or raises ------------------

def _number(value: Any, whole: bool) -> int | float | None:
    """``value`` as a Python int (whole) or float when it is a finite number, else None.

    numpy scalars are numbers too (a training script's statistics); bools are not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if whole:
        return int(value) if isinstance(value, numbers.Integral) else None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _ranged(name: str, value: Any, *, low: float | None = None, high: float | None = None,
            above: float | None = None, whole: bool = False, allowed: str) -> int | float:
    number = _number(value, whole)
    if (number is None or (low is not None and number < low) or (high is not None and number > high)
            or (above is not None and number <= above)):
        raise CardFieldError(name, allowed, value)
    return number


def _numbers(name: str, value: Any, count: int, allowed: str, **limits: Any) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise CardFieldError(name, allowed, value)
    try:
        return tuple(_ranged(name, v, allowed=allowed, **limits) for v in value)
    except CardFieldError:
        raise CardFieldError(name, allowed, value) from None  # show the whole value, not one item


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise CardFieldError(name, " or ".join((", ".join(choices[:-1]), choices[-1])), value)
    return value


def _text(name: str, value: Any, *, optional: bool = False, empty: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not empty and not value):
        what = "a string" if empty else "a non-empty string"
        raise CardFieldError(name, what + (" or null" if optional else ""), value)
    return value


def _strings(name: str, value: Any) -> tuple[str, ...]:
    # a string is a sequence too: "abc" would become the labels "a", "b", "c"
    if not isinstance(value, (list, tuple)):
        raise CardFieldError(name, "a list of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise CardFieldError(f"{name}[{i}]", "a string", item)
    return tuple(value)


#: what the card's objects hold, for messages
_OBJECTS = {"strides": "an object of feature: stride", "metrics": "an object of name: number",
            "parts": "an object of role: file name", "input": "an input object or null",
            "backbone": "an object with name and hash, or null"}


def _mapping(name: str, value: Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise CardFieldError(name, _OBJECTS.get(name, "an object"), value)
    return value


def _key(name: str, key: Any) -> str:
    """``name.key`` for messages, a long or odd key shortened."""
    return f"{name}.{key}" if isinstance(key, str) and key.isidentifier() and len(key) <= 40 \
        else f"{name}[{shown(key)}]"


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
        put = object.__setattr__  # frozen: store each field in its checked, plain form
        size = _numbers("input.size", self.size, 2, f"(height, width), each {_SIDE}",
                        low=1, high=MAX_SIDE, whole=True)
        if size[0] * size[1] > MAX_PIXELS:
            raise CardFieldError("input.size", f"at most {MAX_PIXELS} pixels in all (8192x8192)", self.size)
        put(self, "size", size)
        _choice("input.layout", self.layout, ("NCHW", "NHWC"))
        _choice("input.dtype", self.dtype, ("float32", "float16", "uint8", "int8"))
        _choice("input.channel_order", self.channel_order, ("rgb", "bgr"))
        put(self, "scale", _ranged("input.scale", self.scale, above=0, allowed="a finite number above 0"))
        put(self, "mean", _numbers("input.mean", self.mean, 3, "three finite numbers"))
        put(self, "std", _numbers("input.std", self.std, 3, "three finite numbers above 0", above=0))
        for key in ("resize", "crop"):
            value = getattr(self, key)
            if value is not None:
                put(self, key, _ranged(f"input.{key}", value, low=1, high=MAX_SIDE, whole=True,
                                       allowed=f"{_SIDE} or null"))
        if self.resize is not None and self.crop is not None and self.crop > self.resize:
            # the centre crop is cut from the resized picture: it cannot be larger
            raise CardFieldError("input.crop", f"at most input.resize ({self.resize})", self.crop)
        if not isinstance(self.letterbox, bool):
            raise CardFieldError("input.letterbox", "true or false", self.letterbox)
        _choice("input.letterbox_align", self.letterbox_align, ("center", "topleft"))
        put(self, "pad_value", _ranged("input.pad_value", self.pad_value, low=0, high=255,
                                       allowed="a number 0..255"))
        _text("input.name", self.name, optional=True, empty=False)


@dataclass(frozen=True)
class BackboneRef:
    """The exported backbone a head was trained on: its name and content hash."""

    name: str
    hash: str

    def __post_init__(self) -> None:
        _text("backbone.name", self.name, empty=False)
        _text("backbone.hash", self.hash, empty=False)


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
    #: and checks these against its limits as it does a user's
    options: Mapping[str, Any] = field(default_factory=dict)
    #: fixed configuration the model was built with (a skeleton, the label that marks figures)
    config: Mapping[str, Any] = field(default_factory=dict)
    #: the model's other graphs by role, file names beside it (``{"box_head": "x_boxes.onnx"}``);
    #: core loads them and checks that each was exported for the same backbone
    parts: Mapping[str, str] = field(default_factory=dict)
    version: int = CARD_VERSION

    def __post_init__(self) -> None:
        put = object.__setattr__
        _text("task", self.task, empty=False)
        _text("name", self.name)
        _text("output", self.output, empty=False)
        _text("hash", self.hash, optional=True, empty=False)
        if self.input is not None and not isinstance(self.input, InputSpec):
            raise CardFieldError("input", _OBJECTS["input"], self.input)
        if self.backbone is not None and not isinstance(self.backbone, BackboneRef):
            raise CardFieldError("backbone", _OBJECTS["backbone"], self.backbone)
        if self.backbone is None and self.input is None:
            # without a backbone the model takes the image: how to prepare it is not optional
            raise CardFieldError("input", "given for a model that takes the image (no backbone)", None)
        put(self, "labels", _strings("labels", self.labels))
        put(self, "features", _strings("features", self.features))
        put(self, "strides", {
            k: _ranged(_key("strides", k), v, low=1, high=MAX_SIDE, whole=True, allowed=_SIDE)
            for k, v in _mapping("strides", self.strides).items()})
        put(self, "metrics", {
            k: _ranged(_key("metrics", k), v, whole=isinstance(v, numbers.Integral), allowed="a finite number")
            for k, v in _mapping("metrics", self.metrics).items()})
        for key in ("provenance", "options", "config"):
            _mapping(key, getattr(self, key))
        put(self, "parts", {k: _text(_key("parts", k), v, empty=False)
                            for k, v in _mapping("parts", self.parts).items()})
        put(self, "version", _ranged("version", self.version, low=1, high=CARD_VERSION, whole=True,
                                     allowed=f"a whole number 1..{CARD_VERSION}"))

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
    def from_dict(cls, d: Mapping[str, Any], origin: str = "card") -> "ModelCard":
        """A card from its JSON form; every refusal is one line naming ``origin``."""
        if not isinstance(d, Mapping):
            raise CardError(f"{origin}: a card is a JSON object, not {shown(d)}")
        unknown = [k for k in d if k not in CARD_KEYS]  # a typo first, before what its value holds
        if unknown:
            raise CardError(f"{origin}: unknown card key {shown(unknown[0])} (keys: {', '.join(CARD_KEYS)})")
        try:
            _check_tree(d, origin)
            return cls(**_fields(d, origin))
        except CardFieldError as exc:
            raise exc.at(origin) from None

    @classmethod
    def from_json(cls, text: str, origin: str = "card") -> "ModelCard":
        if len(text) > MAX_CARD_CHARS:
            raise CardError(f"{origin}: {len(text)} characters is too large for a card "
                            f"(at most {MAX_CARD_CHARS})")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise CardError(f"{origin}: card nests deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # an integer of more digits than Python converts
            raise CardError(f"{origin}: not valid JSON ({str(exc).split(':')[0]})") from None
        if not isinstance(data, dict):
            raise CardError(f"{origin}: a card is a JSON object")
        return cls.from_dict(data, origin)

    def with_(self, **changes: Any) -> "ModelCard":
        return replace(self, **changes)


#: a lone UTF-16 surrogate: JSON's ``\\ud800`` reads as one, but no UTF-8 file can hold it
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_tree(data: Any, origin: str) -> None:
    """Refuse nesting beyond MAX_DEPTH, non-finite numbers and unwritable text anywhere.

    Iterative, so any depth of input is refused with a message rather than a RecursionError.
    """
    stack = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            top = path.split(".")[0].split("[")[0]
            raise CardError(f"{origin}: {top} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, float) and not math.isfinite(value):
            raise CardFieldError(path, "a finite number", value)
        if isinstance(value, str) and _SURROGATE.search(value):
            raise CardFieldError(path or "card", "text without lone surrogates (\\ud800-\\udfff)", value)
        if isinstance(value, Mapping):
            for k, v in value.items():
                if isinstance(k, str) and _SURROGATE.search(k):
                    raise CardFieldError(path or "card", "keys without lone surrogates", k)
                stack.append((v, _key(path, k) if path else str(k)[:40], depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))


def _fields(d: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """The constructor arguments of a card's JSON form, its nested objects built."""
    for key in ("task", "name"):
        if key not in d:
            raise CardError(f"{origin}: malformed model card: no {key!r}")
    version = d.get("version", CARD_VERSION)
    if _number(version, whole=True) is not None and version > CARD_VERSION:
        raise CardError(f"{origin}: card version {version} is newer than this visionkit reads "
                        f"({CARD_VERSION}); upgrade visionkit")
    version = _ranged("version", version, low=1, high=CARD_VERSION, whole=True,
                      allowed=f"a whole number 1..{CARD_VERSION}")
    # null for a collection means empty, as older writers put it
    fields = {k: v for k, v in d.items() if v is not None or k not in _COLLECTIONS}
    fields["version"] = version
    for key in ("options", "config", "parts"):  # read by the version-1 migration below
        if key in fields:
            _mapping(key, fields[key])
    if fields.get("input") is not None:
        inp = _mapping("input", fields["input"])
        extra = [k for k in inp if k not in _INPUT_KEYS]
        if extra:
            raise CardError(f"{origin}: unknown input key {shown(extra[0])} (keys: {', '.join(_INPUT_KEYS)})")
        if "size" not in inp:
            raise CardFieldError("input.size", f"(height, width), each {_SIDE}")
        fields["input"] = InputSpec(**inp)
    if fields.get("backbone") is not None:
        ref = _mapping("backbone", fields["backbone"])
        extra = [k for k in ref if k not in ("name", "hash")]
        if extra:
            raise CardError(f"{origin}: unknown backbone key {shown(extra[0])} (keys: name, hash)")
        fields["backbone"] = BackboneRef(name=ref.get("name", _MISSING), hash=ref.get("hash", _MISSING))
    if version < 2:
        fields = _from_version_1(fields)
    return fields


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


def read_card_file(path: str | Path) -> ModelCard:
    """The card in a JSON file; a missing, unreadable, huge or binary file is a CardError."""
    p = Path(path)
    text = read_small_text(p, "card", MAX_CARD_CHARS * 4)  # UTF-8 takes at most 4 bytes a character
    return ModelCard.from_json(text, origin=str(p))


def read_sidecar(model_path: str | Path) -> ModelCard | None:
    path = sidecar_path(model_path)
    return read_card_file(path) if path.is_file() else None


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
