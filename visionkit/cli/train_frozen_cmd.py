"""``visionkit train heads`` (every registered head on a frozen backbone, from cached
features of the ShapeWorld set: the bundled heads), ``visionkit train embed`` (the re-ID
head on ShapeWorld sequences) and ``visionkit train caption`` (the captioner, on ShapeWorld
caption scenes or a COCO captions set). Registered under ``visionkit train`` by :mod:`.train_cmd`.

torch is imported only inside the ``run_*`` functions (the ``[train]`` extra).
"""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError, require
from .train_report import add_report_flags, check_numbers, command_line, headlines, logger


def register_into(tasks: argparse._SubParsersAction, parents: list) -> None:
    h = tasks.add_parser(
        "heads", parents=parents,
        help="train heads on a frozen backbone from its cached features; export, measure, record",
        description="Train every registered head (or those of --heads) on a frozen, exported backbone: its "
                    "feature maps of the ShapeWorld training set are computed once by onnxruntime and cached "
                    "on disk (memory-mapped float16, each picture also mirrored), so the heads train without "
                    "running the backbone. Each head is exported to OUT against the backbone's hash, beside a "
                    "copy of the backbone, checked against torch, measured on held-out sets the way "
                    "'visionkit eval' does, and the numbers recorded in its cards. A second run with the "
                    "same backbone, data and seed reuses the cache.",
        epilog="examples:\n"
               "  visionkit train heads --out runs/heads                       # on the bundled backbone\n"
               "  visionkit train heads --backbone runs/backbone/efficientnet_lite0_backbone.onnx "
               "--out runs/imagenet_heads\n"
               "  visionkit train heads --heads detect,segment --epochs 10 --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    h.add_argument("--backbone", metavar="PATH", default=None,
                   help="the exported backbone (default: the bundled efficientnet_lite0_backbone.onnx)")
    h.add_argument("--heads", metavar="NAMES", default=None, help="comma-separated heads (default: every registered)")
    h.add_argument("--out", default="runs/heads", metavar="DIR", help="output folder (default: runs/heads)")
    h.add_argument("--name", default="shapeworld", help="file prefix: NAME_<role>.onnx (default: shapeworld)")
    h.add_argument("--seed", type=int, default=0, help="seed of data, init and order (default: 0)")
    h.add_argument("--cache", default="runs/feature_cache", metavar="DIR",
                   help="where feature caches are kept (default: runs/feature_cache)")
    h.add_argument("--cache-limit-gb", type=float, default=8.0,
                   help="refuse a cache larger than this (default: 8)")
    heads_recipe = "(default: the recipe's)"
    for flag, what in (("epochs", "training epochs"), ("n-detect", "multi-object scenes"),
                       ("n-pose", "figure scenes"), ("n-classify", "single-shape pictures"),
                       ("n-track", "still frames of tracking sequences"),
                       ("n-val", "validation pictures of each kind"), ("batch-size", "pictures per step"),
                       ("copies", "cached versions of each picture: 1 as made, 2 also mirrored"),
                       ("patience", "early stopping: epochs without a lower validation loss")):
        h.add_argument(f"--{flag}", type=int, default=None, help=f"{what} {heads_recipe}")
    h.add_argument("--lr", type=float, default=None, help=f"peak AdamW learning rate {heads_recipe}")
    h.add_argument("--test-n", type=int, default=None, help="held-out pictures per head (default: each head's)")
    h.add_argument("--resume", action="store_true",
                   help="continue the run that stopped part-way (its state is OUT/NAME_heads.state.pt, "
                        "NAME_heads-a-b.state.pt with --heads a,b); "
                        "give the same options")
    h.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    add_report_flags(h)
    h.set_defaults(func=run_heads)

    m = tasks.add_parser(
        "embed", parents=parents, help="train the re-ID head (embed task) on ShapeWorld sequences",
        description="Train the embed task's head (RoIAlign on the frozen backbone's c3..c5, unit vectors) with "
                    "a batch-hard triplet loss on objects across the frames of ShapeWorld tracking sequences; "
                    "the backbone's maps are cached once under --cache. Exports OUT/NAME_embed.onnx against "
                    "the backbone's hash and records rank-1, mAP and a tracker's IDF1 with and without the "
                    "vectors on held-out sequences (seed 10000) in its card.",
        epilog="examples:\n  visionkit train embed --out assets/models --seed 0\n"
               "  visionkit train embed --out runs/embed --epochs 4 --n-train 16 --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_flags(m, "embed", "sequences")
    for flag, kind, what in (("epochs", int, "training epochs"), ("n-train", int, "training sequences"),
                             ("steps", int, "steps per epoch"), ("lr", float, "peak AdamW learning rate"),
                             ("margin", float, "triplet margin, 0 for the soft margin"),
                             ("test-n", int, "held-out sequences measured")):
        m.add_argument(f"--{flag}", type=kind, default=None, help=f"{what} {heads_recipe}")
    _resume_flags(m, "embed")
    m.set_defaults(func=run_embed)

    c = tasks.add_parser(
        "caption", parents=parents, help="train the captioner (caption task) on caption scenes or your captions",
        description="Train the caption task's decoder (soft attention over the frozen backbone's maps at stride 16, a GRU) by "
                    "teacher forcing on ShapeWorld caption scenes, or on a COCO captions set with --data; the "
                    "backbone's maps are cached once under --cache. Exports OUT/NAME_caption.onnx (the encoder, "
                    "with the vocabulary in its card) and OUT/NAME_caption_step.onnx (one word per run), and "
                    "records BLEU, CIDEr-D, exact matches and counts/colours on held-out scenes (seed 10000, or "
                    "--test-data) in the card.",
        epilog="examples:\n  visionkit train caption --out assets/models --seed 0\n"
               "  visionkit train caption --out runs/caption --epochs 3 --n-train 500 --resume\n"
               "  visionkit train caption --data coco/annotations/captions_train2017.json "
               "--test-data coco/annotations/captions_val2017.json --out runs/coco_caption",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_flags(c, "caption", "pictures")
    c.add_argument("--data", metavar="CAPTIONS", default=None,
                   help="a COCO captions set (a folder with captions.json, or the file) to train on instead of "
                        "ShapeWorld; a share of it validates")
    c.add_argument("--test-data", metavar="CAPTIONS", default=None,
                   help="a COCO captions set measured after training (default: ShapeWorld seed 10000 "
                        "without --data, nothing with it)")
    # 30,000 scenes' four maps take 10.2 GB
    c.add_argument("--cache-limit-gb", type=float, default=12.0,
                   help="refuse a cache larger than this (default: 12)")
    for flag, kind, what in (("epochs", int, "training epochs"), ("n-train", int, "ShapeWorld training scenes"),
                             ("batch-size", int, "captions per step"), ("lr", float, "peak AdamW learning rate"),
                             ("max-words", int, "longest caption trained on; longer ones are cut"),
                             ("min-count", int, "words seen fewer times become <unk>"),
                             ("sample-max", float, "scheduled sampling's final chance, 0 to 1 (0: off)"),
                             ("plain-share", float, "extra chance, 0 to 1, that a ShapeWorld scene's training "
                                                    "caption is its plainest reference"),
                             ("patience", int, "early stopping: epochs without a lower validation loss"),
                             ("test-n", int, "held-out ShapeWorld scenes measured"),
                             ("probe-weight", float, "the cell probes' share of the loss, beside the words'")):
        c.add_argument(f"--{flag}", type=kind, default=None, help=f"{what} {heads_recipe}")
    c.add_argument("--probes", action=argparse.BooleanOptionalAction, default=None,
                   help="train cell probes (centre, class, colour) beside the words and give the decoder "
                        f"their counts; ShapeWorld only {heads_recipe}")
    c.add_argument("--size-keys", action=argparse.BooleanOptionalAction, default=None,
                   help=f"put each centre's group size in its attention key (with --probes) {heads_recipe}")
    c.add_argument("--recall", action=argparse.BooleanOptionalAction, default=None,
                   help=f"let each word's attention hear where the words before looked {heads_recipe}")
    _resume_flags(c, "caption")
    c.set_defaults(func=run_caption)


def _common_flags(p: argparse.ArgumentParser, role: str, what: str) -> None:
    """--backbone, --out, --name, --seed and --cache of a recipe that writes OUT/NAME_ROLE.onnx."""
    p.add_argument("--backbone", metavar="PATH", default=None,
                   help="the frozen, exported backbone (default: the bundled efficientnet_lite0_backbone.onnx)")
    p.add_argument("--out", default=f"runs/{role}", metavar="DIR", help=f"output folder (default: runs/{role})")
    p.add_argument("--name", default="shapeworld", help=f"file prefix: NAME_{role}.onnx (default: shapeworld)")
    p.add_argument("--seed", type=int, default=0, help=f"seed of the {what}, init and order (default: 0)")
    p.add_argument("--cache", default="runs/feature_cache", metavar="DIR",
                   help=f"where the {what}' features are cached (default: runs/feature_cache)")


def _resume_flags(p: argparse.ArgumentParser, role: str) -> None:
    p.add_argument("--resume", action="store_true", help="continue the run that stopped part-way "
                   f"(its state is OUT/NAME_{role}.state.pt); give the same options")
    p.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads")
    add_report_flags(p)


_HEADS_FLAGS = ("epochs", "n_detect", "n_pose", "n_classify", "n_track", "n_val", "batch_size", "copies", "patience",
                "lr")


def run_heads(args: argparse.Namespace) -> int:
    check_numbers(args, ("epochs", "n_detect", "n_pose", "n_classify", "n_val", "batch_size", "copies", "patience",
                          "test_n", "threads"), ("lr", "cache_limit_gb"))
    if args.n_track is not None and args.n_track < 0:
        raise UsageError("--n-track must be 0 or more")
    require("torch", "train")
    require("onnx", "train")
    from ..nn.heads import registered_heads
    from ..nn.recipes.frozen import DEFAULT_BACKBONE, HeadsRecipe, train_and_export

    heads = None
    if args.heads is not None:
        heads = tuple(dict.fromkeys(n.strip() for n in args.heads.split(",") if n.strip()))
        if not heads:
            raise UsageError("--heads names no head")
        registered_heads(heads)  # one line for a name no plugin registers
    given = {k: getattr(args, k) for k in _HEADS_FLAGS if getattr(args, k) is not None}
    recipe = HeadsRecipe(seed=args.seed, heads=heads, threads=args.threads, **given)
    summary = train_and_export(
        args.out, recipe, args.backbone or DEFAULT_BACKBONE, cache_root=args.cache, limit_gb=args.cache_limit_gb,
        name=args.name, command=command_line(), test_n=args.test_n, resume=args.resume, log=logger(args.quiet),
        progress=not args.quiet,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {len(summary['paths'])} models to {args.out} for backbone {summary['hash']} in "
              f"{summary['seconds']:.0f}s ({summary['epochs']} epochs): " + headlines(summary["metrics"]))
    return 0


def run_embed(args: argparse.Namespace) -> int:
    check_numbers(args, ("epochs", "n_train", "steps", "test_n", "threads"), ("lr",))
    if args.margin is not None and not args.margin >= 0:
        raise UsageError("--margin must be 0 (soft margin) or more")
    require("torch", "train")
    require("onnx", "train")
    from visionkit.plugins.embed.train import DEFAULT_BACKBONE, EmbedRecipe, train_and_export

    given = {k: getattr(args, k) for k in ("epochs", "n_train", "steps", "lr", "margin", "test_n", "threads")
             if getattr(args, k) is not None}
    summary = train_and_export(args.out, EmbedRecipe(seed=args.seed, **given), args.backbone or DEFAULT_BACKBONE,
                               cache_root=args.cache, name=args.name, command=command_line(), resume=args.resume,
                               log=logger(args.quiet), progress=not args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        m = summary["metrics"]
        print(f"wrote {summary['paths']['embed']} for backbone {summary['hash']} in {summary['seconds']:.0f}s: "
              f"rank-1 {m['rank1']:.4f}, mAP {m['mAP']:.4f}"
              + (f", IDF1 {m['idf1']:.4f} (without vectors {m['idf1_no_reid']:.4f})" if "idf1" in m else ""))
    return 0


_CAPTION_FLAGS = ("epochs", "n_train", "batch_size", "lr", "max_words", "min_count", "sample_max", "plain_share",
                  "patience", "test_n", "threads", "probes", "probe_weight", "size_keys", "recall")


def run_caption(args: argparse.Namespace) -> int:
    check_numbers(args, ("epochs", "n_train", "batch_size", "max_words", "min_count", "patience", "test_n", "threads"),
                  ("lr", "cache_limit_gb", "probe_weight"), chances=("sample_max", "plain_share"))
    require("torch", "train")
    require("onnx", "train")
    from visionkit.plugins.caption.train import DEFAULT_BACKBONE, CaptionRecipe, train_and_export

    given = {k: getattr(args, k) for k in _CAPTION_FLAGS if getattr(args, k) is not None}
    summary = train_and_export(args.out, CaptionRecipe(seed=args.seed, **given), args.backbone or DEFAULT_BACKBONE,
                               data=args.data, test_data=args.test_data, cache_root=args.cache, name=args.name,
                               command=command_line(), resume=args.resume, limit_gb=args.cache_limit_gb,
                               log=logger(args.quiet), progress=not args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        m = summary["metrics"]
        scores = (f": BLEU-4 {m['BLEU-4']:.4f}, CIDEr-D {m['CIDEr-D']:.3f}, exact {m['exact_match']:.3f}"
                  + (f", counts/colours {m['counts_colours']:.3f}" if "counts_colours" in m else "")
                  if "BLEU-4" in m else " (no held-out set: give --test-data)")
        print(f"wrote {summary['paths']['caption']} and its step graph for backbone {summary['hash']} in "
              f"{summary['seconds']:.0f}s{scores}")
    return 0
