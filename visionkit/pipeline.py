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

Tasks may keep state across frames (a tracker): the pipeline resets every task when a new
source starts, calls their ``finish`` when one ends, and never runs a stateful task twice on
the same frame (a redraw gets the result it already has). ``reset()`` does it by hand (the
desktop app calls it on a seek).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .assembly import TaskAssembly
from .batching import Ahead, batch_ahead
from .cards import InputSpec
from .context import TaskContext
from .errors import PluginError, UsageError, VisionkitError, describe_failure
from .imageio import read_image
from .plugin_manager import require_task
from .preprocess import Transform, preprocess
from .results import FrameResult, result_problem
from .runtime import Device, OnnxModel, resolve_spinning
from .sources import ArraySource, Frame, FrameError, Source, open_sources, open_with_plugins
from .tasks import FrameInfo, Task, TaskInputs

#: smaller frames carry too little for any model here; refused with a clear message
MIN_SIDE = 8
_IDENTITY = Transform(1.0, 1.0, 0.0, 0.0)


def open_source(spec: Any, **options: Any) -> Source:
    """The Source for one spec: a plugin's opener when the spec starts with one of its
    prefixes (``rtsp://`` ...), else the built-in ones; raises InputError when it cannot open."""
    return open_with_plugins(spec, **options)


def open_input(specs: Any, *, recursive: bool = False) -> Source:
    """A Source for one spec or a list of them (see :func:`open_source`); a spec that cannot be
    opened becomes a FrameError in the stream, so the others still run."""
    if isinstance(specs, Source):
        return specs
    if isinstance(specs, (str, Path, int, np.ndarray)):
        specs = [specs]
    return open_sources(list(specs), recursive=recursive, opener=open_source)


