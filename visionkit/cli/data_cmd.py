"""``visionkit data shapeworld --task classify|detect|segment|pose|caption|track --n N --seed S --out DIR``.

Classify sets use the ImageFolder layout; detect, segment and pose sets are COCO folders; caption
sets are COCO captions (``captions.json``, several references per picture); track
sets are MOTChallenge sequence folders (``--n`` sequences of ``--frames`` frames at ``--fps``:
a video, ``gt/gt.txt``, ``seqinfo.ini`` and, with ``--frames-as png``, ``img1/`` stills)."""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError

TASKS = ("classify", "detect", "segment", "pose", "caption", "track")
FORMATS = ("imagefolder", "coco", "mot")
_TASK_FORMAT = {"classify": "imagefolder", "track": "mot"}  # the rest: coco


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
                    "OUT/masks/<image stem>.png (uint8 class ids, 0 = background); caption sets are COCO "
                    "captions: OUT/captions.json with five reference captions per picture, OUT/images/*.png; "
                    "track sets are "
                    "MOTChallenge sequences OUT/<name>/ with <name>.mp4, gt/gt.txt "
                    "(frame,id,x,y,w,h,conf,class,visibility), seqinfo.ini and, with --frames-as, "
                    "img1/000001.png ...",
        epilog="examples:\n  visionkit data shapeworld --task classify --n 1400 --seed 7 --out data/shapes\n"
               "  visionkit data shapeworld --task detect --n 500 --seed 1 --format coco --out data/det\n"
               "  visionkit data shapeworld --task caption --n 500 --seed 10000 --out data/captions\n"
               "  visionkit data shapeworld --task track --n 4 --frames 150 --seed 3 --out data/mot\n"
               "  visionkit data shapeworld --task track --n 2 --frames 300 --fps 30 --frames-as png "
               "--out data/mot30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--task", choices=TASKS, default="classify", help="which annotations (default: classify)")
    s.add_argument("--n", type=int, required=True, help="number of images (track: of sequences)")
    s.add_argument("--seed", type=int, default=0, help="set seed (default: 0)")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder")
    s.add_argument("--format", choices=FORMATS, default=None,
                   help="imagefolder (classify), coco (detect, segment, pose) or mot (track); "
                        "default: the task's")
    s.add_argument("--size", type=int, default=None,
                   help="image side in pixels (default: 128 for classify, 224 for caption, 256 for scenes)")
    s.add_argument("--frames", type=int, default=None, help="track: frames per sequence (default: 150)")
    s.add_argument("--fps", type=float, default=None, help="track: frame rate (default: 25)")
    s.add_argument("--frames-as", choices=("png", "jpg"), default=None,
                   help="track: also write the frames as SEQ/img1/000001.png (or .jpg) beside the video")
    s.add_argument("--overwrite", action="store_true", help="track: replace existing sequence folders")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UsageError(f"--n must be at least 1, not {args.n}")
    if args.seed < 0:
        raise UsageError(f"--seed must be 0 or more, not {args.seed}")
    if args.size is None:
        args.size = {"classify": 128, "caption": 224}.get(args.task, 256)
    want = _TASK_FORMAT.get(args.task, "coco")
    fmt = args.format or want
    if fmt != want:
        raise UsageError(f"--task {args.task} writes --format {want}, not {fmt}")
    if not 16 <= args.size <= 4096:
        raise UsageError(f"--size must be between 16 and 4096 pixels, not {args.size}")
    if args.task == "track":
        return _run_track(args)
    given = [f"--{k.replace('_', '-')}" for k in ("frames", "fps", "frames_as") if getattr(args, k) is not None]
    if given:
        raise UsageError(f"{given[0]} is for --task track, not {args.task}")
    if args.task == "caption":
        from ..data.caption_sets import MIN_SIZE, write_caption_set

        if args.size < MIN_SIZE:
            raise UsageError(f"--task caption needs --size {MIN_SIZE} or more, not {args.size}")
        summary = write_caption_set(args.out, args.n, args.seed, size=args.size, progress=not args.quiet)
        line = (f"{summary['n']} {args.size}x{args.size} caption scenes with {summary['num_captions']} "
                f"captions (seed {args.seed}) to {summary['annotations']}")
    elif args.task != "classify":
        from ..data.coco import write_coco

        summary = write_coco(args.out, args.task, args.n, args.seed, size=args.size, progress=not args.quiet)
        line = (f"{summary['n']} {args.size}x{args.size} {args.task} images with "
                f"{summary['num_annotations']} annotations (seed {args.seed}) to {summary['annotations']}")
    else:
        from ..data.imagefolder import write_classify_set

        summary = write_classify_set(args.out, args.n, args.seed, size=args.size, progress=not args.quiet)
        line = (f"{summary['n']} {args.size}x{args.size} images of {len(summary['classes'])} classes "
                f"(seed {args.seed}) to {summary['out_dir']}")
    print(json.dumps(summary, indent=2) if args.json else f"wrote {line}")
    return 0


def _run_track(args: argparse.Namespace) -> int:
    frames = 150 if args.frames is None else args.frames
    fps = 25.0 if args.fps is None else args.fps
    if frames < 1:
        raise UsageError(f"--frames must be at least 1, not {frames}")
    if not 1 <= fps <= 240:
        raise UsageError(f"--fps must be between 1 and 240, not {fps:g}")
    if args.size < 32:
        raise UsageError(f"--task track needs --size 32 or more, not {args.size}")
    from ..data.mot_folders import write_sequences

    summary = write_sequences(args.out, args.n, frames, args.seed, size=args.size, fps=fps,
                        progress=not args.quiet, frames_as=args.frames_as, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.n} sequences of {frames} {args.size}x{args.size} frames at {fps:g} fps with "
              f"{summary['num_tracks']} tracks and {summary['num_boxes']} boxes (seed {args.seed}) "
              f"to {summary['out_dir']}")
    return 0
