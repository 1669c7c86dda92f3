"""Saving and copying what is on show, and exporting a whole video, in the CLI's formats.

* the annotated image: the canvas as shown (overlays of the visible layers), any image suffix
* results: one JSON object per line, the schema of ``visionkit predict --json``
  (:class:`visionkit.writers.JsonLinesWriter`)
* a video: every frame run through a pipeline of its own in a background thread, written as
  an annotated ``.mp4`` plus a ``.jsonl`` of every frame's results beside it; cancellable
* the clipboard: the annotated image and the JSON text together
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QMimeData, QObject, Signal, Slot
from PySide6.QtGui import QGuiApplication

from visionkit.errors import InputError, UsageError
from visionkit.imageio import write_image
from visionkit.overlays import render
from visionkit.results import FrameResult
from visionkit.writers import JsonLinesWriter

from .canvas import to_qimage
from .threads import leave_thread, one_line
from .worker import Config, build_pipeline


def save_image(rendered: np.ndarray, path: str | Path) -> Path:
    return write_image(path, rendered)


def save_json(results: list[FrameResult], path: str | Path) -> Path:
    path = Path(path)
    try:
        with path.open("w", encoding="utf-8") as stream:
            writer = JsonLinesWriter(stream)
            for result in results:
                writer.write(result)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
    return path


def copy_to_clipboard(rendered: np.ndarray | None, result: FrameResult | None) -> None:
    mime = QMimeData()
    if rendered is not None:
        mime.setImageData(to_qimage(rendered))
    if result is not None:
        mime.setText(json.dumps(result.to_dict()))
    QGuiApplication.clipboard().setMimeData(mime)


class VideoExport(QObject):
    """Runs in its own thread (``start_in_thread(export, name, export.run)``)."""

    progress = Signal(int, object)  # frames done, frames expected (or None)
    done = Signal(str)  # what was written
    failed = Signal(str)

    def __init__(self, config: Config, source: str, out: str | Path, hidden: set[str], fps: float | None,
                 expected: int | None = None) -> None:
        super().__init__()
        self.config, self.source, self.out = config, source, Path(out)
        self.hidden, self.fps, self.expected = set(hidden), fps or 25.0, expected
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        writer, stream, frames = None, None, 0
        try:
            pipeline, dropped, _ = build_pipeline(self.config)
            if pipeline is None:
                raise UsageError("turn on a task that loads before exporting a video")
            stream = self.out.with_suffix(".jsonl").open("w", encoding="utf-8")
            json_out = JsonLinesWriter(stream)
            for result in pipeline.stream(self.source):
                if self._cancel.is_set():
                    break
                if result.results:
                    json_out.write(result)
                if result.image is not None:
                    canvas = render(result, tasks=[t for t in result.results if t not in self.hidden
                                                   and (result.shown is None or t in result.shown)])
                    if writer is None:
                        h, w = canvas.shape[:2]
                        writer = cv2.VideoWriter(str(self.out), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                        if not writer.isOpened():
                            raise InputError(f"{self.out}: cannot open a video writer")
                    writer.write(np.ascontiguousarray(canvas[..., ::-1]))
                frames += 1
                if frames % 10 == 0:
                    self.progress.emit(frames, self.expected)
            what = "cancelled after" if self._cancel.is_set() else "wrote"
            outcome = (self.done, f"{what} {frames} frames: {self.out} and {self.out.with_suffix('.jsonl').name}")
        except Exception as exc:
            outcome = (self.failed, f"video export failed: {one_line(exc)}")
        finally:
            if writer is not None:
                writer.release()
            if stream is not None:
                stream.close()
            leave_thread(self)
        # told only now, when the files are whole and this object is back in the main thread: the
        # main thread answering "done" (disconnecting, say) while this thread still moved the
        # object could deadlock, each holding what the other waited for (Qt's lock, Python's GIL)
        signal, text = outcome
        signal.emit(text)
