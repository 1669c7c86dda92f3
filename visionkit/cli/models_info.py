"""``visionkit models info PATH``: what a model's card says, or, for a model without one, what
the file says about itself (inputs, outputs, opsets, size), which decoders can read its
outputs, and the ``models card`` command to start from.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .models_cmd import _decode_problem

if TYPE_CHECKING:
    import onnxruntime as ort


def run_info(args: argparse.Namespace) -> int:
    from ..bundled import resolve_model
    from ..cards import card_from_metadata, sidecar_path
    from ..runtime import CPU, load_model, open_session

    path = resolve_model(args.path)
    if args.card is None and path.is_file() and path.stat().st_size and not sidecar_path(path).is_file():
        session = open_session(path, [CPU])
        if card_from_metadata(session.get_modelmeta().custom_metadata_map, path.name) is None:
            return _info_without_card(path, session, args.json)
    model = load_model(path, device="cpu", card=args.card)
    card = model.card
    if args.json:
        print(card.to_json())
        return 0
    size_mb = model.path.stat().st_size / 1e6
    print(f"{model.path}  ({size_mb:.2f} MB)")
    print(f"  task       {card.task}")
    print(f"  name       {card.name}")
    for inp in model.inputs:
        print(f"  input      {inp.name} {list(inp.shape)} {inp.type}")
    print(f"  outputs    {', '.join(model.outputs)}")
    if card.input is not None:
        s = card.input
        geometry = ("letterbox" if s.letterbox else f"resize {s.resize}, crop {s.crop or 'to size'}"
                    if s.resize else "stretch")
        print(f"  preprocess {s.layout} {s.size[0]}x{s.size[1]} {s.dtype} {s.channel_order.upper()}, "
              f"x*{s.scale:.6g} mean {list(s.mean)} std {list(s.std)}, {geometry}")
    if card.backbone is not None:
        print(f"  backbone   {card.backbone.name}@{card.backbone.hash}")
    if card.hash:
        print(f"  hash       {card.hash}")
    if card.features:
        strides = ", ".join(f"{f}/{card.strides.get(f, '?')}" for f in card.features)
        print(f"  features   {strides}")
    print(f"  output     {card.output}")
    if card.labels:
        shown = ", ".join(card.labels[:8]) + (", ..." if len(card.labels) > 8 else "")
        print(f"  labels     {len(card.labels)}: {shown}")
    for key, value in card.metrics.items():
        print(f"  metric     {key} = {value}")
    for key, value in card.provenance.items():
        print(f"  provenance {key}: {value if isinstance(value, str) else json.dumps(value)}")
    return 0


def _varint(fh: BinaryIO) -> int | None:
    shift = value = 0
    while byte := fh.read(1):
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
    return None


def _fields(fh: BinaryIO, wanted: set[int]) -> Iterator[tuple[int, int | bytes | None]]:
    """Each top-level field of a protobuf message: varints as ints, the length-delimited
    fields in ``wanted`` as bytes; other fields are skipped unread."""
    while (tag := _varint(fh)) is not None:
        field, kind = tag >> 3, tag & 7
        if kind == 0:
            yield field, _varint(fh)
        elif kind == 2:
            length = _varint(fh) or 0
            if field in wanted:
                yield field, fh.read(length)
            else:
                fh.seek(length, 1)
        elif kind in (1, 5):
            fh.seek(8 if kind == 1 else 4, 1)
        else:  # groups: no ONNX file holds them, so this is not one; stop rather than guess
            return


def _opsets(path: Path) -> tuple[int | None, dict[str, int]]:
    """The IR version and the opset of each operator domain an ONNX file imports.

    Read from the file's top-level fields (``ir_version`` = 1, ``opset_import`` = 8), the
    graph skipped unread: no ONNX package is needed, and a large model costs nothing.
    """
    import io

    ir, opsets = None, {}
    with open(path, "rb") as fh:
        for field, value in _fields(fh, {8}):
            if field == 1 and isinstance(value, int):
                ir = value
            elif field == 8 and isinstance(value, bytes):
                entry = dict(_fields(io.BytesIO(value), {1}))
                domain = entry.get(1) if isinstance(entry.get(1), bytes) else b""
                opsets[(domain or b"ai.onnx").decode("utf-8", "replace")] = int(entry.get(2) or 0)
    return ir, opsets


def _image_input(session: ort.InferenceSession) -> tuple[str, tuple[int, int]] | None:
    """(layout, (height, width)) of a model whose first input is a fixed-size image batch."""
    shape = list(session.get_inputs()[0].shape)
    if len(shape) != 4:
        return None
    layout = "NCHW" if shape[1] == 3 else "NHWC" if shape[3] == 3 else None
    hw = shape[2:4] if layout == "NCHW" else shape[1:3]
    if layout is None or not all(isinstance(v, int) and v > 0 for v in hw):
        return None
    return layout, (int(hw[0]), int(hw[1]))


def _fitting_decoders(path: Path, session: ort.InferenceSession) -> list[tuple[str, str]]:
    """(task, decoder) pairs whose decoder reads this model's outputs on a blank picture."""
    from ..cards import ORT_TYPES, InputSpec, ModelCard
    from ..errors import VisionkitError
    from ..plugin_manager import get_plugins

    image = _image_input(session)
    dtype = ORT_TYPES.get(session.get_inputs()[0].type)
    if image is None or dtype is None:
        return []
    layout, size = image
    spec = InputSpec(size=size, layout=layout, dtype=dtype, name=session.get_inputs()[0].name,
                     scale=1.0 if dtype in ("uint8", "int8") else 1 / 255)
    fits = []
    for decoder in get_plugins().decoders:
        card = ModelCard(task=decoder.task, name=path.stem, input=spec, output=decoder.name)
        try:
            if _decode_problem(card, path) is None:
                fits.append((decoder.task, decoder.name))
        except VisionkitError:  # the task cannot even be built on it (a missing part, a head task)
            continue
    return fits


