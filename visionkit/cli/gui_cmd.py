"""``visionkit gui [SOURCE] [--tasks a,b]``: the desktop app (needs the ``[gui]`` extra)."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from .model_args import add_model_option, split_models, task_of


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gui",
        parents=[common],
        help="open the desktop app (images, folders, videos, webcams; all tasks at once)",
        description="Open the desktop app. Inference runs off the UI thread; the tasks share one\n"
                    "backbone pass per frame. Needs the gui extra: pip install 'visionkit[gui]'.",
        epilog="examples:\n"
        "  visionkit gui\n"
        "  visionkit gui assets/samples/ --tasks classify\n"
        "  visionkit gui clip.mp4 --model classify=my_classifier.onnx\n"
        "  visionkit gui 0                                          # webcam 0\n"
        "  visionkit gui photo.png --tasks classify --screenshot shot.png   # save the window, exit",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="?", metavar="SOURCE",
                   help="image, folder, glob, video or webcam index to open at start")
    p.add_argument("--tasks", "--task", "-t", default=None,
                   help="tasks to turn on, comma-separated (default: those of the last session)")
    add_model_option(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="where models run (default: as last session, else auto)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="wait for the first result (or error), save the window to OUT.png and exit "
                        "(0 on a result, 1 on an error)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import require

    require("PySide6", "gui")
    single, by_task = split_models(args.model)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    if single is not None:
        if tasks is None:
            tasks = [task_of(single, device=args.device or "auto")]
        if len(tasks) != 1:
            raise UsageError("--model PATH names one model; with several tasks use --model TASK=PATH")
        by_task = {tasks[0]: single}
    if tasks is None and by_task:
        tasks = list(by_task)
    if args.screenshot is not None and args.source is None:
        raise UsageError("--screenshot needs a SOURCE to show")

    from ..gui.system_libs import check_platform_libraries

    check_platform_libraries()  # before Qt loads: a missing X11 library would abort the process
    from ..gui.app import main

    return main(source=args.source, tasks=tasks, models=by_task, device=args.device,
                screenshot=args.screenshot)
