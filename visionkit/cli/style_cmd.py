"""``visionkit style optimize CONTENT STYLE``: Gatys et al.'s style transfer by optimisation;
``visionkit style score CONTENT STYLE STYLED...``: the same losses for any stylised picture.

The content photo is repainted in the style of another picture by optimising the picture
itself against the shared backbone's features (content at a deep stage, style as Gram matrices
of earlier ones). Slow and exact: the quality reference for the fast networks, which ``score``
measures on the same loss network.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError


STYLE_HELP = "the style picture, or a built-in painting: mosaic, strokes, bands, dots, ink (KIND:SEED for others)"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("style", parents=[common], help="style transfer tools: optimize (Gatys et al.), score",
                       description="Style transfer that needs torch (the [train] extra).")
    inner = p.add_subparsers(dest="style_command", metavar="COMMAND", required=True)
    o = inner.add_parser(
        "optimize", parents=[common], help="repaint a photo in the style of a picture, by optimisation",
        description="Optimise the picture itself: its backbone features match the content photo's at "
                    "--content-layer and the style picture's Gram matrices at --style-layers.",
        epilog="example:\n  visionkit style optimize photo.jpg starry.jpg --out photo_starry.png --size 384",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    o.add_argument("content")
    o.add_argument("style", help=STYLE_HELP)
    o.add_argument("--out", "-o", default=None, help="where the picture goes (default: CONTENT_styled.png)")
    o.add_argument("--size", type=int, default=384, help="long side of the picture optimised (default: 384)")
    o.add_argument("--style-size", type=int, default=None, help="long side the style picture is seen at "
                                                                "(default: --size)")
    o.add_argument("--steps", type=int, default=300, help="optimisation steps (default: 300)")
    o.add_argument("--style-weight", type=float, default=5.0, help="style loss weight (default: 5)")
    o.add_argument("--content-weight", type=float, default=1.0, help="content loss weight (default: 1)")
    o.add_argument("--tv-weight", type=float, default=0.02, help="total-variation weight (default: 0.02)")
    o.add_argument("--content-layer", default="c4", help="backbone map for content (default: c4)")
    o.add_argument("--style-layers", default="c2,c3,c4", help="backbone maps for style (default: c2,c3,c4)")
    o.add_argument("--start", choices=("content", "noise"), default="content",
                   help="start from the content photo (default) or from noise, as Gatys et al. did")
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--keep-colours", action="store_true", help="keep the content photo's colours")
    o.add_argument("--backbone", default="asset:efficientnet_lite0_backbone.onnx",
                   help="the loss network (default: the bundled ImageNet backbone)")
    o.add_argument("--json", action="store_true", help="print the losses as JSON")
    o.set_defaults(func=run_optimize)
    sc = inner.add_parser(
        "score", parents=[common], help="content and style losses of stylised pictures, on one loss network",
        description="Measure stylised pictures (from any method: optimize, a fast network, a third-party one) "
                    "against a content photo and a style picture with the loss of `style optimize`: the content "
                    "loss at --content-layer and the style loss of the Gram matrices at --style-layers.",
        epilog="example:\n  visionkit style score photo.jpg starry.jpg optimized.png fast.png candy.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sc.add_argument("content")
    sc.add_argument("style", help=STYLE_HELP)
    sc.add_argument("pictures", nargs="+", metavar="STYLED")
    sc.add_argument("--size", type=int, default=384, help="long side the content photo is measured at (default: 384)")
    sc.add_argument("--style-size", type=int, default=None, help="long side of the style picture (default: --size)")
    sc.add_argument("--content-layer", default="c4")
    sc.add_argument("--style-layers", default="c2,c3,c4")
    sc.add_argument("--backbone", default="asset:efficientnet_lite0_backbone.onnx")
    sc.add_argument("--json", action="store_true", help="one JSON object per picture")
    sc.set_defaults(func=run_score)


def _setup(args: argparse.Namespace):
    """What optimize and score share: the content and style pictures at their sizes, and the
    loss network."""
    from visionkit.plugins.style.arbitrary import style_picture
    from visionkit.plugins.style.nn.gatys import MIN_SIDE, LossNetwork, at_long_side

    from ..bundled import resolve_model
    from ..imageio import read_image

    if not MIN_SIDE <= args.size <= 4096:
        raise UsageError(f"--size is between {MIN_SIDE} and 4096, not {args.size}")
    content = at_long_side(read_image(args.content), args.size, "content")
    style = at_long_side(style_picture(args.style)[1], args.style_size or args.size, "style")
    layers = [s.strip() for s in args.style_layers.split(",") if s.strip()]
    net = LossNetwork(resolve_model(args.backbone), content_layer=args.content_layer, style_layers=layers)
    return content, style, net


def run_optimize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from visionkit.plugins.style.nn.gatys import optimise
    from visionkit.plugins.style.picture import keep_colours

    from ..imageio import write_image
    from ..progress import Progress

    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    content, style, net = _setup(args)
    with Progress(args.steps, "style optimize") as bar:
        picture, losses = optimise(net, content, style, steps=args.steps, style_weight=args.style_weight,
                                   content_weight=args.content_weight, tv_weight=args.tv_weight,
                                   start=args.start, seed=args.seed,
                                   progress=lambda i, n, loss: bar.update(1, loss=loss))
    if args.keep_colours:
        picture = keep_colours(content, picture)
    out = Path(args.out) if args.out else Path(args.content).with_name(f"{Path(args.content).stem}_styled.png")
    write_image(out, picture)
    numbers = {**losses.to_dict(), "steps": args.steps, "size": [int(picture.shape[1]), int(picture.shape[0])],
               "out": str(out)}
    if args.json:
        print(json.dumps(numbers))
    else:
        print(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]}): content loss {losses.content:.4f}, "
              f"style loss {losses.style:.4f}, tv {losses.total_variation:.4f} after {args.steps} steps "
              f"(weighted total {losses.history[0]:.3f} -> {losses.history[-1]:.3f})")
    sys.stdout.flush()
    return 0


def run_score(args: argparse.Namespace) -> int:
    from visionkit.plugins.style.nn.gatys import score

    from ..errors import VisionkitError, printable
    from ..imageio import read_image

    content, style, net = _setup(args)
    failed = 0
    for path in args.pictures:
        try:
            losses = score(net, content, style, read_image(path))
        except VisionkitError as exc:
            failed += 1
            sys.stderr.write(f"error: {printable(str(exc))}\n")
            continue
        if args.json:
            print(json.dumps({"picture": path, **losses.to_dict()}))
        else:
            print(f"{path}: content loss {losses.content:.4f}, style loss {losses.style:.4f}, "
                  f"tv {losses.total_variation:.4f}")
    return 1 if failed else 0
