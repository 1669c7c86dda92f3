"""The pipeline: decode a frame, run the shared backbone once, run every task's head.

    >>> import visionkit as vk
    >>> pipe = vk.Pipeline(["classify"])               # bundled ShapeWorld model
    >>> result = pipe("assets/samples/shapes_star.png")
    >>> result["classify"].top
    ('star', 0.99...)
    >>> for r in pipe.stream("clip.mp4"): ...          # one FrameResult per frame

Heads whose cards name the same backbone share one backbone pass; a standalone model (a
third-party ONNX with a sidecar card) gets the image preprocessed as its own card says.
Inputs are preprocessed once per distinct input spec, whatever the number of tasks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .bundled import models_dir, resolve_model
from .cards import InputSpec
from .errors import ModelError, UsageError, VisionkitError
from .imageio import read_image
from .plugin_manager import get_plugins, require_task
from .preprocess import Transform, preprocess
from .registry import load_object
from .results import FrameResult
from .runtime import Device, OnnxModel, load_model
from .sources import ArraySource, Frame, FrameError, Source, open_builtin, open_sources
from .tasks import Task, TaskInputs

#: smaller frames carry too little for any model here; refused with a clear message
MIN_SIDE = 8
_END = object()
_IDENTITY = Transform(1.0, 1.0, 0.0, 0.0)


def open_source(spec: Any, **options: Any) -> Source:
    """The Source for one spec: a plugin's opener when the spec starts with one of its
    prefixes (``rtsp://`` ...), else the built-in ones; raises InputError when it cannot open."""
    if isinstance(spec, str):
        entry = get_plugins().sources.match(spec)
        if entry is not None:
            return load_object(entry.opener)(spec, **options)
    return open_builtin(spec, **options)


def open_input(specs: Any, *, recursive: bool = False) -> Source:
    """A Source for one spec or a list of them (see :func:`open_source`); a spec that cannot be
    opened becomes a FrameError in the stream, so the others still run."""
    if isinstance(specs, Source):
        return specs
    if isinstance(specs, (str, Path, int, np.ndarray)):
        specs = [specs]
    return open_sources(list(specs), recursive=recursive, opener=open_source)


def _parse_tasks(tasks: str | Sequence[str]) -> list[str]:
    names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        raise UsageError("no task given (see `visionkit tasks`)")
    if len(set(names)) != len(names):
        raise UsageError(f"a task is named twice in {names}")
    return names


class Pipeline:
    """Tasks sharing one backbone pass per frame. Call it on a path or an RGB array.

    :param tasks: task names (``["classify"]`` or ``"classify,detect"``).
    :param model: the model for the only task (path or ``asset:NAME.onnx``).
    :param models: ``{task: model}`` when several tasks get non-default models.
    :param backbone: the backbone for heads, when it is not beside the head or bundled.
    :param card: a card file for ``model`` (overrides its sidecar/embedded card).
    :param device: ``auto`` (CUDA when it really loads), ``cpu`` or ``cuda``.
    :param threads: onnxruntime intra-op threads (default: onnxruntime's choice).
    :param options: ``{task: {option: value}}``, e.g. ``{"classify": {"topk": 3}}``.
    """

    def __init__(
        self,
        tasks: str | Sequence[str],
        *,
        model: str | Path | None = None,
        models: Mapping[str, str | Path] | None = None,
        backbone: str | Path | None = None,
        card: str | Path | None = None,
        device: Device = "auto",
        threads: int | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.task_names = _parse_tasks(tasks)
        models = dict(models or {})
        if model is not None:
            if len(self.task_names) != 1:
                raise UsageError("model= names one model; with several tasks use models={task: path}")
            models[self.task_names[0]] = model
        options = dict(options or {})
        self.device = device
        self.tasks: dict[str, Task] = {}
        self.backbone: OnnxModel | None = None
        #: tasks run because another needs them, each with the first task that did (the GUI says so)
        self.added: dict[str, str] = {}
        built: dict[str, Task] = {}
        for name in self.task_names:
            # card= describes model=, which only exists with a single task
            built[name] = self._build_task(name, models.get(name), card if model is not None else None,
                                           backbone, device, threads, options.get(name, {}))
        order: list[str] = []

        def visit(name: str, chain: tuple[str, ...]) -> None:
            # a task's needs run before it; a missing one is added with its default model
            if name in order:
                return
            if name in chain:
                raise UsageError(f"tasks need each other in a circle: {' -> '.join(chain + (name,))}")
            if name not in built:
                self.added[name] = chain[-1]
                built[name] = self._build_task(name, models.get(name), None, backbone, device, threads,
                                               options.get(name, {}))
            for dep in built[name].needs():
                visit(dep, chain + (name,))
            order.append(name)

        for name in self.task_names:
            visit(name, ())
        unknown = set(models) - set(order)
        if unknown:
            raise UsageError(f"a model is given for {sorted(unknown)[0]!r}, which is not among the tasks")
        self.task_names = order
        self.tasks = {name: built[name] for name in order}
        self._specs = self._input_specs()
        first = self.backbone or next(iter(self.tasks.values())).model
        self.provider = first.provider

    # -- construction helpers ---------------------------------------------------------------

    def _build_task(self, name: str, ref: str | Path | None, card: str | Path | None,
                    backbone: str | Path | None, device: Device, threads: int | None,
                    options: Mapping[str, Any]) -> Task:
        spec = require_task(name)
        ref = ref or spec.default_model
        if ref is None:
            raise UsageError(f"task {name!r} has no default model; give one with --model")
        head = load_model(resolve_model(ref), device=device, threads=threads, card=card)
        if head.card.task != name:
            raise ModelError(f"{head.path.name} is a {head.card.task!r} model, not {name!r}")
        if head.card.is_head:
            self._attach_backbone(head, backbone, device, threads)
        return load_object(spec.factory)(head, **dict(options))

    def _attach_backbone(self, head: OnnxModel, explicit: str | Path | None, device: Device,
                         threads: int | None) -> None:
        ref = head.card.backbone
        if self.backbone is None:
            candidates = [Path(explicit)] if explicit else [head.path.with_name(f"{ref.name}.onnx"),
                                                           models_dir() / f"{ref.name}.onnx"]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                raise ModelError(
                    f"{head.path.name} needs backbone {ref.name!r}; put {ref.name}.onnx beside it "
                    "or pass --backbone PATH"
                )
            self.backbone = load_model(path, device=device, threads=threads)
            if self.backbone.card.task != "backbone":
                raise ModelError(f"{path.name} is a {self.backbone.card.task!r} model, not a backbone")
        have = self.backbone.card
        if have.hash != ref.hash:
            raise ModelError(
                f"{head.path.name} was exported for backbone {ref.name}@{ref.hash}, but the loaded "
                f"backbone is {have.name}@{have.hash}; re-export the head against this backbone"
            )

    def _input_specs(self) -> list[InputSpec]:
        specs: list[InputSpec] = []
        if self.backbone is not None:
            specs.append(self.backbone.card.input)
        for task in self.tasks.values():
            if not task.card.is_head and task.card.input not in specs:
                specs.append(task.card.input)
        return specs

    # -- running ------------------------------------------------------------------------------

    def __call__(self, image: str | Path | np.ndarray) -> FrameResult:
        """Results for one image (a path or an RGB uint8 array); raises on a bad input."""
        if isinstance(image, np.ndarray):
            item = next(iter(ArraySource(image)))
        else:
            item = Frame(image=read_image(image), source=str(image), index=0)
        result = self.predict_frame(item)
        if result.error is not None:
            raise VisionkitError(result.error)
        return result

    def stream(self, source: Any, *, recursive: bool = False) -> Iterator[FrameResult]:
        """One FrameResult per frame of any source; failed inputs come as results with ``error``."""
        src = open_input(source, recursive=recursive)
        with src:
            items = iter(src)
            while True:
                t0 = time.perf_counter()
                item = next(items, _END)
                decode_ms = (time.perf_counter() - t0) * 1e3
                if item is _END:
                    return
                if isinstance(item, FrameError):
                    yield FrameResult(item.source, item.index or 0, 0, 0, self.provider,
                                      {"decode": decode_ms}, {}, error=str(item))
                else:
                    yield self.predict_frame(item, decode_ms=decode_ms)

    def predict_frame(self, frame: Frame, *, decode_ms: float | None = None) -> FrameResult:
        """Run every task on one decoded frame. Errors are returned in the result, not raised."""
        image = frame.image
        h, w = image.shape[:2]
        timings: dict[str, float] = {} if decode_ms is None else {"decode": decode_ms}

        def done(results: dict, error: str | None = None) -> FrameResult:
            timings["total"] = sum(timings.values())
            return FrameResult(frame.source, frame.index, w, h, self.provider, timings, results,
                               error=error, image=image)

        if min(h, w) < MIN_SIDE:
            return done({}, f"{frame.source}: image is {w}x{h} px, smaller than {MIN_SIDE}x{MIN_SIDE}")
        clock = time.perf_counter
        t = clock()
        prepared: dict[InputSpec, tuple[np.ndarray, Transform]] = {s: preprocess(image, s) for s in self._specs}
        timings["preprocess"] = (clock() - t) * 1e3

        features = None
        bb_transform = _IDENTITY
        if self.backbone is not None:
            t = clock()
            tensor, bb_transform = prepared[self.backbone.card.input]
            try:
                outs = self.backbone.run({self.backbone.inputs[0].name: tensor})
            except VisionkitError as exc:
                return done({}, f"{frame.source}: {exc}")
            features = dict(zip(self.backbone.outputs, outs))
            timings["backbone"] = (clock() - t) * 1e3

        results: dict[str, Any] = {}
        errors: list[str] = []
        for name, task in self.tasks.items():
            if task.card.is_head:
                tensor, transform, size = None, bb_transform, self.backbone.card.input.size
            else:
                (tensor, transform), size = prepared[task.card.input], task.card.input.size
            inputs = TaskInputs(image=image, features=features, tensor=tensor, transform=transform,
                                input_size=tuple(size), results=results)
            try:
                t = clock()
                raw = task.forward(inputs)
                t2 = clock()
                results[name] = task.decode(raw, inputs)
                timings[name] = (t2 - t) * 1e3
                timings[f"{name}.post"] = (clock() - t2) * 1e3
            except VisionkitError as exc:
                errors.append(f"{name}: {exc}")
            except Exception as exc:  # a plugin's bug: report it for this frame, keep the rest
                errors.append(f"{name}: plugin raised {type(exc).__name__}: {exc}".splitlines()[0])
        return done(results, f"{frame.source}: " + "; ".join(errors) if errors else None)

    # -- introspection ------------------------------------------------------------------------

    def models(self) -> dict[str, OnnxModel]:
        """Every loaded model by role: ``backbone`` and one per task."""
        out = {"backbone": self.backbone} if self.backbone is not None else {}
        out.update({name: task.model for name, task in self.tasks.items()})
        return out

    def set_options(self, task: str, **options: Any) -> None:
        self.tasks[task].set_options(**options)

    def __repr__(self) -> str:
        return f"Pipeline({self.task_names}, provider={self.provider!r})"


def predict(sources: Iterable[Any] | Any, tasks: str | Sequence[str] = "classify", **kwargs: Any) -> list[FrameResult]:
    """Convenience: run a pipeline over sources and collect every result."""
    return list(Pipeline(tasks, **kwargs).stream(sources))
