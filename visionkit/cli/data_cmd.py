"""``visionkit data shapeworld --task classify|detect|segment|pose --n N --seed S --out DIR``.

Classify sets use the ImageFolder layout; detect, segment and pose sets are COCO folders."""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError

TASKS = ("classify", "detect", "segment", "pose")
FORMATS = ("imagefolder", "coco")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    p = sub.add_parser(
        "data", parents=parents, help="generate datasets (ShapeWorld)",
        description="Generate seeded synthetic datasets; the same seed gives identical images.",
    )
    kinds = p.add_subparsers(dest="generator", metavar="GENERATOR")
    kinds.required = True
    s = kinds.add_parser(
        "shapeworld", parents=parents, help="procedural shapes on textured backgrounds",
        description="Write a ShapeWorld set; classify sets use the ImageFolder layout "
                    "OUT/<label>/<name>.png; detect, segment and pose sets are COCO: "
                    "OUT/annotations.json, OUT/images/*.png and, for segment, the label maps "
                    "OUT/masks/<image stem>.png (uint8 class ids, 0 = background).",
        epilog="examples:\n  visionkit data shapeworld --task classify --n 1400 --seed 7 --out data/shapes\n"
               "  visionkit data shapeworld --task detect --n 500 --seed 1 --format coco --out data/det",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--task", choices=TASKS, default="classify", help="which annotations (default: classify)")
    s.add_argument("--n", type=int, required=True, help="number of images")
    s.add_argument("--seed", type=int, default=0, help="set seed (default: 0)")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder")
    s.add_argument("--format", choices=FORMATS, default=None,
                   help="imagefolder (classify) or coco (detect, segment, pose); default: the task's")
    s.add_argument("--size", type=int, default=None,
                   help="image side in pixels (default: 128 for classify, 256 for scenes)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UsageError(f"--n must be at least 1, not {args.n}")
    if args.size is None:
        args.size = 128 if args.task == "classify" else 256
    fmt = args.format or ("imagefolder" if args.task == "classify" else "coco")
    if (args.task == "classify") != (fmt == "imagefolder"):
        raise UsageError(f"--task {args.task} writes "
                         f"{'--format imagefolder' if args.task == 'classify' else '--format coco'}, not {fmt}")
    if not 16 <= args.size <= 4096:
        raise UsageError(f"--size must be between 16 and 4096 pixels, not {args.size}")
    if args.task != "classify":
        from ..data.coco import write_coco

        summary = write_coco(args.out, args.task, args.n, args.seed, size=args.size, progress=not args.quiet)
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"wrote {summary['n']} {args.size}x{args.size} {args.task} images with "
                  f"{summary['num_annotations']} annotations (seed {args.seed}) to {summary['annotations']}")
        return 0
    from ..data.imagefolder import write_classify_set

    summary = write_classify_set(args.out, args.n, args.seed, size=args.size, progress=not args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {summary['n']} {args.size}x{args.size} images of {len(summary['classes'])} classes "
              f"(seed {args.seed}) to {summary['out_dir']}")
    return 0
