"""``--option TASK.KEY=VALUE``: any task's options from the command line.

Values are read as JSON where they parse (``3``, ``0.5``, ``true``, ``[1, 2]``) and as text
otherwise (``style=candy.jpg``); the task then checks them against its declared defaults and
limits, exactly as it does for the Python API and the GUI. The short flags of the built-in
tasks (``--topk``, ``--score``, ``--iou``, ``--agnostic``) are aliases of the same options.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Iterable, Mapping

from ..errors import UsageError

#: short flags: each applies to every chosen task that has an option of that name
ALIASES = ("topk", "score", "iou", "agnostic")


def add_option_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--option", "-o", action="append", default=[], metavar="TASK.KEY=VALUE",
        help="set a task option (repeatable), e.g. -o detect.score=0.5 -o classify.topk=3; "
             "`visionkit tasks --options` lists every task's options",
    )


def add_alias_arguments(parser: argparse.ArgumentParser) -> None:
    """The short flags of :data:`ALIASES` (commands that run tasks: predict, batch)."""
    parser.add_argument("--topk", type=int, default=None, help="classes to report per image (classify.topk)")
    parser.add_argument("--score", type=float, default=None,
                        help="lowest score kept, 0-1 (detect.score, pose.score)")
    parser.add_argument("--iou", type=float, default=None, help="NMS overlap threshold, 0-1 (detect.iou)")
    parser.add_argument("--agnostic", action="store_const", const=True, default=None,
                        help="NMS across classes: one label per object (detect.agnostic)")


def parse_value(text: str) -> Any:
    """JSON where it parses, else the text itself (paths, names)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_options(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``["detect.score=0.5", ...]`` -> ``{"detect": {"score": 0.5}}``; one-line errors."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        task, dot, name = key.strip().partition(".")
        if not eq or not dot or not task or not name:
            raise UsageError(f"--option takes TASK.KEY=VALUE (e.g. detect.score=0.5), not {item!r}")
        out.setdefault(task, {})[name] = parse_value(value.strip())
    return out


def merged(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Option sets combined task by task; later layers win."""
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for task, values in layer.items():
            out.setdefault(task, {}).update(values)
    return out


def alias_options(args: argparse.Namespace, tasks: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The short flags that were given, as options of every task (in ``tasks``: name -> Task)
    that declares one of that name; a flag no chosen task takes is a usage error."""
    out: dict[str, dict[str, Any]] = {}
    for flag in ALIASES:
        value = getattr(args, flag, None)
        if value is None:
            continue
        takers = [n for n, t in tasks.items() if flag in t.default_options]
        if not takers:
            raise UsageError(f"--{flag} applies to none of the chosen tasks")
        for name in takers:
            out.setdefault(name, {})[flag] = value
    return out


def apply_options(pipeline: Any, options: Mapping[str, Mapping[str, Any]]) -> None:
    """Set options on a built pipeline; a task that is not running is a usage error."""
    for task, values in options.items():
        if task not in pipeline.tasks:
            running = ", ".join(pipeline.tasks) or "none"
            raise UsageError(f"--option {task}.…: task {task!r} is not running (running: {running})")
        pipeline.set_options(task, **dict(values))
