"""``visionkit explain IMAGE... --method M``: see what the classifier sees, and break it.

Runs the ``explain`` task (with the classifier it explains) on each picture, saves the
explanation drawn over it (or the picture it made) and prints its numbers. With ``fgsm`` or
``pgd`` and several pictures or several ``--eps`` values, it also prints the fraction of the
confidently classified pictures whose prediction flips at each epsilon.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UsageError, printable
from .model_args import add_model_option, split_models


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "explain", parents=[common],
        help="what the classifier looked at (occlusion, Grad-CAM, saliency, ...) and adversarial examples",
        description="Explain the classifier's prediction on each picture with one method, save the "
                    "picture and print the numbers. Occlusion, activation and patches need only "
                    "onnxruntime; the gradient methods need the [train] extra (torch).",
        epilog="examples:\n"
               "  visionkit explain cat.jpg --method gradcam\n"
               "  visionkit explain cat.jpg --method occlusion --class 'tabby cat' --patch 48 --stride 24\n"
               "  visionkit explain cat.jpg --method activation --layer c3 --channel 12\n"
               "  visionkit explain cat.jpg --method patches --layer c4 --channel 7 --folder photos/\n"
               "  visionkit explain photos/ --method fgsm --eps 1,2,4,8      # flip rate per epsilon\n"
               "  visionkit explain fish.png --method occlusion --model squeezenet.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="IMAGE", help="pictures or folders of pictures")
    # the methods are the explain task's: its option_choices check the name, in one place
    p.add_argument("--method", default="gradcam",
                   help="what to show (default: gradcam; `visionkit tasks --options` lists the methods)")
    p.add_argument("--class", dest="target", default="", metavar="C",
                   help="the class to explain, by name or number (default: the top prediction)")
    p.add_argument("--layer", default="", help="feature map for activation, patches, gradcam, inversion "
                                               "(the backbone's c2-c5, or a tensor of a standalone model)")
    p.add_argument("--channel", type=int, default=-1, help="unit of --layer (default: the most active)")
    p.add_argument("--eps", default="2", metavar="E[,E...]",
                   help="fgsm/pgd perturbation in grey levels of 255, one or several (default: 2)")
    p.add_argument("--steps", type=int, default=0, help="pgd/classmodel/inversion iterations (default: the method's)")
    p.add_argument("--patch", type=int, default=32, help="occlusion square, input pixels (default: 32)")
    p.add_argument("--stride", type=int, default=16, help="occlusion step, input pixels (default: 16)")
    p.add_argument("--folder", default="", help="patches: the pictures to search for the unit's top patches")
    p.add_argument("--images", type=int, default=200, help="patches: pictures of --folder searched at most (default: 200)")
    p.add_argument("--seed", type=int, default=0, help="classmodel/inversion: the starting noise (default: 0)")
    p.add_argument("--confident", type=float, default=0.5,
                   help="fgsm/pgd flip rates count pictures whose top score is at least this (default: 0.5)")
    add_model_option(p)
    p.add_argument("--out", "-o", default="explained", metavar="DIR",
                   help="where the pictures go (default: ./explained)")
    p.add_argument("--no-save", action="store_true", help="print the numbers only")
    p.add_argument("--json", action="store_true", help="one JSON object per picture (and the flip table) on stdout")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    p.set_defaults(func=run)


def _eps_values(text: str) -> list[float]:
    """Whole grey levels (``2`` or ``2/255``): an adversarial picture is a real image."""
    try:
        values = [float(v.strip().removesuffix("/255")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--eps takes whole grey levels such as 2 or 1,2,4; not {text!r}") from None
    if not values or any(v != round(v) or not 1 <= v <= 255 for v in values):
        raise UsageError(f"--eps takes whole grey levels from 1 to 255 (2 means 2/255), not {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from ..imageio import write_image
    from ..overlays import render
    from ..pipeline import Pipeline, open_input
    from ..progress import Progress
    from ..sources import FrameError

    single, by_task = split_models(args.model)
    models = dict(by_task)
    if single is not None:
        models["classify"] = single  # the model an explanation is about
    eps_list = _eps_values(args.eps) if args.method in ("fgsm", "pgd") else [None]
    options = {"method": args.method, "target": args.target, "layer": args.layer, "channel": args.channel,
               "steps": args.steps, "patch": args.patch, "stride": args.stride, "folder": args.folder,
               "images": args.images, "seed": args.seed}
    pipeline = Pipeline(["explain"], models=models or None, threads=args.threads, options={"explain": options})
    out = None if args.no_save else Path(args.out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    source = open_input(args.sources)
    failed = 0
    flips: dict[float, list[bool]] = {e: [] for e in eps_list if e is not None}
    confident = 0
    total = source.expected_length
    readable = 0
    names = _Names()
    with Progress(None if total is None else total * len(eps_list), f"explain {args.method}",
                  enabled=total != 1 or len(eps_list) > 1) as bar:
        for frame in source:
            if isinstance(frame, FrameError):
                failed += 1
                bar.clear()
                sys.stderr.write(f"error: {printable(str(frame))}\n")
                bar.update(len(eps_list))
                continue
            readable += 1
            name = frame.source if not frame.index else f"{frame.source}#{frame.index}"
            for eps in eps_list:
                if eps is not None:
                    pipeline.set_options("explain", eps=eps)
                result = pipeline.predict_frame(frame)
                bar.update(1)
                if not result.ok:
                    failed += 1
                    bar.clear()
                    sys.stderr.write(f"error: {name}: {printable(result.error)}\n")
                    break
                explanation = result.results["explain"]
                top = result.results["classify"]
                if eps is not None:
                    if eps == eps_list[0]:
                        confident += top.scores[0] >= args.confident
                    if top.scores[0] >= args.confident:
                        flips[eps].append(bool(explanation.numbers["flipped"]))
                saved = None
                if out is not None:
                    suffix = f"_eps{eps:g}" if eps is not None and len(eps_list) > 1 else ""
                    saved = out / f"{names.stem(frame)}_{args.method}{suffix}.png"
                    write_image(saved, render(result))
                    if eps is not None:  # the adversarial example itself: classify it again
                        write_image(saved.with_name(f"{saved.stem}_adversarial.png"), explanation.picture)
                bar.clear()
                if args.json:
                    record = {"source": name, "classify": top.to_dict(), "explain": explanation.to_dict()}
                    if saved is not None:
                        record["saved"] = str(saved)
                    print(json.dumps(record))
                else:
                    print(f"{name}: {explanation.summary()}; {_numbers(explanation.numbers)}"
                          + (f" -> {saved}" if saved else ""))
    if flips and (readable > 1 or len(eps_list) > 1):
        _print_flips(flips, confident, readable, args)
    for note in source.notes + pipeline.notes:
        sys.stderr.write(f"note: {printable(note)}\n")
    return 1 if failed else 0


class _Names:
    """A file stem per input that no other input of the run shares: ``cat``, then ``cat_2``
    for another folder's cat.png; a video's frames are ``clip_000000``, ``clip_000001``..."""

    def __init__(self) -> None:
        self.by_input: dict[str, str] = {}
        self.taken: set[str] = set()

    def stem(self, frame) -> str:
        from ..imageio import VIDEO_EXTENSIONS

        stem = self.by_input.get(frame.source)
        if stem is None:
            base = stem = Path(frame.source).stem or "frame"
            n = 1
            while stem in self.taken:
                n += 1
                stem = f"{base}_{n}"
            self.taken.add(stem)
            self.by_input[frame.source] = stem
        video = Path(frame.source).suffix.lower() in VIDEO_EXTENSIONS
        return f"{stem}_{frame.index:06d}" if video or frame.index else stem


def _numbers(numbers: dict) -> str:
    shown = []
    for key, value in numbers.items():
        if key == "top":
            continue
        if isinstance(value, dict):
            value = " ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in value.values())
        elif isinstance(value, float):
            value = f"{value:.4g}"
        shown.append(f"{key} {value}")
    return ", ".join(shown)


def _print_flips(flips: dict[float, list[bool]], confident: int, readable: int, args) -> None:
    rows = [{"eps": e, "eps_255": f"{e:g}/255", "pictures": len(v), "flipped": sum(v),
             "rate": round(sum(v) / len(v), 4) if v else None} for e, v in flips.items()]
    if args.json:
        print(json.dumps({"flip_rates": rows, "confident": confident, "pictures": readable,
                          "min_score": args.confident}))
        return
    print(f"{args.method}: {confident} of {readable} pictures classified with score >= {args.confident:g}")
    print("  eps       flipped   rate")
    for r in rows:
        rate = "-" if r["rate"] is None else f"{r['rate']:.0%}"
        print(f"  {r['eps_255']:<9} {r['flipped']:>3}/{r['pictures']:<4}  {rate}")
