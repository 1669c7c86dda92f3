"""``visionkit models card MODEL.onnx --task ...``, ``visionkit models quantize BACKBONE.onnx``
(its int8 copy, see :mod:`visionkit.quantize`) and the parser of ``visionkit models info``
(:mod:`.models_info`).

A card is checked before it is written: the model runs once on a blank picture of the card's
input size through the task and decoder the card names, so a decoder that cannot read the
model's outputs is refused now, not once per image later.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:

    from ..cards import InputSpec, ModelCard


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
        "  visionkit models card yolox_nano_416x416.onnx --task detect --labels coco \\\n"
        "      --channel-order bgr --scale 1 --letterbox topleft --output yolox\n"
        "example (MediaPipe hands: the landmark model, with the palm detector carded beside it):\n"
        "  visionkit models card palm_detection_mediapipe_2023feb.onnx --task detect \\\n"
        "      --letterbox --pad-value 0 --output mediapipe_palm\n"
        "  visionkit models card handpose_estimation_mediapipe_2023feb.onnx --task landmarks \\\n"
        "      --output mediapipe_hand --part palm=palm_detection_mediapipe_2023feb.onnx\n"
        "The card is checked by running the model once on a blank picture through its decoder.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    card.add_argument("model", help="the .onnx file")
    card.add_argument("--task", required=True, help="task the model performs (see `visionkit tasks`)")
    card.add_argument("--labels", help="label file (one per line, 'wnid name', 'index,name', JSON) "
                                       "or a label set: voc, coco, imagenet")
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
    card.add_argument("--output",
                      help="classify: logits (default) | probs; other tasks: the decoder that reads the "
                           "outputs (see `visionkit plugins`), e.g. yolox")
    card.add_argument("--part", action="append", default=[], metavar="ROLE=FILE",
                      help="another graph the decoder runs, a file beside the model with a card of its "
                           "own (e.g. palm=palm_detection.onnx); repeatable")
    card.add_argument("--option", action="append", default=[], metavar="TASK.KEY=VALUE",
                      help="a default of the task's options for this model, e.g. detect.score=0.7 for a "
                           "detector whose scores run high; repeatable")
    card.add_argument("--name", help="model name (default: the file name)")
    card.add_argument("--out", help="where to write (default: MODEL.card.json beside the model)")
    card.set_defaults(func=run_card)

    quantize = msub.add_parser(
        "quantize", parents=[common], help="write a backbone's int8 copy (static, per-channel, calibrated)",
        description="Write BACKBONE_int8.onnx beside the backbone: int8 weights per output channel and "
        "uint8 activations whose ranges are measured on generated ShapeWorld pictures and on your "
        "own images. It keeps the backbone's hash, so every head made for the backbone runs on it; "
        "`visionkit predict --precision int8` picks it.",
        epilog="example:\n"
        "  visionkit models quantize asset:efficientnet_lite0_backbone.onnx --calibrate photos/ \\\n"
        "      --out bb_int8.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    quantize.add_argument("backbone", help="the fp32 backbone (.onnx or asset:NAME.onnx)")
    quantize.add_argument("--calibrate", nargs="+", default=[], metavar="DIR_OR_FILE",
                          help="your images, folders or videos, used with the generated pictures "
                               "(pictures like those the backbone will see fit the ranges to them)")
    # the default is visionkit.quantize.DEFAULT_PICTURES, not imported here: it would bring numpy
    # into every command's start
    quantize.add_argument("--n", type=int, default=None, metavar="N",
                          help="generated ShapeWorld calibration pictures (default 64; 0: yours alone)")
    quantize.add_argument("--seed", type=int, default=0, help="the generated pictures' seed")
    quantize.add_argument("--out", help="where to write (default: BACKBONE_int8.onnx beside the backbone)")
    quantize.set_defaults(func=run_quantize)


def run_info(args: argparse.Namespace) -> int:
    from .models_info import run_info as run

    return run(args)


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


def _decoder_names(task: str) -> list[str]:
    from ..plugin_manager import get_plugins

    return [d.name for d in get_plugins().decoders.for_task(task)]


def _decoder_list(task: str) -> str:
    """``detect decoders: a, b (--output picks one)``: what a user may give, for messages."""
    names = _decoder_names(task)
    return f"{task} decoders: {', '.join(names)} (--output picks one)" if names else \
        f"no {task} decoders are installed (`visionkit plugins` lists what plugins add)"


def _resolve_output(task: str, output: str | None) -> str:
    """The card's output: the one the user named, checked against what the task can decode."""
    from ..plugin_manager import require_task

    require_task(task)
    if task == "classify":
        output = output or "logits"
        if output not in ("logits", "probs"):
            raise UsageError(f"classify models output logits or probs, not {output!r}")
        return output
    decoders = _decoder_names(task)
    if output is None:
        if len(decoders) == 1:  # nothing to choose between
            return decoders[0]
        raise UsageError(f"a {task} model's outputs are read by a decoder; {_decoder_list(task)}")
    if output not in decoders:
        raise UsageError(f"no {task} decoder named {output!r}; {_decoder_list(task)}")
    return output


