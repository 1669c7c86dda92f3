"""The contract every task keeps, checked by running the task the way visionkit runs it.

:func:`check_task` builds the task through :class:`~visionkit.pipeline.Pipeline`, runs it on a
few pictures and a short clip, and reports what breaks the promises the CLI, the desktop app
and the writers rely on:

* the result follows :class:`visionkit.results.Result` and ``to_dict()`` is JSON-safe
  (``json.dumps(..., allow_nan=False)``);
* results are stable (a second run on a picture gives the same ``to_dict()``) and
  deterministic (so does a fresh pipeline);
* ``reset()`` forgets earlier frames: a clip run again after a reset gives the same results,
  and a task whose results depend on earlier frames says ``stateful = True``;
* ``summary`` is one line, and ``render`` draws the result (a result kind that neither has a
  painter nor a base image is a warning: it shows nothing on the picture);
* the median time per frame stays within a budget (generous by default; the measured median
  is reported either way).

It needs neither pytest nor the ``onnx`` package; ``visionkit plugin check`` runs it on the
installed plugins, and :func:`visionkit.testing.contract_test` makes a pytest test of it.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..sources import Frame
from .samples import FPS, moving_frames, sample_images

#: per-frame budget of the median, in milliseconds: far above what a small task needs here,
#: so only a task that is slower by an order of magnitude fails it
DEFAULT_BUDGET_MS = 2000.0


class ContractWarning(UserWarning):
    """Something a task does that works but that users will likely not want."""


@dataclass
class TaskReport:
    """What :func:`check_task` found for one task."""

    task: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    median_ms: float | None = None  # per frame, after the first

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """One line: ``motion: ok (2.1 ms/frame)`` or the problems, semicolon-separated."""
        timing = f" ({self.median_ms:.1f} ms/frame)" if self.median_ms is not None else ""
        if self.ok:
            return f"{self.task}: ok{timing}"
        return f"{self.task}: FAILED{timing}: " + "; ".join(self.problems)

    def __str__(self) -> str:
        lines = [f"task {self.task!r} " + ("keeps the contract" if self.ok else "breaks the contract:")]
        lines += [f"  - {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def check_task(
    task: str,
    *,
    model: str | Path | None = None,
    backbone: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    images: Sequence[np.ndarray] | None = None,
    video: str | Path | None = None,
    frames: int = 8,
    budget_ms: float = DEFAULT_BUDGET_MS,
) -> TaskReport:
    """Run ``task`` as visionkit runs it and report how it keeps the contract. The task comes
    from the plugins in use: the installed ones, or those of
    :func:`~visionkit.plugin_manager.plugins_added` (the ``visionkit_plugin`` fixture).

    :param model: the task's model; None for its default (or a task without one).
    :param backbone: the shared backbone for a head, when it is not beside the head.
    :param options: the task's options (``{"threshold": 0.3}``).
    :param images: RGB uint8 pictures to run it on; by default three small ShapeWorld scenes.
    :param video: a clip to check state and ``reset()`` on; by default a disc crossing a scene.
    :param frames: how many frames of the clip to use.
    :param budget_ms: the most the median time per frame may be.
    """
    from ..pipeline import Pipeline

    report = TaskReport(task)
    pictures = list(images) if images is not None else sample_images()
    clip = _clip(report, video, frames)

    def build() -> Pipeline:
        return Pipeline([task], model=model, backbone=backbone, options={task: dict(options or {})})

    try:
        pipe = build()
    except Exception as exc:  # any failure of a plugin's code is reported, never raised
        report._problem(f"does not build through Pipeline: {_one_line(exc)}")
        return report
    times: list[float] = []
    run = _Runner(report, task, times)
    stateful = pipe.tasks[task].stateful

    # each picture is a source of its own: a stateful task is reset before each
    first = [run(pipe, Frame(p, f"sample image {i}", 0)) for i, p in enumerate(pictures)]
    for i, p in enumerate(pictures):
        again = run(pipe, Frame(p, f"sample image {i} again", 0))
        _same(report, first[i], again, f"to_dict() is not stable: a second run on sample image {i} "
                                       + ("(a new source, after reset()) differs" if stateful else "differs"))

    before = [run(pipe, f) for f in clip]
    if not _lifecycle(report, pipe.reset, "reset()"):
        return report
    after = [run(pipe, f) for f in clip]
    for k, (a, b) in enumerate(zip(before, after)):
        what = ("reset() does not forget earlier frames" if stateful else
                "results depend on earlier frames, but the task does not say stateful = True")
        if not _same(report, a, b, f"{what}: frame {k} of the clip differs after a reset"):
            break
    _lifecycle(report, pipe.finish, "finish()")

    try:
        fresh = build()
    except Exception as exc:
        report._problem(f"a second Pipeline does not build: {_one_line(exc)}")
        return report
    if pictures:
        _same(report, first[0], run(fresh, Frame(pictures[0], "sample image 0", 0)),
              "not deterministic: a fresh pipeline gives another result on sample image 0")
    for k, f in enumerate(clip):
        if not _same(report, before[k], run(fresh, f),
                     f"not deterministic: a fresh pipeline gives another result on frame {k} of the clip"):
            break

    if times:
        report.median_ms = statistics.median(times[1:] or times)
        if report.median_ms > budget_ms:
            report._problem(f"takes {report.median_ms:.0f} ms per frame (median), "
                            f"over the budget of {budget_ms:g} ms")
    return report


def assert_task(task: str, **kwargs: Any) -> TaskReport:
    """:func:`check_task`, raising AssertionError with every problem when there is one; the
    warnings become :class:`ContractWarning` (pytest lists them in its summary)."""
    report = check_task(task, **kwargs)
    for text in report.warnings:
        warnings.warn(f"{task}: {text}", ContractWarning, stacklevel=2)
    if not report.ok:
        raise AssertionError(str(report))
    return report


def check_tasks(tasks: Iterable[str], **kwargs: Any) -> list[TaskReport]:
    """:func:`check_task` for each of several tasks, with the same arguments."""
    return [check_task(t, **kwargs) for t in tasks]


class _Runner:
    """Runs one frame, times it, and checks the result; returns its canonical ``to_dict()``."""

    def __init__(self, report: TaskReport, task: str, times: list[float]) -> None:
        self.report, self.task, self.times = report, task, times

    def __call__(self, pipe: Any, frame: Frame) -> Any:
        t = time.perf_counter()
        try:
            result = pipe.predict_frame(frame)
        except Exception as exc:  # a task's reset() or finish() failing on a new source
            self.report._problem(f"{frame.source}: {_one_line(exc)}")
            return None
        self.times.append((time.perf_counter() - t) * 1e3)
        if result.error is not None:
            self.report._problem(result.error)
            return None
        if self.task not in result.results:
            self.report._problem(f"{frame.source}: the pipeline has no result of {self.task!r}")
            return None
        return _check_result(self.report, result, result.results[self.task])


def _check_result(report: TaskReport, frame_result: Any, result: Any) -> Any:
    from ..overlays import painter_for, render
    from ..results import base_image, result_problem, summarize

    name = type(result).__name__
    problem = result_problem(result)
    if problem is not None:
        report._problem(problem)
        return None
    if not isinstance(getattr(type(result), "schema_version", None), int):
        report._warn(f"{name} has no schema_version class attribute "
                     "(an int, bumped when a key of to_dict() changes meaning)")
    try:
        data = result.to_dict()
    except Exception as exc:
        report._problem(f"{name}.to_dict() raised {_one_line(exc)}")
        return None
    canonical = None
    if not isinstance(data, dict):
        report._problem(f"{name}.to_dict() returns a {type(data).__name__}, not a dict")
    else:
        try:
            canonical = json.loads(json.dumps(data, allow_nan=False, sort_keys=True))
        except (TypeError, ValueError) as exc:
            where = _not_json(data, "to_dict()") or str(exc)
            report._problem(f"{name}.to_dict() is not JSON-safe: {where}")
    try:
        line = summarize(result)
        if not isinstance(line, str) or not line.strip() or "\n" in line:
            report._problem(f"{name}'s summary is not one line of text: {line!r}")
    except Exception as exc:
        report._problem(f"{name}.summary() raised {_one_line(exc)}")
    try:
        picture = base_image(result)
    except Exception as exc:
        report._problem(f"{name}.base_image() raised {_one_line(exc)}")
        picture = None
    if picture is not None and not (isinstance(picture, np.ndarray) and picture.dtype == np.uint8
                                    and picture.ndim == 3 and picture.shape[2] in (3, 4)):
        report._problem(f"{name}.base_image() is not an RGB uint8 picture")
    try:
        if painter_for(result) is None and picture is None:
            report._warn(f"no painter is registered for result kind {result.kind!r} and {name} has "
                         "no base_image(): it adds nothing to the picture")
        canvas = render(frame_result)
        if canvas.shape != frame_result.image.shape[:2] + (3,) or canvas.dtype != np.uint8:
            report._problem(f"render() of {name} gives a {canvas.dtype} picture of shape {canvas.shape}")
    except Exception as exc:
        report._problem(f"render() of {name} raised {_one_line(exc)}")
    return canonical


def _clip(report: TaskReport, video: str | Path | None, frames: int) -> list[Frame]:
    if video is None:
        return [Frame(image, "sample video", i, i * 1000.0 / FPS, FPS)
                for i, image in enumerate(moving_frames(frames))]
    from ..pipeline import open_input

    clip: list[Frame] = []
    with open_input(video) as source:
        for item in source:
            if not isinstance(item, Frame):
                report._problem(f"cannot read the clip: {item}")
                break
            clip.append(item)
            if len(clip) >= frames:
                break
    if not clip and not report.problems:
        report._problem(f"{video}: the clip has no frames")
    return clip


def _lifecycle(report: TaskReport, call: Callable[[], None], what: str) -> bool:
    try:
        call()
        return True
    except Exception as exc:
        report._problem(f"{what} raised {_one_line(exc)}")
        return False


def _same(report: TaskReport, a: Any, b: Any, message: str) -> bool:
    """Whether two canonical results agree; when not, report where they first differ. A run
    that failed (None) was reported already and compares as equal."""
    if a is None or b is None or a == b:
        return True
    report._problem(f"{message} ({_difference(a, b, 'to_dict()')})")
    return False


def _difference(a: Any, b: Any, path: str) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return f"{path}[{key!r}] is there only once"
            found = _difference(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} has {len(a)} items, then {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _difference(x, y, f"{path}[{i}]"))), "")
    return "" if a == b else f"{path}: {_short(a)}, then {_short(b)}"


def _not_json(value: Any, path: str) -> str | None:
    """Where in ``value`` the first thing JSON cannot hold is, in words."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{path} has a key of type {type(key).__name__}"
            found = _not_json(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        return next((f for i, item in enumerate(value) if (f := _not_json(item, f"{path}[{i}]"))), None)
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value} (JSON has no NaN or infinity)"
    if value is None or isinstance(value, (str, int, float, bool)):
        return None
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{path} is a {name}"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(exc: BaseException) -> str:
    from ..errors import VisionkitError

    text = str(exc) if isinstance(exc, VisionkitError) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text else type(exc).__name__
