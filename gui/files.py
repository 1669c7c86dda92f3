"""The main window's file commands: open (dialogs, drag and drop, clipboard, camera), save,
copy, export. Each dialog method has a dialog-free twin (``save_image_to(path)``, ...) that
tests and scripts call directly. Failures go to the message bar; nothing here blocks on work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QFileDialog

from visionkit.errors import VisionkitError
from visionkit.imageio import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from visionkit.sources import ArraySource

from .canvas import from_qimage
from .export import VideoExport, copy_to_clipboard, save_image, save_json
from .threads import start_in_thread

_MEDIA = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
OPEN_FILTER = f"Images and videos ({_MEDIA});;All files (*)"


class FileCommands:
    """Mixed into MainWindow (uses its worker, canvas, settings and messages)."""

    # -- opening --------------------------------------------------------------------------------
    def open_source(self, spec: Any) -> None:
        """Open a path, several paths, a folder, a glob, a camera index or an RGB array."""
        first = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
        if isinstance(first, (str, os.PathLike)) and os.path.exists(first):
            folder = first if os.path.isdir(first) else os.path.dirname(os.path.abspath(first))
            self.settings.last_folder = folder
        self.worker.open(spec)

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images or a video", self.settings.last_folder,
                                                OPEN_FILTER)
        if paths:
            self.open_source(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", self.settings.last_folder)
        if folder:
            self.open_source(folder)

    def open_camera(self) -> None:
        self.open_source(self.player.camera_index.value())

    def open_mime(self, mime: QMimeData) -> bool:
        """Files (or a folder) dropped or pasted, else an image; False when there is neither."""
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        text = mime.text().strip() if mime.hasText() else ""
        if not paths and text and "\n" not in text and os.path.exists(text):
            paths = [text]
        if paths:
            self.open_source(paths)
            return True
        if mime.hasImage():
            image = mime.imageData()
            if isinstance(image, QPixmap):
                image = image.toImage()
            if isinstance(image, QImage) and not image.isNull():
                self.worker.open(ArraySource(from_qimage(image), name="clipboard"))
                return True
        return False

    def paste(self) -> None:
        if not self.open_mime(QGuiApplication.clipboard().mimeData()):
            self.show_error("clipboard: holds no image, file or folder to open")

    # -- saving ---------------------------------------------------------------------------------
    def _suggest(self, suffix: str) -> str:
        source = self.shown.result.source if self.shown else "image"
        stem = Path(source).stem if not source.startswith("webcam:") else source.replace(":", "")
        return str(Path(self.settings.last_folder or ".") / f"{stem or 'image'}_visionkit{suffix}")

    def save_image_dialog(self) -> None:
        if self.canvas.rendered is None:
            return self.show_error("nothing to save yet: open an image first")
        path, _ = QFileDialog.getSaveFileName(self, "Save annotated image", self._suggest(".png"),
                                              "PNG (*.png);;JPEG (*.jpg)")
        if path:
            self.save_image_to(path)

    def save_image_to(self, path: str | Path) -> bool:
        """The canvas as shown (visible layers' overlays) to an image file."""
        if self.canvas.rendered is None:
            self.show_error("nothing to save yet: open an image first")
            return False
        try:
            save_image(self.canvas.rendered, path)
        except VisionkitError as exc:
            self.show_error(str(exc))
            return False
        self.show_info(f"saved {path}")
        return True

    def save_json_dialog(self) -> None:
        if self.shown is None:
            return self.show_error("no results to save yet")
        path, _ = QFileDialog.getSaveFileName(self, "Save results as JSON lines", self._suggest(".jsonl"),
                                              "JSON lines (*.jsonl *.json)")
        if path:
            self.save_json_to(path)

    def save_json_to(self, path: str | Path) -> bool:
        """The frame on show, as one line of ``visionkit predict --json``."""
        if self.shown is None:
            self.show_error("no results to save yet")
            return False
        try:
            save_json([self.shown.result], path)
        except VisionkitError as exc:
            self.show_error(str(exc))
            return False
        self.show_info(f"saved {path}")
        return True

    def copy(self) -> None:
        if self.shown is None:
            return self.show_error("nothing to copy yet")
        copy_to_clipboard(self.canvas.rendered, self.shown.result)
        self.statusBar().showMessage("copied the annotated image and its JSON", 3000)

    # -- exporting a video ----------------------------------------------------------------------
    def export_video_dialog(self) -> None:
        if self.media is None or self.media.kind != "video":
            return self.show_error("export needs an open video (for images use Save, Ctrl+S)")
        path, _ = QFileDialog.getSaveFileName(self, "Export annotated video", self._suggest(".mp4"), "MP4 (*.mp4)")
        if path:
            self.export_video_to(path)

    def export_video_to(self, path: str | Path) -> VideoExport | None:
        """Run every frame of the open video in the background; writes PATH and PATH.jsonl."""
        if self.media is None or self.media.kind != "video":
            self.show_error("export needs an open video")
            return None
        if self._export is not None:
            self.show_error("an export is already running")
            return None
        export = VideoExport(self.tasks_panel.config(self._options), self.media.name, path,
                             self.canvas.hidden, self.media.fps, self.media.count)
        export.progress.connect(lambda done, total: self.statusBar().showMessage(
            f"exporting: frame {done}" + (f" of {total}" if total else "")))
        export.done.connect(self.show_info)
        export.failed.connect(self.show_error)
        self._export = export
        self._export_thread = start_in_thread(export, "visionkit export", export.run)
        self._export_thread.finished.connect(self._export_finished)
        return export

    def _export_finished(self) -> None:
        self._export = self._export_thread = None
        self.statusBar().clearMessage()

    def cancel_export(self, wait: bool = False) -> None:
        if self._export is not None:
            self._export.cancel()
            if wait and self._export_thread is not None:
                self._export_thread.wait(15000)
