"""Inference off the UI thread: a QObject in its own QThread, driven by signals.

The worker owns the :class:`~visionkit.pipeline.Pipeline` (built and rebuilt here when tasks,
models or the device change) and the open source (:func:`visionkit.sources.open_seekable`: the
CLI's sources, read by index). The UI calls its public methods from its own thread; each one
only posts a command, so the UI never waits on a model or a decoder.

Exactly one frame is in flight: after emitting ``result_ready`` the worker reads nothing more
until the UI calls :meth:`ack`, so a slow screen never builds a queue, and a camera (whose
source keeps only its newest frame) shows the newest picture, whatever the speed. Commands that
arrive meanwhile replace each other ("show frame 40" then "show frame 41" runs 41 only).

Tasks may keep state across frames (a tracker). Opening a source and every jump (anything but
the next frame) reset them first, so no state leaks from frames the user left; the end of a
source, and opening another, tell them it ended. A redraw after an option change re-sends the
very frame on show, whose stateful results the pipeline then reuses instead of stepping again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from visionkit.errors import VisionkitError
from visionkit.results import FrameResult
from visionkit.sources import Frame, FrameError, Source, open_seekable

from .threads import leave_thread, one_line


@dataclass(frozen=True)
class Config:
    """What the pipeline is built from."""

    tasks: tuple[str, ...] = ()
    #: task -> model path (else the default); also for tasks that are off, in case a task that is
    #: on needs one of them: the pipeline then runs it with this model
    models: Mapping[str, str] = field(default_factory=dict)
    device: str = "auto"
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineInfo:
    options: Mapping[str, dict]  # task -> current options
    defaults: Mapping[str, dict]  # task -> its Task.default_options
    provider: str  # the provider the sessions really got; "" without tasks
    models: Mapping[str, str]  # role (backbone, task) -> model file name
    dropped: Mapping[str, str]  # task -> why it could not be turned on
    added: Mapping[str, str] = field(default_factory=dict)  # task run for another -> that task


@dataclass(frozen=True)
class MediaInfo:
    """What is open, as the player needs it (see :class:`visionkit.sources.Source`)."""

    name: str
    kind: str  # stills | video | live | stream
    count: int | None
    fps: float | None


@dataclass(frozen=True)
class Shown:
    """One frame's result, with where it sits in the source."""

    result: FrameResult
    position: int
    count: int | None
    kind: str


def build_pipeline(config: Config) -> tuple[Any, dict[str, str], list[str]]:
    """The pipeline for ``config``, with the tasks that could not be added and why.

    Tasks are added one at a time, so a task whose model will not load (or does not fit the
    others' backbone) is left out with its reason while the rest run. A task the pipeline adds
    because another needs it runs the model ``config`` gives it, like any other. Saved options
    are applied where the task still has them. Returns ``(pipeline or None, dropped, warnings)``.
    """
    accepted: list[str] = []
    dropped: dict[str, str] = {}
    pipeline = None
    for task in config.tasks:
        names = accepted + [task]
        try:
            pipeline = _pipeline(names, config)
            accepted.append(task)
        except VisionkitError as exc:
            dropped[task] = one_line(exc)
    if not accepted:
        pipeline = None
    warnings = [f"{task} is off: {why}" for task, why in dropped.items()]
    for name, task in list(pipeline.tasks.items() if pipeline is not None else ()):
        for key, value in config.options.get(name, {}).items():
            if key in task.default_options:
                try:
                    pipeline.set_options(name, **{key: value})  # may add a task the option needs
                except VisionkitError as exc:
                    warnings.append(f"{name}: saved option ignored: {one_line(exc)}")
    return pipeline, dropped, warnings


def _pipeline(names: list[str], config: Config) -> Any:
    """The pipeline of ``names``, each task with its model from ``config``, and so are the tasks
    it adds for them (which tasks those are shows only once the tasks are built)."""
    from visionkit.pipeline import Pipeline

    models = {t: config.models[t] for t in names if t in config.models}
    while True:
        pipeline = Pipeline(names, models=models, device=config.device)  # type: ignore[arg-type]
        missed = {t: config.models[t] for t in pipeline.added if t in config.models and t not in models}
        if not missed:
            return pipeline
        models.update(missed)  # build again: the added task with the user's model, not its default


