"""``visionkit predict SOURCE... --task T[,T...]``: run tasks over images, folders, videos, cameras."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError, printable
from .model_args import add_backbone_option, add_model_option, add_precision_option, split_models, task_of
from .task_options import (
    add_alias_arguments,
    add_option_argument,
    alias_options,
    apply_options,
    merged,
    parse_options,
)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "predict",
        parents=[common],
        help="run tasks on images, folders, globs, videos or a webcam",
        description="Run one or more tasks; the shared backbone runs once per frame.",
        epilog="examples:\n"
        "  visionkit predict photo.jpg --task classify                   # ImageNet classes\n"
        "  visionkit predict photos/ --recursive --task classify --json > results.jsonl\n"
        "  visionkit predict fish.png --model squeezenet.onnx --topk 3   # card beside the model\n"
        "  visionkit predict scene.png --task detect -o detect.score=0.6 -o detect.agnostic=true\n"
        "  visionkit predict 0 --task classify --save out/                # webcam 0\n"
        "  visionkit predict held/ --task detect --save out/ --save-as images,coco",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="image, folder, glob, video, webcam index (0, 1, ...)")
    p.add_argument("--task", "-t", default=None,
                   help="task(s), comma-separated (default: the --model card's task, else classify)")
    add_model_option(p)
    add_backbone_option(p)
    p.add_argument("--card", metavar="PATH", help="card file for --model (default: its sidecar or embedded card)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    add_precision_option(p)
    p.add_argument("--batch", type=int, default=1, metavar="N",
                   help="frames of a folder or video given to the backbone at once (default: 1; a camera "
                        "always runs one at a time)")
    add_option_argument(p)
    add_alias_arguments(p)
    p.add_argument("--json", action="store_true", help="one JSON object per frame on stdout")
    p.add_argument("--save", metavar="DIR", help="write outputs to DIR (default: annotated images/videos, "
                                                 "and what the chosen tasks add, e.g. segment's masks)")
    p.add_argument("--save-as", metavar="FORMAT[,FORMAT]",
                   help="what --save writes, comma-separated (`visionkit plugins` lists the writers: "
                        "images, jsonl, masks, coco, ...)")
    p.add_argument("--overwrite", action="store_true",
                   help="--save into a folder that already holds files, replacing same-named ones")
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    p.set_defaults(func=run)


def _default_tasks(args: argparse.Namespace, model: str | None) -> str:
    return "classify" if model is None else task_of(model, args.card, args.device, args.threads)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import Pipeline, open_input
    from ..progress import Progress
    from ..writers import JsonLinesWriter, SaveWriters

    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, not {args.batch}")
    if args.save_as and not args.save:
        raise UsageError("--save-as says what --save DIR writes; give --save DIR too")
    single, by_task = split_models(args.model)
    tasks = args.task or (",".join(by_task) if by_task else _default_tasks(args, single))
    given = parse_options(args.option)
    # given at construction: an option may decide what a task needs (pose.whole_image)
    pipeline = Pipeline(tasks, model=single, models=by_task or None, backbone=args.backbone,
                        card=args.card, device=args.device, threads=args.threads, options=given,
                        precision=args.precision)
    apply_options(pipeline, merged({t: {} for t in given}, alias_options(args, pipeline.tasks)))

    json_out = JsonLinesWriter(sys.stdout) if args.json else None
    formats = [f.strip() for f in args.save_as.split(",") if f.strip()] if args.save_as else None
    if args.overwrite and not args.save:
        raise UsageError("--overwrite is about --save DIR; give --save DIR too")
    saver = SaveWriters(args.save, pipeline.task_names, formats, overwrite=args.overwrite,
                        root=_tree_root(args)) if args.save else None
    failed = done = 0
    source = open_input(args.sources, recursive=args.recursive)
    total = source.expected_length
    stream = pipeline.stream(source, batch=args.batch)
    # a bar only where there is something to wait for: several inputs, or a video/camera
    with Progress(total, "predict", enabled=total != 1) as bar:
        try:
            for result in stream:
                done += 1
                bar.update(1)
                if not result.ok:
                    failed += 1
                    bar.clear()
                    sys.stderr.write(f"error: {printable(result.error)}\n")
                if json_out:  # every input once: a failed one as a record with its "error"
                    json_out.write(result)
                if result.results:
                    if not json_out:
                        _print_human(result)
                    if saver and not _saved(saver, result, bar):
                        failed += result.ok  # counted once, even when the frame had failed too
        finally:
            if saver:
                saver.close()  # publishes videos and results files; a failure is one line, exit 1
    for note in source.notes + pipeline.notes + (saver.notes if saver else []):
        sys.stderr.write(f"note: {printable(note)}\n")
    if not json_out:
        _print_summary(done, failed, pipeline, saver)
    return 1 if failed else 0


def _tree_root(args: argparse.Namespace) -> str | None:
    """With --recursive, the folder whose tree --save keeps: the input folders' common one."""
    import os

    folders = [os.path.abspath(s) for s in args.sources if os.path.isdir(s)]
    if not args.recursive or not folders:
        return None
    try:
        return os.path.commonpath(folders)
    except ValueError:  # folders on different drives
        return None


def _saved(saver, result, bar) -> bool:
    """Write one result's outputs; a failure (a plugin's painter or writer, a full disk) is
    that input's error, and the run goes on with the next."""
    from ..errors import VisionkitError

    try:
        saver.write(result)
        return True
    except VisionkitError as exc:
        bar.clear()
        where = result.source if result.frame == 0 else f"{result.source} (frame {result.frame})"
        sys.stderr.write(f"error: {printable(where)}: cannot save: {printable(str(exc))}\n")
        return False


def _print_human(result) -> None:
    from ..results import summarize

    where = result.source if result.frame == 0 else f"{result.source}#{result.frame}"
    parts = [f"{task}: {printable(summarize(res))}" for task, res in result.results.items()]
    print(f"{printable(where)}  " + "  ".join(parts) + f"  ({result.timings_ms.get('total', 0):.1f} ms)")


def _print_summary(done: int, failed: int, pipeline, saver) -> None:
    from ..runtime import short_provider

    models = ", ".join(f"{role}={m.path.name}" for role, m in pipeline.models().items())
    where = f"; {short_provider(pipeline.provider)}; {models}" if models else "; no models"
    msg = f"{done} input(s), {failed} failed{where}"
    if saver and saver.written:
        msg += f"; saved to {saver.out_dir}"
    print(msg, file=sys.stderr)
