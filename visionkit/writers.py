"""Where results go: JSON lines, annotated images or videos, and every format plugins add.

The CLI's ``--json`` is :class:`JsonLinesWriter`; ``--save DIR [--save-as a,b]`` is
:class:`SaveWriters`, which opens the registered writers (``visionkit_register_writers``) by
name: core's ``images`` (annotated stills and videos) and ``jsonl`` (``DIR/results.jsonl``),
and the plugins' (the segment task's label-map ``masks``, the detect task's ``coco``
results file, ...). Without names it opens the defaults of the tasks that run. The Python
API uses them the same way::

    with vk.SaveWriters("out", tasks=pipe.task_names) as save:
        for result in pipe.stream("clip.mp4"):
            save.write(result)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from .errors import InputError, PluginError, UsageError, VisionkitError, describe_failure
from .imageio import VIDEO_EXTENSIONS, opencv_quiet, write_image
from .outputs import check_folder, discard, make_folder, publish, temp_path
from .results import FrameResult


class JsonLinesWriter:
    """One JSON object per frame, one per line (the CLI contract's schema)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, result: FrameResult) -> None:
        try:
            self.stream.write(result.to_json() + "\n")
            self.stream.flush()
        except BrokenPipeError:
            raise  # the reader went away: the CLI stops quietly
        except OSError as exc:  # a full disk, /dev/full: say so, never a traceback
            name = getattr(self.stream, "name", None)
            where = name if isinstance(name, str) and not name.startswith("<") else "the JSON output"
            raise InputError(f"{where}: cannot write ({exc.strerror or exc})") from None

    def close(self) -> None:
        pass


def _stem(source: str) -> str:
    if source.startswith("webcam:"):
        return "webcam" + source.split(":", 1)[1]
    return Path(source).stem or "image"


class JsonLinesFileWriter(JsonLinesWriter):
    """``--save-as jsonl``: the ``--json`` lines in ``DIR/results.jsonl``."""

    def __init__(self, out_dir: str | Path, *, overwrite: bool = False) -> None:
        self.path = Path(out_dir) / "results.jsonl"
        self.overwrite = overwrite
        self._tmp = temp_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            super().__init__(open(self._tmp, "w", encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write ({exc.strerror})") from None
        self.written = [self.path]

    def close(self) -> None:
        if self.stream.closed:
            return
        try:
            self.stream.close()
        except OSError as exc:
            discard(self._tmp)
            raise InputError(f"{self.path}: cannot write ({exc.strerror or exc})") from None
        publish(self._tmp, self.path, self.overwrite)


def is_stream(source: str) -> bool:
    """Whether a result's source is a video or camera (written as a video, not stills)."""
    return source.startswith("webcam:") or Path(source).suffix.lower() in VIDEO_EXTENSIONS


def stem_of(source: str, root: str | Path | None = None) -> str:
    """The name outputs for a source are given, without suffix: the file's stem (``webcam0``
    for a camera), or its path below ``root`` when it lies there (``--recursive`` keeps the
    input folders' tree under the output folder)."""
    if root is not None and not source.startswith("webcam:"):
        try:
            rel = Path(source).resolve().relative_to(Path(root).resolve())
        except (ValueError, OSError):
            return _stem(source)
        return rel.with_suffix("").as_posix()
    return _stem(source)


#: still formats written as they came in; others (GIF, PNM, ...) are written as PNG
KEPT_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def still_suffix(source: str) -> str:
    """The suffix an annotated still is written with: the input's own where it can be."""
    suffix = Path(source).suffix.lower()
    return suffix if suffix in KEPT_SUFFIXES else ".png"


#: frames per second of a saved video whose source gives no usable rate
DEFAULT_FPS = 25.0
#: rates outside this range are a container's nonsense, not a camera's
PLAUSIBLE_FPS = (1.0, 240.0)


class _Video:
    """One annotated video being written under a temporary name."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        self.path, self.tmp, self.frames = path, temp_path(path), 0
        make_folder(path.parent)  # a video below the output folder's top (an input tree kept)
        with opencv_quiet():
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            self.writer.release()
            discard(self.tmp)
            raise InputError(f"{path}: cannot open a video writer")

    def finish(self, overwrite: bool) -> None:
        """Close the file and check that it plays before it takes its name: OpenCV's writer
        reports no error when the disk fills up, it just leaves a file without frames."""
        with opencv_quiet():  # a failing writer logs a line per frame; the check below says it once
            self.writer.release()
            capture = cv2.VideoCapture(str(self.tmp))
        try:
            ok = capture.isOpened() and capture.read()[0]
        finally:
            capture.release()
        if not ok or self.frames == 0:
            discard(self.tmp)
            raise InputError(f"{self.path}: the video could not be written (is the disk full?)")
        publish(self.tmp, self.path, overwrite)


class AnnotatedWriter:
    """Annotated stills as ``DIR/<stem><suffix>`` in the input's format (PNG for formats that
    cannot be written); frames of a video or camera as ``DIR/<stem>.mp4``, at the source's
    frame rate (``fps`` overrides it; a source without a plausible rate gets 25 and a note in
    :attr:`notes`). With ``root``, inputs below it keep their sub-folders. Files appear only
    when complete."""

    def __init__(self, out_dir: str | Path, fps: float | None = None, *, overwrite: bool = False,
                 root: str | Path | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.root = root
        make_folder(self.out_dir)
        self.fps = fps
        self.overwrite = overwrite
        self._videos: dict[str, _Video] = {}
        self._used: set[tuple[str, str]] = set()
        self.written: list[Path] = []
        #: one line each about what was written otherwise than asked (a default frame rate)
        self.notes: list[str] = []

    def _unique(self, stem: str, suffix: str) -> Path:
        name, n = stem, 1
        while (name, suffix) in self._used:
            n += 1
            name = f"{stem}_{n}"
        self._used.add((name, suffix))
        return self.out_dir / f"{name}{suffix}"

    def _rate(self, result: FrameResult) -> float:
        if self.fps is not None:
            return float(self.fps)
        fps = result.fps
        lo, hi = PLAUSIBLE_FPS
        if fps is not None and lo <= fps <= hi:
            return float(fps)
        if not result.source.startswith("webcam:"):
            said = "no frame rate" if not fps else f"a frame rate of {fps:g}"
            self.notes.append(f"{result.source}: the video gives {said}; saved at {DEFAULT_FPS:g} frames/s")
        return DEFAULT_FPS

    def write(self, result: FrameResult) -> None:
        if not result.results or result.image is None:
            return
        from .overlays import render  # the painters load when a picture is drawn, not for JSON

        canvas = render(result)
        if not is_stream(result.source):
            path = self._unique(stem_of(result.source, self.root), still_suffix(result.source))
            write_image(path, canvas, overwrite=self.overwrite)
            self.written.append(path)
            return
        video = self._videos.get(result.source)
        if video is None:
            h, w = canvas.shape[:2]
            video = _Video(self._unique(stem_of(result.source, self.root), ".mp4"), (w, h), self._rate(result))
            self._videos[result.source] = video
        with opencv_quiet():
            video.writer.write(np.ascontiguousarray(canvas[..., ::-1]))
        video.frames += 1

    def close(self) -> None:
        videos, self._videos = list(self._videos.values()), {}
        problems = []
        for video in videos:
            try:
                video.finish(self.overwrite)
                self.written.append(video.path)
            except InputError as exc:
                problems.append(str(exc))
        if problems:
            raise InputError("; ".join(problems))

    def __enter__(self) -> AnnotatedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SaveWriters:
    """Every writer ``--save DIR`` uses, fed each result in turn.

    :param formats: writer names (``["images", "coco"]``); None for the defaults of ``tasks``.
    :param tasks: the tasks that run (choose the defaults, and check a named format fits).
    :param overwrite: replace files already in ``out_dir``; without it a folder that holds
        files is refused up front, and no output ever replaces another's.
    :param root: a folder whose tree the outputs keep (inputs below it are written below
        ``out_dir`` at the same relative place), for writers that take ``root``.
    :param per_input: True where each input is written on its own (a batch worker): the
        writers that gather a whole run in one file are left out of the defaults, and refused
        by name.
    """

    def __init__(self, out_dir: str | Path, tasks: list[str], formats: list[str] | None = None, *,
                 overwrite: bool = False, root: str | Path | None = None,
                 per_input: bool = False) -> None:
        from .plugin_manager import get_plugins

        registry = get_plugins().writers
        if formats is None:
            specs = [s for s in registry.defaults_for(tasks) if not (per_input and s.whole_run)]
        else:
            specs = []
            for name in formats:
                if name not in registry:
                    known = ", ".join(w.name for w in registry)
                    raise UsageError(f"--save-as: no writer {name!r} (installed: {known})")
                spec = registry.get(name)
                if spec.tasks and not set(spec.tasks) & set(tasks):
                    raise UsageError(f"--save-as {name} writes {', '.join(spec.tasks)} results; "
                                     f"none of them runs (running: {', '.join(tasks)})")
                if spec.whole_run and per_input:
                    raise UsageError(f"--save-as {name} gathers a whole run in one file; a batch writes "
                                     "each input on its own (its records are the results)")
                specs.append(spec)
        self.out_dir = check_folder(out_dir, overwrite)
        self.writers: list[tuple[Any, Any]] = []  # (spec, writer)
        try:
            for spec in specs:
                self.writers.append((spec, _open_writer(spec, self.out_dir, overwrite=overwrite, root=root)))
        except BaseException:
            self.close()
            raise
        self.names = [s.name for s in specs]

    @property
    def written(self) -> list[Path]:
        return [p for _, w in self.writers for p in getattr(w, "written", [])]

    @property
    def notes(self) -> list[str]:
        """One line each that a writer wants the user to read (a video saved at a default rate)."""
        return [n for _, w in self.writers for n in getattr(w, "notes", [])]

    def write(self, result: FrameResult) -> None:
        for spec, writer in self.writers:
            _guarded(spec, "write", writer.write, result)

    def close(self) -> None:
        """Close every writer (each publishes its files); the failures, if any, in one line."""
        problems = []
        for spec, writer in getattr(self, "writers", []):
            try:
                _guarded(spec, "close", writer.close)
            except VisionkitError as exc:
                problems.append(str(exc))
        self.writers = [] if problems else getattr(self, "writers", [])
        if problems:
            raise InputError("; ".join(problems))

    def __enter__(self) -> SaveWriters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_writer(spec: Any, out_dir: Path, **offered: Any) -> Any:
    """Build a writer with the keywords it takes among ``offered`` (``overwrite``, ``root``)."""
    from .registry import load_object

    cls = load_object(spec.factory)
    if not callable(cls):
        raise PluginError(f"plugin {spec.plugin!r}: writer {spec.factory} is not a class")
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs = {k: v for k, v in offered.items() if k in params}
    return _guarded(spec, "open", lambda: cls(out_dir, **kwargs))


def _guarded(spec: Any, what: str, call: Any, *args: Any) -> Any:
    """A writer's call; a plugin's bug (not our one-line errors) is named after its writer."""
    try:
        return call(*args)
    except (VisionkitError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginError(f"the {spec.name!r} writer of plugin {spec.plugin!r} failed to {what}: "
                          f"{describe_failure(exc)}") from exc
