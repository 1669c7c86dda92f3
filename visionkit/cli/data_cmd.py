"""``visionkit data shapeworld --task classify --n N --seed S --out DIR``: write a dataset."""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError

TASKS = ("classify",)


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
                    "OUT/<label>/<name>.png.",
        epilog="example:\n  visionkit data shapeworld --task classify --n 1400 --seed 7 --out data/shapes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--task", choices=TASKS, default="classify", help="which annotations (default: classify)")
    s.add_argument("--n", type=int, required=True, help="number of images")
    s.add_argument("--seed", type=int, default=0, help="set seed (default: 0)")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder")
    s.add_argument("--size", type=int, default=128, help="image side in pixels (default: 128)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UsageError(f"--n must be at least 1, not {args.n}")
    if not 16 <= args.size <= 4096:
        raise UsageError(f"--size must be between 16 and 4096 pixels, not {args.size}")
    from ..data.imagefolder import write_classify_set

    summary = write_classify_set(args.out, args.n, args.seed, size=args.size, progress=not args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {summary['n']} {args.size}x{args.size} images of {len(summary['classes'])} classes "
              f"(seed {args.seed}) to {summary['out_dir']}")
    return 0