def _parts(model: Path, given: list[str]) -> dict[str, str]:
    """``--part ROLE=FILE`` as the card's parts, each a file beside the model."""
    from ..parts import part_path_error

    parts: dict[str, str] = {}
    for text in given:
        role, sep, name = text.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise UsageError(f"--part takes ROLE=FILE like palm=palm_detection.onnx, not {text!r}")
        why = part_path_error(name)
        if why is not None:
            raise UsageError(f"--part {role}={name}: the file {why}")
        if not model.with_name(name).is_file():
            raise UsageError(f"--part {role}={name}: no such file beside {model.name}")
        parts[role.strip()] = name
    return parts


def _card_options(task: str, given: list[str]) -> dict[str, object]:
    """``--option TASK.KEY=VALUE`` as the card's option defaults; only the task's own options
    (their values are held to the task's limits when the card is checked)."""
    from ..plugin_manager import require_task
    from ..registry import load_object
    from .task_options import parse_options

    parsed = parse_options(given)
    other = [t for t in parsed if t != task]
    if other:
        key = next(iter(parsed[other[0]]))
        raise UsageError(f"--option {other[0]}.{key}: this card is for the {task} task; give {task}.KEY=VALUE")
    known = getattr(load_object(require_task(task).factory), "default_options", {})
    options = parsed.get(task, {})
    unknown = [k for k in options if k not in known]
    if unknown:
        raise UsageError(f"task {task!r} has no option {unknown[0]!r} (options: {', '.join(sorted(known)) or 'none'})")
    return options


def _decode_problem(card: ModelCard, path: Path) -> str | None:
    """Why the model's outputs on a blank picture of the card's input size do not decode as
    the card says, or None when they do. A task that cannot be built raises its own error."""
    import tempfile

    import numpy as np

    from ..cards import write_sidecar
    from ..errors import VisionkitError
    from ..pipeline import Pipeline

    with tempfile.TemporaryDirectory() as tmp:
        card_file = write_sidecar(card, path, Path(tmp) / "card.json")
        pipeline = Pipeline([card.task], model=path, card=card_file, device="cpu")
        if pipeline.tasks[card.task].stateful:
            return None  # its result depends on earlier frames: one blank picture says nothing
        h, w = card.input.size
        try:
            pipeline.run_detached(card.task, np.zeros((h, w, 3), np.uint8))
        except VisionkitError as exc:
            return str(exc).removeprefix(f"{card.task}: ")
    return None


def _check_decodes(card: ModelCard, path: Path) -> None:
    """Refuse a card whose decoder cannot read what the model gives."""
    problem = _decode_problem(card, path)
    if problem is None:
        return
    problem = problem.removeprefix(f"{path.name}: ")
    if card.task == "classify":
        raise UsageError(f"{path.name}: its outputs do not read as a classifier's {card.output} ({problem})")
    raise UsageError(f"{path.name}: its outputs do not fit the {card.output!r} decoder ({problem}); "
                     f"{_decoder_list(card.task)}")


def run_quantize(args: argparse.Namespace) -> int:
    from ..quantize import int8_path, quantize_backbone

    done = quantize_backbone(args.backbone, args.out, calibrate=args.calibrate, n=args.n, seed=args.seed)
    calibrated = f"{done.generated} ShapeWorld" + (f" + {done.user} of yours" if done.user else "")
    print(f"wrote {done.path} ({done.path.stat().st_size / 1e6:.2f} MB int8, from "
          f"{done.source.stat().st_size / 1e6:.2f} MB; hash {done.card.hash} kept, so the backbone's "
          "heads run on it)")
    print(f"  calibrated on {calibrated} pictures in {done.seconds:.0f} s; features vs fp32 on held-out "
          f"pictures: lowest cosine {done.cosine:.4f}")
    if done.path.resolve() == int8_path(done.source).resolve():
        print("  use it: visionkit predict IMAGE --precision int8   (or vk.Pipeline(..., precision='int8'))")
    else:  # not where --precision int8 looks: name it
        print(f"  use it: visionkit predict IMAGE --backbone {done.path}")
    return 0


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
    output = _resolve_output(args.task, args.output)
    labels = tuple(load_labels(args.labels)) if args.labels else ()
    card = ModelCard(task=args.task, name=args.name or path.stem, input=spec, labels=labels,
                     output=output, parts=_parts(path, args.part),
                     options=_card_options(args.task, args.option),
                     provenance={"card": "written by visionkit models card"})
    check_against_inputs(card, [(i.name, list(i.shape), i.type) for i in session.get_inputs()], path.name)
    _check_decodes(card, path)
    out = write_sidecar(card, path, args.out)
    print(f"wrote {out} ({args.task}, {layout} {size[0]}x{size[1]} {dtype}, {len(labels)} labels)")
    return 0
