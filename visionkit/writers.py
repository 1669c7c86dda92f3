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

import json
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from .errors import InputError, PluginError, UsageError
from .imageio import VIDEO_EXTENSIONS, write_image
from .overlays import render
from .results import FrameResult


class JsonLinesWriter:
    """One JSON object per frame, one per line (the CLI contract's schema)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, result: FrameResult) -> None:
        self.stream.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


def _stem(source: str) -> str:
    if source.startswith("webcam:"):
        return "webcam" + source.split(":", 1)[1]
    return Path(source).stem or "image"


class JsonLinesFileWriter(JsonLinesWriter):
    """``--save-as jsonl``: the ``--json`` lines in ``DIR/results.jsonl``."""

    def __init__(self, out_dir: str | Path) -> None:
        path = Path(out_dir) / "results.jsonl"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            super().__init__(open(path, "w", encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc.strerror})") from None
        self.written = [path]

    def close(self) -> None:
        self.stream.close()


def is_stream(source: str) -> bool:
    """Whether a result's source is a video or camera (written as a video, not stills)."""
    return source.startswith("webcam:") or Path(source).suffix.lower() in VIDEO_EXTENSIONS


def stem_of(source: str) -> str:
    """The file stem outputs for a source are named after (``webcam0`` for a camera)."""
    return _stem(source)


class AnnotatedWriter:
    """Annotated stills as ``DIR/<stem>.png``; frames of a video or camera as ``DIR/<stem>.mp4``."""

    def __init__(self, out_dir: str | Path, fps: float = 25.0) -> None:
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{out_dir}: cannot create output folder ({exc.strerror})") from None
        self.fps = fps
        self._videos: dict[str, cv2.VideoWriter] = {}
        self._used: set[str] = set()
        self.written: list[Path] = []

    def _unique(self, stem: str, suffix: str) -> Path:
        name, n = stem, 1
        while name in self._used:
            n += 1
            name = f"{stem}_{n}"
        self._used.add(name)
        return self.out_dir / f"{name}{suffix}"

    def write(self, result: FrameResult) -> None:
        if not result.results or result.image is None:
            return
        canvas = render(result)
        if not is_stream(result.source):
            path = self._unique(_stem(result.source), ".png")
            write_image(path, canvas)
            self.written.append(path)
            return
        writer = self._videos.get(result.source)
        if writer is None:
            path = self._unique(_stem(result.source), ".mp4")
            h, w = canvas.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise InputError(f"{path}: cannot open a video writer")
            self._videos[result.source] = writer
            self.written.append(path)
        writer.write(np.ascontiguousarray(canvas[..., ::-1]))

    def close(self) -> None:
        for writer in self._videos.values():
            writer.release()
        self._videos.clear()

    def __enter__(self) -> "AnnotatedWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SaveWriters:
    """Every writer ``--save DIR`` uses, fed each result in turn.

    :param formats: writer names (``["images", "coco"]``); None for the defaults of ``tasks``.
    :param tasks: the tasks that run (choose the defaults, and check a named format fits).
    """

    def __init__(self, out_dir: str | Path, tasks: list[str], formats: list[str] | None = None) -> None:
        from .plugin_manager import get_plugins
        from .registry import load_object

        registry = get_plugins().writers
        if formats is None:
            specs = registry.defaults_for(tasks)
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
                specs.append(spec)
        self.out_dir = Path(out_dir)
        self.writers = []
        try:
            for spec in specs:
                cls = load_object(spec.factory)
                if not callable(cls):
                    raise PluginError(f"plugin {spec.plugin!r}: writer {spec.factory} is not a class")
                self.writers.append(cls(self.out_dir))
        except BaseException:
            self.close()
            raise
        self.names = [s.name for s in specs]

    @property
    def written(self) -> list[Path]:
        return [p for w in self.writers for p in getattr(w, "written", [])]

    def write(self, result: FrameResult) -> None:
        for writer in self.writers:
            writer.write(result)

    def close(self) -> None:
        for writer in getattr(self, "writers", []):
            writer.close()

    def __enter__(self) -> "SaveWriters":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
