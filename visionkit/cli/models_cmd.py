"""``visionkit models info PATH`` and ``visionkit models card MODEL.onnx --task ...``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..cards import InputSpec


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("models", parents=[common], help="inspect models, write cards for third-party ONNX")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True

    info = msub.add_parser("info", parents=[common], help="print a model's card, inputs and outputs")
    info.add_argument("path", help="model file (.onnx) or asset:NAME.onnx")
    info.add_argument("--card", help="card file (default: sidecar or embedded)")
    info.add_argument("--json", action="store_true", help="print the card as JSON")
    info.set_defaults(func=run_info)

    card = msub.add_parser(
        "card", parents=[common], help="write the sidecar card for a third-party ONNX model",
        description="Describe a third-party model's input and output so visionkit can run it. "
        "Input size, layout and dtype are read from the model where it states them.",
        epilog="example (ImageNet MobileNetV2, torchvision-style preprocessing):\n"
        "  visionkit models card mobilenetv2.onnx --task classify --labels synset.txt \\\n"
        "      --resize 256 --crop 224 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225\n"
        "example (Caffe-style SqueezeNet: BGR, raw 0-255, softmax output):\n"
        "  visionkit models card squeezenet.onnx --task classify --labels labels.txt \\\n"
        "      --channel-order bgr --scale 1 --output probs\n"
        "example (YOLOX detector: BGR 0-255, letterbox padded at the top left):\n"
        "  visionkit models card yolox_nano_416x416.onnx --task detect --labels coco.names \\\n"
        "      --channel-order bgr --scale 1 --letterbox topleft --output yolox",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    card.add_argument("model", help="the .onnx file")
    card.add_argument("--task", required=True, help="task the model performs (see `visionkit tasks`)")
    card.add_argument("--labels", help="label file: one per line, 'wnid name', 'index,name', JSON")
    card.add_argument("--channel-order", choices=("rgb", "bgr"), default="rgb")
    card.add_argument("--scale", type=float, default=None, help="pixel multiplier (default 1/255; 1 for integer inputs)")
    card.add_argument("--mean", default="0,0,0", help="per-channel mean after scaling, model channel order")
    card.add_argument("--std", default="1,1,1", help="per-channel std after scaling")
    card.add_argument("--resize", type=int, help="resize the shorter side to N, then centre-crop")
    card.add_argument("--crop", type=int, help="centre-crop size (default: the model input size)")
    card.add_argument("--letterbox", nargs="?", const="center", choices=("center", "topleft"),
                      help="keep the aspect ratio and pad, the image centred (default) or at the top left")
    card.add_argument("--pad-value", type=float, default=114.0, help="letterbox padding value (default 114)")
    card.add_argument("--size", help="input HxW when the model leaves it dynamic, e.g. 224x224")
    card.add_argument("--layout", choices=("NCHW", "NHWC"), help="default: read from the model")
    card.add_argument("--output", default="logits",
                      help="classify: logits | probs; other tasks: a decoder (see `visionkit plugins`), e.g. yolox")
    card.add_argument("--name", help="model name (default: the file name)")
    card.add_argument("--out", help="where to write (default: MODEL.card.json beside the model)")
    card.set_defaults(func=run_card)


def _triple(text: str, flag: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"{flag} takes three numbers like 0.485,0.456,0.406, not {text!r}") from None
    if len(values) != 3:
        raise UsageError(f"{flag} takes three comma-separated numbers, got {len(values)}")
    return values  # type: ignore[return-value]


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size takes HxW like 224x224, not {text!r}") from None
    return h, w


#: the flag that sets each card input field, so a refused value is reported as the flag the user typed
_FLAGS = {"input.size": "--size", "input.scale": "--scale", "input.mean": "--mean", "input.std": "--std",
          "input.resize": "--resize", "input.crop": "--crop", "input.pad_value": "--pad-value",
          "input.layout": "--layout"}


def _input_spec(**fields: object) -> InputSpec:
    """The card's input, checked by the same rules a loaded card meets; refusals name the flag."""
    from ..cards import CardFieldError, InputSpec, shown

    try:
        return InputSpec(**fields)
    except CardFieldError as exc:
        flag = _FLAGS.get(exc.field)
        if flag is None:
            raise
        allowed = exc.allowed.removesuffix(" or null")  # a flag left out is the null
        raise UsageError(f"{flag} must be {allowed}, not {shown(exc.value)}") from None


def _check_output(task: str, output: str) -> None:
    """Refuse now an output the task could not decode later."""
    from ..plugin_manager import get_plugins, require_task

    require_task(task)
    if task == "classify":
        if output not in ("logits", "probs"):
            raise UsageError(f"classify models output logits or probs, not {output!r}")
        return
    decoders = [d.name for d in get_plugins().decoders.for_task(task)]
    if output not in decoders:
        raise UsageError(f"no {task} decoder named {output!r} (installed: {', '.join(decoders) or 'none'})")


def run_card(args: argparse.Namespace) -> int:
    from ..cards import ORT_TYPES, ModelCard, check_against_inputs, write_sidecar
    from ..labels import load_labels
    from ..runtime import CPU, open_session

    path = Path(args.model)
    if not path.is_file():
        raise UsageError(f"{path}: no such model file")
    session = open_session(path, [CPU])
    first = session.get_inputs()[0]
    shape = list(first.shape)
    dtype = ORT_TYPES.get(first.type)
    if dtype is None:
        raise UsageError(f"{path.name}: input type {first.type} is not an image type this card can describe")
    if len(shape) != 4:
        raise UsageError(f"{path.name}: input {first.name!r} has shape {shape}, not an image batch")
    layout = args.layout or ("NCHW" if shape[1] == 3 else "NHWC" if shape[3] == 3 else None)
    if layout is None:
        raise UsageError(f"{path.name}: cannot tell the layout from shape {shape}; give --layout")
    hw = shape[2:4] if layout == "NCHW" else shape[1:3]
    if args.size:
        size = _size(args.size)
    elif all(isinstance(v, int) and v > 0 for v in hw):
        size = (int(hw[0]), int(hw[1]))
    elif args.crop:
        size = (args.crop, args.crop)
    else:
        raise UsageError(f"{path.name}: input size is dynamic ({shape}); give --size HxW")
    scale = args.scale if args.scale is not None else (1.0 if dtype in ("uint8", "int8") else 1 / 255)
    spec = _input_spec(size=size, layout=layout, dtype=dtype, channel_order=args.channel_order,
                       scale=scale, mean=_triple(args.mean, "--mean"), std=_triple(args.std, "--std"),
                       resize=args.resize, crop=args.crop, letterbox=args.letterbox is not None,
                       letterbox_align=args.letterbox or "center", pad_value=args.pad_value,
                       name=first.name)
    _check_output(args.task, args.output)
    labels = tuple(load_labels(args.labels)) if args.labels else ()
    card = ModelCard(task=args.task, name=args.name or path.stem, input=spec, labels=labels,
                     output=args.output, provenance={"card": "written by visionkit models card"})
    check_against_inputs(card, [(i.name, list(i.shape), i.type) for i in session.get_inputs()], path.name)
    out = write_sidecar(card, path, args.out)
    print(f"wrote {out} ({args.task}, {layout} {size[0]}x{size[1]} {dtype}, {len(labels)} labels)")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from ..bundled import resolve_model
    from ..runtime import load_model

    model = load_model(resolve_model(args.path), device="cpu", card=args.card)
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