class InferenceWorker(QObject):
    result_ready = Signal(object)  # Shown
    pipeline_ready = Signal(object)  # PipelineInfo
    media_opened = Signal(object)  # MediaInfo
    #: what the open source turned out to be, once reading found out (a video with fewer frames
    #: than its header declares); MediaInfo
    media_changed = Signal(object)
    #: something about the open source a user should know, once (one line)
    noted = Signal(str)
    playing_changed = Signal(bool)
    failed = Signal(str)  # one line for the message bar
    _command = Signal(str, object)

    def __init__(self, camera_factory: Callable[[int], Any] | None = None) -> None:
        super().__init__()
        self._camera_factory = camera_factory
        self._abort = threading.Event()
        self._command.connect(self._run)
        # state below is touched in the worker thread only
        self._pipeline = None
        self._dropped: dict[str, str] = {}  # tasks the last configuration could not build, and why
        self._running = False  # the pipeline's tasks hold state about the open source
        self._media: Source | None = None
        self._frame: Frame | None = None
        self._pos = -1
        self._pending: int | str | None = None  # frame index, "next" or "refresh"
        self._seek = False  # the pending frame is a jump: reset the tasks before it
        self._in_flight = False
        self._playing = False
        self._speed = 1.0
        self._started = 0.0
        self._timer: QTimer | None = None
        self._told_count: int | None = None  # the frame count the UI was last told
        self._told_notes = 0  # how many of the source's notes the UI has been told

    # -- public: call from the UI thread ----------------------------------------------------
    def configure(self, config: Config) -> None:
        self._command.emit("configure", config)

    def open(self, spec: Any) -> None:
        self._command.emit("open", spec)

    def show(self, index: int) -> None:
        self._command.emit("show", index)

    def step(self, delta: int) -> None:
        self._command.emit("step", delta)

    def play(self, on: bool = True) -> None:
        self._command.emit("play", on)

    def set_speed(self, speed: float) -> None:
        """Playback speed for videos; 0 plays as fast as inference allows."""
        self._command.emit("speed", speed)

    def set_options(self, task: str, options: Mapping[str, Any]) -> None:
        self._command.emit("options", (task, dict(options)))

    def ack(self) -> None:
        """The UI has shown the last result: the next frame may be read."""
        self._command.emit("ack", None)

    def abort(self) -> None:
        """Stop soon (any thread): pending commands are dropped, a camera read is woken."""
        self._abort.set()
        media = self._media
        if media is not None and media.kind == "live":  # CameraSource.close is thread-safe
            media.close()

    def shutdown(self) -> None:
        """Abort, release media and models in the worker thread, then end that thread."""
        self.abort()
        self._command.emit("shutdown", None)

    # -- worker thread -------------------------------------------------------------------------
    @Slot(str, object)
    def _run(self, name: str, arg: Any) -> None:
        if name == "shutdown":
            self._close()
            return
        if not self._abort.is_set():
            self._guarded(getattr(self, f"_do_{name}"), arg)
            self._guarded(self._service)

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the app keeps running; the user reads one line
            self.failed.emit(one_line(exc))

    def _close(self) -> None:
        try:
            if self._timer is not None:
                self._timer.stop()
            self._leave_source()
        finally:
            self._media = self._pipeline = self._frame = None
            leave_thread(self)

    # -- the tasks' state across frames ------------------------------------------------------------
    def _lifecycle(self, name: str) -> None:
        """``pipeline.reset()`` or ``.finish()``; a plugin failing there is reported, not fatal."""
        if self._pipeline is None:
            return
        try:
            getattr(self._pipeline, name)()
        except Exception as exc:
            self.failed.emit(one_line(exc))

    def _end_run(self) -> None:
        """The frames the tasks have seen came to an end (or are being left): let them flush."""
        if self._running:
            self._running = False
            self._lifecycle("finish")

    def _leave_source(self) -> None:
        self._end_run()
        if self._media is not None:
            self._media.close()

    def _go(self, index: int) -> None:
        """Ask for item ``index``. The next item reads on; the one on show is redrawn; any
        other is a jump. A source that cannot seek only reads on."""
        media = self._media
        if media is None:
            return
        if not media.seekable:
            if index > self._pos:
                self._pending, self._seek = "next", False
        elif index == self._pos and self._frame is not None:
            self._pending, self._seek = "refresh", False
        else:
            self._pending, self._seek = index, index != self._pos + 1

    def _refresh_later(self) -> None:
        """Redraw the paused frame (an option or the tasks changed), unless a read is pending."""
        if self._frame is not None and not self._playing and self._pending is None:
            self._pending = "refresh"

    # -- commands ------------------------------------------------------------------------------
    def _do_configure(self, config: Config) -> None:
        pipeline, dropped, warnings = build_pipeline(config)
        self._end_run()  # the old pipeline's tasks go with it: let them flush
        self._pipeline = pipeline
        self._dropped = dropped
        self._tell_pipeline()
        for text in warnings:
            self.failed.emit(text)
        self._refresh_later()

    def _tell_pipeline(self) -> None:
        pipeline = self._pipeline
        tasks = pipeline.tasks if pipeline is not None else {}
        self.pipeline_ready.emit(PipelineInfo(
            options={n: dict(t.options) for n, t in tasks.items()},
            defaults={n: dict(t.default_options) for n, t in tasks.items()},
            provider=pipeline.provider if pipeline is not None else "",
            models={role: m.path.name for role, m in pipeline.models().items()} if pipeline else {},
            dropped=self._dropped,
            added=dict(pipeline.added) if pipeline is not None else {}))

    def _do_open(self, spec: Any) -> None:
        media = open_seekable(spec, camera_factory=self._camera_factory)  # the old one stays on failure
        self._leave_source()
        self._media, self._frame, self._pos = media, None, -1
        self._told_count, self._told_notes = media.count, len(media.notes)
        self.media_opened.emit(MediaInfo(media.name, media.kind, media.count, media.fps))
        # the first frame resets the tasks, even when the same file opens again
        self._pending, self._seek = (0 if media.seekable else "next"), True
        self._set_playing(media.kind == "live")

    def _do_show(self, index: int) -> None:
        self._go(index)

    def _do_step(self, delta: int) -> None:
        self._set_playing(False)
        self._go(max(0, self._pos + delta))

    def _do_play(self, on: bool) -> None:
        media = self._media
        if media is None or media.kind == "stills":
            return
        if on and media.count is not None and self._pos >= media.count - 1:
            self._pending, self._seek = 0, True  # at the end: play from the start
        self._set_playing(on)
        if on and self._pending is None:
            self._pending = "next"

    def _do_speed(self, speed: float) -> None:
        self._speed = float(speed)

    def _do_options(self, arg: tuple[str, dict]) -> None:
        task, options = arg
        if self._pipeline is None or task not in self._pipeline.tasks:
            return
        before = list(self._pipeline.tasks)
        try:
            self._pipeline.set_options(task, **options)
        except VisionkitError:
            self._tell_pipeline()  # the option was put back: so must the editor be
            raise
        if list(self._pipeline.tasks) != before:  # the option added or left out a task (track.reid)
            self._tell_pipeline()
        self._refresh_later()

    def _do_ack(self, _: Any) -> None:
        self._in_flight = False
        if self._playing and self._pending is None:
            fps = self._media.fps if self._media is not None and self._media.kind == "video" else None
            period = 1.0 / (fps * self._speed) if fps and self._speed > 0 else 0.0
            wait_ms = max(0, int((period - (time.perf_counter() - self._started)) * 1000))
            if self._timer is None:
                self._timer = QTimer(self)
                self._timer.setSingleShot(True)
                self._timer.timeout.connect(self._advance)
            self._timer.start(wait_ms)

    @Slot()
    def _advance(self) -> None:
        if self._playing and self._pending is None and not self._abort.is_set():
            self._pending = "next"
            self._guarded(self._service)

    def _set_playing(self, on: bool) -> None:
        if on != self._playing:
            self._playing = on
            self.playing_changed.emit(on)

    def _service(self) -> None:
        """Read and run the pending frame, unless one is still on its way to the screen."""
        media = self._media
        if self._in_flight or self._pending is None or media is None or self._abort.is_set():
            return
        job, seek = self._pending, self._seek
        self._pending, self._seek = None, False
        self._started = time.perf_counter()
        if job == "refresh":
            if self._frame is None:
                return
            item, decode_ms = self._frame, None  # the same Frame: stateful results are reused
        else:
            index = self._pos + 1 if job == "next" else int(job)
            item = media.read(index)  # a source that cannot seek gives its next (newest) frame
            decode_ms = (time.perf_counter() - self._started) * 1e3
            if item is None:  # the end of a video or stream
                self._end_run()  # before the player hears of it: the tasks have flushed by then
                self._set_playing(False)
                if not media.seekable and not self._abort.is_set():
                    self.failed.emit(f"{media.name}: stream ended")
                if self._met_end(media) and job != "next" and media.count and self._pos != media.count - 1:
                    # a jump past the real end (a slider set by the header's count): show the last frame
                    self._pending, self._seek = media.count - 1, True
                    self._service()
                return
            self._pos = index if media.seekable else (item.index or 0)
            if seek:
                self._lifecycle("reset")
        if isinstance(item, FrameError):
            self._frame = None
            result = FrameResult(item.source, item.index or 0, 0, 0, "", {"decode": decode_ms or 0.0}, {},
                                 error=str(item))
        else:
            self._frame = item
            result = self._predict(item, decode_ms)
        self._in_flight = True
        self.result_ready.emit(Shown(result, self._pos, media.count, media.kind))

    def _met_end(self, media: Source) -> bool:
        """Reading met the end of ``media``: when that changed its frame count, tell the UI the
        real count and why, once; True then."""
        count = media.count
        if count == self._told_count:
            return False
        self._told_count = count
        self.media_changed.emit(MediaInfo(media.name, media.kind, count, media.fps))
        notes = media.notes[self._told_notes:]
        self._told_notes = len(media.notes)
        declared = media.expected_length
        if not notes and declared is not None and count is not None and count < declared:
            notes = [f"{media.name}: the file declares {declared} frames; {count} could be decoded"]
        for text in notes:
            self.noted.emit(text)
        return True

    def _predict(self, frame: Frame, decode_ms: float | None) -> FrameResult:
        if self._pipeline is not None:
            self._running = True
            return self._pipeline.predict_frame(frame, decode_ms=decode_ms)
        h, w = frame.image.shape[:2]
        timings = {"decode": decode_ms} if decode_ms is not None else {}
        timings["total"] = sum(timings.values())
        return FrameResult(frame.source, frame.index, w, h, "", timings, {}, image=frame.image)
