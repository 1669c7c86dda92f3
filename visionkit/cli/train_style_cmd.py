"""``visionkit train style --style PICTURE --content FOLDER``: a fast style network for one style."""

from __future__ import annotations

import argparse
import json

from ..errors import require
from .train_report import add_report_flags, check_numbers, command_line, logger

#: flag -> (type, help); each is a field of the recipe (plugins/style/nn/train.py: StyleRecipe)
_FLAGS = {
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


def register_into(tasks: argparse._SubParsersAction, parents: list) -> None:
    s = tasks.add_parser(
        "style", parents=parents, help="train a fast style network for one style picture (style task)",
        description="Train a Johnson-style transformer network (instance norm, residual blocks, upsampling by "
                    "resize-convolution) on random crops of the pictures in --content, with a perceptual loss "
                    "on the frozen ImageNet backbone: content at c4, the style picture's Gram matrices at "
                    "c2-c4, total variation. Exports OUT/NAME_style.onnx with its card (output: image); the "
                    "state is saved every --checkpoint-every steps and --resume continues it.",
        epilog="examples:\n  visionkit train style --style starry.jpg --content photos/ --out runs/style\n"
               "  visionkit train style --style starry.jpg --content photos/ --out runs/style --steps 4000 --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--style", required=True, metavar="PICTURE", help="the style picture")
    s.add_argument("--content", required=True, metavar="FOLDER", help="pictures to learn on (your own photos)")
    s.add_argument("--out", default="runs/style", metavar="DIR", help="output folder (default: runs/style)")
    s.add_argument("--name", default=None, help="file prefix: NAME_style.onnx (default: the style picture's name)")
    s.add_argument("--seed", type=int, default=0, help="seed of the crops and the initial weights (default: 0)")
    s.add_argument("--backbone", default=None, metavar="PATH", help="the loss network (default: the bundled backbone)")
    for flag, (kind, what) in _FLAGS.items():
        s.add_argument(f"--{flag}", type=kind, default=None, help=what)
    s.add_argument("--resume", action="store_true", help="continue the run whose state is OUT/NAME_style.state.pt")
    s.add_argument("--threads", type=int, default=None, help="torch threads")
    add_report_flags(s)
    s.set_defaults(func=run_style)


def run_style(args: argparse.Namespace) -> int:
    fields = [f.replace("-", "_") for f in _FLAGS]
    check_numbers(args, ("steps", "size", "batch_size", "width", "export_size", "checkpoint_every", "threads"),
                  ("lr", "style_weight", "content_weight"))
    torch = require("torch", "train")
    require("onnx", "train")
    from visionkit.plugins.style.nn.train import DEFAULT_BACKBONE, StyleRecipe, train_style

    from ..bundled import resolve_model
    from ..progress import Progress

    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = StyleRecipe(seed=args.seed, **{f: getattr(args, f) for f in fields if getattr(args, f) is not None})
    with Progress(recipe.steps, "train style", enabled=not args.quiet) as bar:
        summary = train_style(args.style, args.content, args.out, recipe,
                              backbone=resolve_model(args.backbone or DEFAULT_BACKBONE), name=args.name,
                              resume=args.resume, command=command_line(), log=logger(args.quiet),
                              progress=lambda i, n, loss: bar.update(1, loss=loss))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        m = summary["metrics"]
        print(f"wrote {summary['path']} in {summary['seconds']:.0f}s: content loss {m['content_loss']:.4f}, "
              f"style loss {m['style_loss']:.4f} after {m['steps']} steps")
    return 0