#: words in a file name that say which task a model is for, where its outputs cannot
_TASK_WORDS = {"embed": ("reid", "reidentification", "embed")}


def _suggested_card(path: Path, session: ort.InferenceSession, fits: list[tuple[str, str]]) -> str:
    """A ``models card`` command to start from: the decoder when the outputs' shapes and the
    file's name agree on one (a generic decoder accepts many shapes; names settle it)."""
    words = set(path.stem.lower().replace("-", "_").split("_"))
    named = [(t, d) for t, d in fits if all(any(part in w for w in words) for part in d.split("_"))
             or any(hint in w for w in words for hint in _TASK_WORDS.get(t, ()))]
    outputs = session.get_outputs()
    # a single vector, the batch axis (symbolic or 1) aside: class scores unless the name says
    # it is an embedding (any vector fits a re-ID decoder, so its fitting settles nothing)
    values = [d for d in outputs[0].shape[1:] if not (isinstance(d, int) and d == 1)]
    vector = len(outputs) == 1 and len(values) == 1
    chosen = named[:1] or (fits if len(fits) == 1 and not vector else [])
    if chosen:
        what = f"--task {chosen[0][0]} --output {chosen[0][1]} --labels LABELS"
    elif vector:
        what = "--task classify --labels " + ("imagenet" if values[0] == 1000 else "LABELS")
    else:
        what = "--task TASK --output DECODER --labels LABELS"
    return f"visionkit models card {path} {what}"


def _info_without_card(path: Path, session: ort.InferenceSession, as_json: bool) -> int:
    """What a card-less ONNX file says about itself, and how to write its card."""
    from ..cards import ORT_TYPES

    ir, opsets = _opsets(path)
    inputs = [{"name": i.name, "shape": list(i.shape), "type": ORT_TYPES.get(i.type, i.type)}
              for i in session.get_inputs()]
    outputs = [{"name": o.name, "shape": list(o.shape), "type": ORT_TYPES.get(o.type, o.type)}
               for o in session.get_outputs()]
    fits = _fitting_decoders(path, session)
    command = _suggested_card(path, session, fits)
    if as_json:
        print(json.dumps({"path": str(path), "bytes": path.stat().st_size, "card": None, "ir_version": ir,
                          "opsets": opsets, "inputs": inputs, "outputs": outputs,
                          "decoders": [f"{t}/{d}" for t, d in fits], "suggested": command}, indent=2))
        return 0
    print(f"{path}  ({path.stat().st_size / 1e6:.2f} MB, no card)")
    print(f"  opset      {', '.join(f'{d} {v}' for d, v in opsets.items()) or '?'}"
          + (f" (IR {ir})" if ir is not None else ""))
    for item in inputs:
        print(f"  input      {item['name']} {item['shape']} {item['type']}")
    for item in outputs:
        print(f"  output     {item['name']} {item['shape']} {item['type']}")
    if fits:
        print(f"  decoders   its outputs fit: {', '.join(f'{d} ({t})' for t, d in fits)}")
    elif "--task classify" in command:
        print("  decoders   none needed: one vector of class scores (classify)")
    else:
        print("  decoders   none of the installed decoders reads its outputs on their own")
    print(f"  card       {command}")
    print("             with the input preparation its authors document: --channel-order, --scale, "
          "--mean, --std, --letterbox, --resize/--crop; LABELS is a label file or voc, coco, imagenet")
    return 0
