"""``visionkit train style`` (a fast network for one style) and ``visionkit train adain`` (the
decoder of the arbitrary-style network): style networks trained with a perceptual loss on the
frozen backbone."""

from __future__ import annotations

import argparse
import json

from ..errors import require
from .train_report import add_report_flags, check_numbers, command_line, logger

_CONTENT = "pictures to learn on: your own photos, or scikit-image (the photos its wheel ships)"
#: flag -> (type, help); each is a field of the recipe (plugins/style/nn/train.py: StyleRecipe)
_STYLE_FLAGS = {
    "steps": (int, "optimisation steps (default: 2000)"),
    "size": (int, "side of the training crops (default: 256)"),
    "batch-size": (int, "crops per step (default: 4)"),
    "lr": (float, "Adam learning rate (default: 0.001)"),
    "style-weight": (float, "style loss weight (default: 5)"),
    "content-weight": (float, "content loss weight (default: 1)"),
    "tv-weight": (float, "total-variation weight (default: 0.02)"),
    "width": (int, "the network's first-layer channels (default: 32, as Johnson et al.)"),
    "export-size": (int, "the card's input side, what a frame is resized to (default: 320)"),
    "checkpoint-every": (int, "steps between saved states (default: 100)"),
}
#: the same for plugins/style/nn/train_adain.py: AdainRecipe
_ADAIN_FLAGS = {
    "steps": (int, "optimisation steps (default: 6000)"),
    "size": (int, "side of the content crops and style pictures (default: 256)"),
    "batch-size": (int, "content/style pairs per step (default: 4)"),
    "lr": (float, "Adam learning rate (default: 0.001)"),
    "content-weight": (float, "content loss weight (default: 1)"),
    "style-weight": (float, "Gram-matrix style loss weight (default: 1)"),
    "moments-weight": (float, "weight of matching the style's per-channel means and deviations (default: 1)"),
    "tv-weight": (float, "total-variation weight (default: 0.02)"),
    "width": (int, "the decoder's channels at stride 8 (default: 64)"),
    "checkpoint-every": (int, "steps between saved states (default: 100)"),
}


def _common(p: argparse.ArgumentParser, out: str, flags: dict) -> None:
    p.add_argument("--content", required=True, metavar="FOLDER", help=_CONTENT)
    p.add_argument("--out", default=out, metavar="DIR", help=f"output folder (default: {out})")
    p.add_argument("--seed", type=int, default=0, help="seed of the pictures and the initial weights (default: 0)")
    p.add_argument("--backbone", default=None, metavar="PATH", help="the loss network (default: the bundled backbone)")
    for flag, (kind, what) in flags.items():
        p.add_argument(f"--{flag}", type=kind, default=None, help=what)
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    add_report_flags(p)


def register_into(tasks: argparse._SubParsersAction, parents: list) -> None:
    s = tasks.add_parser(
        "style", parents=parents, help="train a fast style network for one style picture (style task)",
        description="Train a Johnson-style transformer network (instance norm, residual blocks, upsampling by "
                    "resize-convolution) on random crops of the pictures in --content, with a perceptual loss "
                    "on the frozen ImageNet backbone: content at c4, the style picture's Gram matrices at "
                    "c2-c4, total variation. Exports OUT/NAME_style.onnx with its card (output: image); the "
                    "state is saved every --checkpoint-every steps and --resume continues it.",
        epilog="examples:\n  visionkit train style --style starry.jpg --content photos/ --out runs/style\n"
               "  visionkit train style --style starry.jpg --content scikit-image --steps 4000 --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--style", required=True, metavar="PICTURE",
                   help="the style picture, or a built-in painting (mosaic, strokes, bands, dots, ink; KIND:SEED)")
    s.add_argument("--name", default=None, help="file prefix: NAME_style.onnx (default: the style picture's name)")
    s.add_argument("--resume", action="store_true", help="continue the run whose state is OUT/NAME_style.state.pt")
    _common(s, "runs/style", _STYLE_FLAGS)
    s.set_defaults(func=run_style)

    a = tasks.add_parser(
        "adain", parents=parents, help="train the arbitrary-style network's decoder (style task, any style picture)",
        description="Train the AdaIN decoder (Huang & Belongie 2017) on the frozen backbone: content crops and "
                    "style pictures are encoded, the content's c2-c4 maps take the style's per-channel means "
                    "and deviations, and the decoder learns to paint them, judged by the same backbone "
                    "(content at c4, Gram matrices at c2-c4, means and deviations at c2-c5, total "
                    "variation). --styles paintings draws a new style picture for every step. Exports "
                    "OUT/NAME.onnx, a head on the backbone (output: adain); --resume continues a run.",
        epilog="examples:\n  visionkit train adain --content scikit-image --styles paintings scikit-image\n"
               "  visionkit train adain --content photos/ --styles paintings art/ --steps 6000 --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--styles", nargs="+", default=["paintings"], metavar="SOURCE",
                   help="style pictures: paintings (drawn from seeds), scikit-image (its wheel's textures), "
                        "or folders (default: paintings)")
    a.add_argument("--name", default="style_adain", help="file name: NAME.onnx (default: style_adain)")
    a.add_argument("--resume", action="store_true", help="continue the run whose state is OUT/NAME.state.pt")
    _common(a, "runs/adain", _ADAIN_FLAGS)
    a.set_defaults(func=run_adain)


def _train(args: argparse.Namespace, flags: dict, recipe_cls, train, what: str, **extra) -> int:
    fields = [f.replace("-", "_") for f in flags]
    check_numbers(args, tuple(f for f in fields if flags[f.replace("_", "-")][0] is int) + ("threads",),
                  ("lr", "style_weight", "content_weight"))
    torch = require("torch", "train")
    require("onnx", "train")
    from visionkit.plugins.style.nn.train import DEFAULT_BACKBONE

    from ..bundled import resolve_model
    from ..progress import Progress

    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = recipe_cls(seed=args.seed, **{f: getattr(args, f) for f in fields if getattr(args, f) is not None})
    with Progress(recipe.steps, what, enabled=not args.quiet) as bar:
        summary = train(content=args.content, out=args.out, recipe=recipe,
                        backbone=resolve_model(args.backbone or DEFAULT_BACKBONE), name=args.name,
                        resume=args.resume, command=command_line(), log=logger(args.quiet),
                        progress=lambda i, n, loss: bar.update(1, loss=loss), **extra)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        m = summary["metrics"]
        print(f"wrote {summary['path']} in {summary['seconds']:.0f}s: content loss {m['content_loss']:.4f}, "
              f"style loss {m['style_loss']:.4f} after {m['steps']} steps")
    return 0


def run_style(args: argparse.Namespace) -> int:
    from visionkit.plugins.style.nn.train import StyleRecipe, train_style

    return _train(args, _STYLE_FLAGS, StyleRecipe, train_style, "train style", style=args.style)


def run_adain(args: argparse.Namespace) -> int:
    from visionkit.plugins.style.nn.train_adain import AdainRecipe, train_adain

    return _train(args, _ADAIN_FLAGS, AdainRecipe, train_adain, "train adain", styles=args.styles)