def _as_rgb(image: np.ndarray, channel_order: str) -> np.ndarray:
    """An array in the channel order given, as RGB (arrays of grey or of several images too)."""
    if channel_order == "rgb":
        return image
    if channel_order != "bgr":
        raise UsageError(f"channel_order must be 'rgb' or 'bgr', not {channel_order!r}")
    if image.ndim >= 3 and image.shape[-1] in (3, 4):
        swapped = image[..., [2, 1, 0] + ([3] if image.shape[-1] == 4 else [])]
        return np.ascontiguousarray(swapped)
    return image


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
    :param spinning: whether idle onnxruntime workers busy-wait between runs, for every
        session the pipeline opens (backbone, heads, their parts). None (default): off, as
        for every session visionkit opens: the sessions take turns, and the idle pools'
        spinning took the cores the running one needed (1.5-2.3x the frames per second
        without it on two cores). ``True`` may pay for one standalone model on a machine of
        its own.
    :param precision: ``"fp32"`` (default) or ``"int8"``: run the shared backbone's int8 copy,
        ``<backbone>_int8.onnx`` beside it (``visionkit models quantize`` writes it); heads
        are the same either way.
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
        precision: str = "fp32",
        spinning: bool | None = None,
    ) -> None:
        self.task_names = _parse_tasks(tasks)
        if precision not in ("fp32", "int8"):
            raise UsageError(f"precision must be fp32 or int8, not {precision!r}")
        #: the shared backbone's precision; ``self.backbone.path`` is the file that runs
        self.precision = precision
        models = dict(models or {})
        if model is not None:
            if len(self.task_names) != 1:
                raise UsageError("model= names one model; with several tasks use models={task: path}")
            models[self.task_names[0]] = model
        self.device = device
        self.tasks: dict[str, Task] = {}
        #: tasks run because another needs them, each with the first task that did (the GUI says so)
        self.added: dict[str, str] = {}
        #: whether the sessions' idle thread-pool workers busy-wait between runs (off unless asked)
        self.spinning = resolve_spinning(spinning)
        #: what builds the tasks, and a task added later when an option changes what another needs
        self._assembly = TaskAssembly(models, backbone, device, threads, options or {}, self.spinning,
                                      precision)
        #: the tasks asked for; the others in ``tasks`` run because one of these needs them
        self._asked = list(self.task_names)
        # card= describes model=, which only exists with a single task
        built = {name: self._assembly.build(name, card if model is not None else None)
                 for name in self.task_names}
        self._arrange(built)
        unknown = set(models) - set(self.task_names)
        if unknown:
            raise UsageError(f"a model is given for {sorted(unknown)[0]!r}, which is not among the tasks")
        if precision == "int8" and self.backbone is None:
            raise UsageError("precision int8 runs the shared backbone in int8, and none of these "
                             "tasks reads it (their models take the image themselves)")
        self._specs = self._input_specs()
        first = self.backbone or next((t.model for t in self.tasks.values() if t.model is not None), None)
        #: the provider the sessions really got; "none" when no task runs a model
        self.provider = first.provider if first is not None else "none"
        #: what tasks may call beyond their frame: the backbone and the other tasks
        self.context = TaskContext(self)
        self._source: str | None = None  # the source whose frames the tasks' state is about
        self._last: dict[str, tuple[tuple[str, int], Any]] = {}  # stateful task -> (frame, result)
        self._checked: set[type] = set()  # result types already held to the protocol
        self._arrays = 0  # frames given as arrays to __call__, numbered so trackers follow them

    # -- construction helpers ---------------------------------------------------------------

    @property
    def backbone(self) -> OnnxModel | None:
        """The shared backbone (None when no task's head reads it)."""
        return self._assembly.backbone

    def _arrange(self, built: dict[str, Task]) -> None:
        """Order the asked tasks after what they need (:meth:`TaskAssembly.arrange`). Sets
        ``task_names``, ``tasks``, ``added`` and ``drawn``."""
        order, added = self._assembly.arrange(self._asked, built)
        self.task_names, self.added = order, added
        self.tasks = {name: built[name] for name in order}
        #: the tasks whose overlays a picture shows: all but those added for a task that draws
        #: what they found itself (a tracker's boxes are its detector's)
        self.drawn: tuple[str, ...] = tuple(
            n for n in order if not (n in added and built[added[n]].draws_needs))

    def _input_specs(self) -> list[InputSpec]:
        specs: list[InputSpec] = []
        if self.backbone is not None:
            specs.append(self.backbone.card.input)
        for task in self.tasks.values():
            if task.card is not None and not task.card.is_head and task.card.input not in specs:
                specs.append(task.card.input)
        return specs

    # -- running ------------------------------------------------------------------------------

    def __call__(self, image: Any, *, channel_order: str = "rgb") -> Any:
        """Results for one image (a path or a uint8 array), raising on a bad input; or, for a
        list or generator of them, a list of results in which a bad input is a result with
        ``error`` set (the others still run).

        Arrays are taken as RGB; pass ``channel_order="bgr"`` for arrays from ``cv2.imread``
        or ``cv2.VideoCapture`` (or read files with ``vk.read_image``, which gives RGB).
        """
        if not isinstance(image, (str, Path, np.ndarray)) and isinstance(image, Iterable):
            return [self._one(item, channel_order, raise_errors=False) for item in image]
        return self._one(image, channel_order, raise_errors=True)

    def _one(self, image: Any, channel_order: str, raise_errors: bool) -> FrameResult:
        item = self._frame(image, channel_order, raise_errors)
        if isinstance(item, FrameResult):
            return item
        result = self.predict_frame(item)
        if raise_errors and result.error is not None:
            raise VisionkitError(result.error)
        return result

    def _frame(self, image: Any, channel_order: str, raise_errors: bool) -> Frame | FrameResult:
        """A path or array as a Frame; what cannot be read raises, or comes as a failed result."""
        try:
            if isinstance(image, Frame):
                return image
            if isinstance(image, np.ndarray):
                first = next(iter(ArraySource(_as_rgb(image, channel_order))))
                item = Frame(image=first.image, source=first.source, index=self._arrays)
                self._arrays += 1
                return item
            if isinstance(image, (str, Path)):
                return Frame(image=read_image(image), source=str(image), index=0)
            raise UsageError(f"a pipeline takes image paths or arrays, not {type(image).__name__}")
        except VisionkitError as exc:
            if raise_errors:
                raise
            name = str(image) if isinstance(image, (str, Path)) else "array"
            return FrameResult(name, 0, 0, 0, self.provider, {}, {}, error=str(exc))

    def predict_batch(self, images: Iterable[Any], *, channel_order: str = "rgb") -> list[FrameResult]:
        """Results for several images (paths, arrays or Frames), the shared backbone run once on
        all of them; then every task runs on each frame in order, so stateful tasks see the
        frames as one at a time would. A bad input is a result with ``error``, the others still
        run. The results are those of one image at a time, up to the float rounding of the
        backbone's batched kernels. A backbone whose batch axis is fixed runs one at a time."""
        items = [self._frame(image, channel_order, raise_errors=False) for image in images]
        frames = [i for i in items if isinstance(i, Frame)]
        ahead = iter(batch_ahead(self.backbone, self._specs, frames, MIN_SIDE))
        return [item if isinstance(item, FrameResult) else self._predict(item, None, next(ahead))
                for item in items]

    def stream(self, source: Any, *, recursive: bool = False, progress: bool = False,
               channel_order: str = "rgb", batch: int = 1) -> Iterator[FrameResult]:
        """One FrameResult per frame of any source; failed inputs come as results with ``error``.

        :param progress: show a progress bar on stderr (count, rate, time left) as the CLI does.
        :param channel_order: of arrays given as the source (``"bgr"`` for OpenCV's).
        :param batch: frames read ahead and given to the backbone at once (see
            :meth:`predict_batch`); a camera keeps its newest-frame policy and runs one at a time.
        """
        if int(batch) < 1:
            raise UsageError(f"batch must be at least 1, not {batch}")
        if isinstance(source, np.ndarray):
            source = _as_rgb(source, channel_order)
        src = open_input(source, recursive=recursive)
        with src:
            if not progress:
                yield from self._stream(src, int(batch))
                return
            from .progress import Progress

            with Progress(src.expected_length, "predict") as bar:
                for result in self._stream(src, int(batch)):
                    bar.update(1)
                    yield result

    def _stream(self, src: Source, batch: int) -> Iterator[FrameResult]:
        items = iter(src)
        size = 1 if src.live else batch  # a camera's newest frame is the one to run
        while True:
            t0 = time.perf_counter()
            chunk = list(itertools.islice(items, size))
            decode_ms = (time.perf_counter() - t0) * 1e3 / max(1, len(chunk))
            if not chunk:
                self.finish()
                return
            frames = [i for i in chunk if not isinstance(i, FrameError)]
            ahead = iter(batch_ahead(self.backbone, self._specs, frames, MIN_SIDE))
            for item in chunk:
                if isinstance(item, FrameError):
                    yield FrameResult(item.source, item.index or 0, 0, 0, self.provider,
                                      {"decode": decode_ms}, {}, error=str(item))
                else:
                    yield self._predict(item, decode_ms, next(ahead))

    def predict_frame(self, frame: Frame, *, decode_ms: float | None = None) -> FrameResult:
        """Run every task on one decoded frame. Errors are returned in the result, not raised.

        A frame of another source than the last one resets the tasks first (and finishes the
        last source); the same frame again reuses stateful tasks' results.
        """
        return self._predict(frame, decode_ms, None)

    def _predict(self, frame: Frame, decode_ms: float | None, ahead: Ahead | None) -> FrameResult:
        image = frame.image
        h, w = image.shape[:2]
        timings: dict[str, float] = {} if decode_ms is None else {"decode": decode_ms}

        def done(results: dict, error: str | None = None) -> FrameResult:
            timings["total"] = sum(timings.values())
            return FrameResult(frame.source, frame.index, w, h, self.provider, timings, results,
                               error=error, image=image, fps=frame.fps, shown=self.drawn)

        if min(h, w) < MIN_SIDE:
            return done({}, f"{frame.source}: image is {w}x{h} px, smaller than {MIN_SIDE}x{MIN_SIDE}")
        if frame.source != self._source:
            if self._source is not None:
                self.finish()
            self.reset()
            self._source = frame.source
        info = FrameInfo(frame.source, frame.index, frame.timestamp_ms, frame.fps)
        try:
            results, errors = self._run(image, self.tasks, info, timings, ahead)
        except VisionkitError as exc:
            return done({}, f"{frame.source}: {exc}")
        return done(results, f"{frame.source}: " + "; ".join(errors) if errors else None)

    def _run(self, image: np.ndarray, tasks: Mapping[str, Task], info: FrameInfo | None,
             timings: dict[str, float], ahead: Ahead | None = None) -> tuple[dict[str, Any], list[str]]:
        """Preprocess, one backbone pass, then each task in order; ``info`` None runs
        detached (no state is read or kept). A backbone failure raises; a task's is listed.
        ``ahead``: this frame's tensors and features from a batch, with its share of the time."""
        clock = time.perf_counter
        t = clock()
        prepared: dict[InputSpec, tuple[np.ndarray, Transform]] = (
            ahead.prepared if ahead is not None else {s: preprocess(image, s) for s in self._specs})
        timings["preprocess"] = ahead.preprocess_ms if ahead is not None else (clock() - t) * 1e3

        features = None
        bb_transform = _IDENTITY
        if ahead is not None and self.backbone is not None:
            features, bb_transform = ahead.features, prepared[self.backbone.card.input][1]
            timings["backbone"] = ahead.backbone_ms
        elif self.backbone is not None:
            t = clock()
            tensor, bb_transform = prepared[self.backbone.card.input]
            outs = self.backbone.run({self.backbone.inputs[0].name: tensor})
            features = dict(zip(self.backbone.outputs, outs))
            timings["backbone"] = (clock() - t) * 1e3

        results: dict[str, Any] = {}
        errors: list[str] = []
        key = (info.source, info.index) if info is not None else None
        for name, task in tasks.items():
            if task.stateful and key is not None and self._last.get(name, (None,))[0] == key:
                results[name] = self._last[name][1]  # this frame again: never step the state twice
                continue
            if task.card is None or task.card.is_head:
                tensor, transform = None, bb_transform
                size = self.backbone.card.input.size if self.backbone is not None else image.shape[:2]
            else:
                (tensor, transform), size = prepared[task.card.input], task.card.input.size
            inputs = TaskInputs(image=image, features=features, tensor=tensor, transform=transform,
                                input_size=tuple(size), results=results,
                                frame=info or FrameInfo("detached", 0), context=self.context)
            try:
                t = clock()
                raw = task.forward(inputs)
                t2 = clock()
                result = task.decode(raw, inputs)
                self._check(name, result)
                results[name] = result
                timings[name] = (t2 - t) * 1e3
                timings[f"{name}.post"] = (clock() - t2) * 1e3
                if task.stateful and key is not None:
                    self._last[name] = (key, result)
            except VisionkitError as exc:
                errors.append(f"{name}: {exc}")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a plugin's bug, even sys.exit(): this task only, this frame
                errors.append(f"{name}: plugin raised {describe_failure(exc)}")
        return results, errors

    def _check(self, name: str, result: Any) -> None:
        """Hold a result type to the protocol the first time a task returns it."""
        if type(result) in self._checked:
            return
        problem = result_problem(result)
        if problem is not None:
            plugin = require_task(name).plugin
            raise PluginError(f"plugin {plugin!r} returned a result that visionkit cannot show: {problem} "
                              "(see visionkit.results.Result)")
        self._checked.add(type(result))

    def run_detached(self, name: str, image: np.ndarray) -> Any:
        """The named task's result on an image outside the stream, with the tasks it needs;
        no task's state is read or changed (what :meth:`TaskContext.predict` calls)."""
        if name not in self.tasks:
            raise UsageError(f"task {name!r} is not running in this pipeline (running: {', '.join(self.tasks)})")
        wanted: list[str] = []

        def visit(n: str) -> None:
            for dep in self.tasks[n].needs():
                visit(dep)
            if n not in wanted:
                wanted.append(n)

        visit(name)
        stateful = [n for n in wanted if self.tasks[n].stateful]
        if stateful:
            raise UsageError(f"task {stateful[0]!r} keeps state across frames; it cannot run on a detached image")
        results, errors = self._run(image, {n: self.tasks[n] for n in wanted}, None, {})
        if name not in results:
            raise VisionkitError("; ".join(errors) or f"{name}: no result")
        return results[name]

    # -- lifecycle ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Every task forgets earlier frames (a new source, a seek); results of the frame shown
        are not reused after it."""
        self._last.clear()
        for name, task in self.tasks.items():
            _lifecycle(name, task, "reset")

    def finish(self) -> None:
        """The current source has ended: every task flushes what it holds."""
        self._source = None
        self._last.clear()
        for name, task in self.tasks.items():
            _lifecycle(name, task, "finish")

    # -- introspection ------------------------------------------------------------------------

    @property
    def notes(self) -> list[str]:
        """What the tasks told the user so far (each once), e.g. a head that cannot use the
        detector it was given."""
        return [n for task in self.tasks.values() for n in getattr(task, "notes", [])]

    def models(self) -> dict[str, OnnxModel]:
        """Every loaded main model by role: ``backbone`` and one per task that has a model."""
        out = {"backbone": self.backbone} if self.backbone is not None else {}
        out.update({name: task.model for name, task in self.tasks.items() if task.model is not None})
        return out

    def set_options(self, task: str, **options: Any) -> None:
        """Change a task's options between frames. An option that changes what the task needs
        (``track.reid`` needs ``embed``) adds the task it now needs, with its default model, or
        leaves out the one it no longer does; if that task cannot be built, the options are
        put back and the error raised."""
        target = self.tasks[task]
        before = {k: target.options[k] for k in options if k in target.options}
        needed = target.needs()
        target.set_options(**options)
        if target.needs() == needed:
            return
        backbone = self.backbone  # a task that fails to build may have attached one
        try:
            self._arrange(dict(self.tasks))
        except VisionkitError:
            target.set_options(**before)
            self._assembly.backbone = backbone
            raise
        self._specs = self._input_specs()

    def __repr__(self) -> str:
        return f"Pipeline({self.task_names}, provider={self.provider!r})"


def _lifecycle(name: str, task: Task, method: str) -> None:
    """A task's reset or finish; a plugin's bug there becomes one line naming the task."""
    try:
        getattr(task, method)()
    except (VisionkitError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginError(f"{name}: {method}() raised {describe_failure(exc)}") from exc


def predict(sources: Iterable[Any] | Any, tasks: str | Sequence[str] = "classify", **kwargs: Any) -> list[FrameResult]:
    """Convenience: run a pipeline over sources and collect every result."""
    return list(Pipeline(tasks, **kwargs).stream(sources))
