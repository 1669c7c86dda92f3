"""``--model [TASK=]PATH`` and the options beside it, shared by the commands that run models
(predict, batch, eval, gui, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError

MODEL_HELP = "model for the task (repeat as TASK=PATH for several tasks)"


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", action="append", default=[], metavar="[TASK=]PATH", help=MODEL_HELP)


def add_backbone_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", metavar="PATH",
                        help="backbone for head models (default: beside the head, or bundled)")


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32",
                        help="the shared backbone's precision: int8 runs BACKBONE_int8.onnx beside it "
                             "(`visionkit models quantize` makes it; the summary names the file that ran)")


def split_models(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """``--model`` values as (the single PATH, or None; {task: path} for TASK=PATH forms)."""
    single, by_task = None, {}
    for value in values:
        task, sep, path = value.partition("=")
        if sep and task and not Path(value).exists():
            by_task[task] = path
        elif single is None:
            single = value
        else:
            raise UsageError("several --model values: write them as TASK=PATH")
    if single is not None and by_task:
        raise UsageError("mix of --model PATH and --model TASK=PATH; use TASK=PATH for all")
    return single, by_task


def task_of(model: str, card: str | None = None, device: str = "auto", threads: int | None = None) -> str:
    """The task a model's card names (so `--model x.onnx` needs no --task). Give the device and
    threads the pipeline will use: the session is cached, and the pipeline then reuses it."""
    from ..bundled import resolve_model
    from ..runtime import load_model

    return load_model(resolve_model(model), device=device, threads=threads, card=card).card.task
