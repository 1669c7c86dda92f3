"""``visionkit bench``: what the tasks cost here, alone and together, measured side by side."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError
from .model_args import add_model_option, split_models, task_of


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    p = sub.add_parser(
        "bench", parents=parents,
        help="time tasks alone and together: ms, frames/s, framework/bare, fp32/int8, batches",
        description="Time the tasks on this machine, variants taking turns round by round (medians): "
                    "each task alone (ms per frame, frames/s, and the whole pipeline against the time "
                    "inside onnxruntime: what visionkit adds), the tasks together and their ratio to the "
                    "sum alone, every stage, the backbone in fp32 against its int8 copy (when it is "
                    "beside it), batch 1 against batch N, and the provider really used.",
        epilog="examples:\n"
               "  visionkit bench\n"
               "  visionkit bench --tasks classify,detect --images photos/ --rounds 20\n"
               "  visionkit bench --tasks detect --model detect=yolox.onnx --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tasks", "-t", default="classify,detect,segment,pose",
                   help="tasks, comma-separated (default: classify,detect,segment,pose)")
    add_model_option(p)
    p.add_argument("--images", nargs="+", metavar="PATH", default=None,
                   help="images or folders to time on (default: generated ShapeWorld scenes)")
    p.add_argument("--frames", type=int, default=8, help="generated scenes when no --images (default: 8)")
    p.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default: 10)")
    p.add_argument("--batch", type=int, default=8, help="the batch timed against batch 1 (default: 8; 1: skip)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..benchmark import format_report, run_bench, scenes
    from ..pipeline import _parse_tasks

    tasks = _parse_tasks(args.tasks)
    for flag in ("frames", "rounds", "batch"):
        if getattr(args, flag) < 1:
            raise UsageError(f"--{flag} must be at least 1, not {getattr(args, flag)}")
    single, models = split_models(args.model)
    if single is not None:  # --model PATH: the task its card names
        models[task_of(single, device=args.device, threads=args.threads)] = single
    unknown = sorted(set(models) - set(tasks))
    if unknown:
        raise UsageError(f"a model is given for {unknown[0]!r}, which is not among --tasks")
    if args.images:
        from ..pipeline import open_input

        frames = []
        with open_input(args.images) as src:
            for item in src:
                image = getattr(item, "image", None)
                if image is None:
                    print(f"skipped: {item}", file=sys.stderr)
                    continue
                frames.append(image)
        if not frames:
            raise UsageError("--images gave no picture that could be read")
    else:
        frames = scenes(args.frames)
    report = run_bench(tasks, frames, models=models, device=args.device, threads=args.threads,
                       rounds=args.rounds, batch=args.batch,
                       progress=None if args.json else (lambda line: print(line, file=sys.stderr)))
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print("\n".join(format_report(report)))
    return 0
