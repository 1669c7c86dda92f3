"""``visionkit batch SOURCE... --out DIR``: tasks over many files in workers, resumable."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError, printable
from .model_args import add_backbone_option, add_model_option, add_precision_option, split_models
from .task_options import (add_alias_arguments, add_option_argument, alias_options, apply_options, merged,
                           parse_options)

#: failures listed on stderr; the rest are in DIR/summary.json
SHOWN_FAILURES = 20


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "batch",
        parents=[common],
        help="run tasks over many files in worker processes or on Ray, resumable",
        description="Run tasks over folders, globs and lists of files in parallel workers. Records "
                    "(the --json lines) go to DIR/jsonl/part-*.jsonl, and DIR/parquet/ where pyarrow is "
                    "installed. The same command again resumes a stopped run.",
        epilog="examples:\n"
        "  visionkit batch photos/ --recursive --tasks classify,detect --out runs/photos\n"
        "  visionkit batch @paths.txt --tasks classify --out runs/list --workers 4\n"
        "  visionkit batch 'clips/*.mp4' --tasks track --out runs/clips --save\n"
        "  visionkit batch /data/bucket --tasks detect --out /data/runs/1 --engine ray --address auto\n"
        "  cat runs/photos/jsonl/*.jsonl > photos.jsonl   # every record, in the inputs' order",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="image, video, folder, glob, or @FILE (a text file of paths, one per line)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the output folder (resumed when it holds this job)")
    p.add_argument("--tasks", "--task", "-t", dest="task", default="classify",
                   help="task(s), comma-separated (default: classify)")
    add_model_option(p)
    add_backbone_option(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_precision_option(p)
    add_option_argument(p)
    add_alias_arguments(p)
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: worker processes here (default); ray: Ray Data actors (`pip install "
                        "'visionkit[ray]'`), a local Ray instance or --address's cluster")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes or Ray actors (default: one per core)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="onnxruntime threads per worker (default: this machine's cores shared out among "
                        "the workers; 1 per actor on a Ray cluster, each actor holding that many CPUs)")
    p.add_argument("--address", metavar="ADDR", help="the Ray cluster to join (`auto`, `ray://HOST:10001`)")
    p.add_argument("--batch", type=int, default=1, metavar="N",
                   help="stills given to the backbone at once within a worker (default: 1)")
    p.add_argument("--shard-size", type=int, default=None, metavar="N",
                   help="stills per shard, the unit a worker takes (default: a few shards per worker, "
                        "at most 256); each video is a shard of its own")
    p.add_argument("--save", nargs="?", const="", default=None, metavar="DIR",
                   help="also write annotated pictures (and the tasks' other per-input outputs), "
                        "mirroring the inputs' tree, in DIR (default: OUT/saved)")
    p.add_argument("--save-as", metavar="FORMAT[,FORMAT]",
                   help="what --save writes (`visionkit plugins` lists them)")
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace, tasks: list[str], by_task: dict, single: str | None) -> dict:
    """--option and the short flags, checked on a pipeline here (one line if one is wrong)."""
    from ..pipeline import Pipeline

    given = parse_options(args.option)
    models = dict(by_task)
    if single is not None:
        if len(tasks) != 1:
            raise UsageError("--model PATH names one model; with several tasks use --model TASK=PATH")
        models[tasks[0]] = single
    pipeline = Pipeline(tasks, models=models or None, backbone=args.backbone, device=args.device,
                        options=given, precision=args.precision, threads=1)
    options = merged(given, alias_options(args, pipeline.tasks))
    apply_options(pipeline, options)
    return models, options


def run(args: argparse.Namespace) -> int:
    import os

    from ..jobs import batch
    from ..pipeline import _parse_tasks

    for flag in ("workers", "threads", "batch", "shard_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1, not {value}")
    if args.save_as and args.save is None:
        raise UsageError("--save-as says what --save writes; give --save too")
    if args.address and args.engine != "ray":
        raise UsageError("--address is a Ray cluster's; give --engine ray too")
    tasks = _parse_tasks(args.task)
    single, by_task = split_models(args.model)
    models, options = _options(args, tasks, by_task, single)
    save = None if args.save is None else (args.save or os.path.join(args.out, "saved"))
    formats = [f.strip() for f in args.save_as.split(",") if f.strip()] if args.save_as else None
    try:
        report = batch(args.sources, tasks, out=args.out, engine=args.engine, workers=args.workers,
                       threads=args.threads, batch=args.batch, recursive=args.recursive, models=models,
                       backbone=args.backbone, precision=args.precision, device=args.device,
                       options=options, save=save, save_as=formats, shard_size=args.shard_size,
                       address=args.address, progress=not args.quiet)
    except KeyboardInterrupt:
        sys.stderr.write(f"\nstopped: run the same command to go on where it was ({args.out})\n")
        return 130
    for source, error in report.failed[:SHOWN_FAILURES]:
        sys.stderr.write(f"error: {printable(error)}\n")
    more = len(report.failed) - SHOWN_FAILURES
    if more > 0:
        listed = os.path.join(args.out, "summary.json")
        sys.stderr.write(f"error: ... and {more} more inputs failed (all in {listed})\n")
    rate = report.to_dict()["inputs_per_second"]
    pace = f", {rate:.1f} inputs/s" if rate and report.ran else ""
    earlier = report.inputs - report.ran
    resumed = f" ({earlier} done by an earlier run)" if earlier else ""
    print(f"{report.inputs} input(s){resumed}, {len(report.failed)} failed, {report.records} records"
          f"{pace}; {report.engine} engine, {report.workers} workers; "
          f"records in {os.path.join(args.out, 'jsonl')}",
          file=sys.stderr)
    return 1 if report.failed else 0
