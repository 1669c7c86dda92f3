"""The desktop app's Style panel: what to paint with, how strongly, and a before/after split.

The style is a built-in painting (the list), a picture file ("Picture…", or dropped on the
panel) for the arbitrary-style network, or a fast style network's ``.onnx`` ("Model…", or
dropped): the panel emits ``option_requested("style", value)`` and the app applies it as the
task list would, on stills, videos and the webcam alike. The strength slider asks once where
it is let go. With "compare" on, a second slider moves a split across the canvas: the frame as
it came on the left, the styled picture on the right (emitted as the highlight, which the style
painter draws). Qt lives here only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from visionkit.errors import VisionkitError
from visionkit.plugins.style.arbitrary import style_picture
from visionkit.plugins.style.painter import SPLIT_STEPS
from visionkit.plugins.style.paintings import KINDS

#: what the list offers besides the picture or model chosen last
OWN = "the model's own"
PICTURES = "Pictures (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
THUMB = 96
STRENGTH_STEPS = 100


def thumbnail(value: str) -> QPixmap | None:
    """A small view of a style as the network sees it (a painting at the side it is drawn at,
    a picture as read and cut); None for a model, or a picture that cannot be a style."""
    if not value or value.lower().endswith(".onnx"):
        return None
    try:
        picture = style_picture(value)[1]
    except VisionkitError:  # the task says why when it is asked to paint it
        return None
    h, w = picture.shape[:2]
    s = THUMB / max(h, w)
    rgb = np.ascontiguousarray(cv2.resize(picture, (max(1, round(w * s)), max(1, round(h * s))),
                                          interpolation=cv2.INTER_AREA))
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image)


class StylePanel(QWidget):
    """Style pickers, a strength slider, a summary line, and the before/after split."""

    highlight_requested = Signal(object)
    option_requested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.style_list = QComboBox(self)
        self.style_list.addItem(OWN, "")
        for kind in KINDS:
            self.style_list.addItem(kind, kind)
        self.style_list.setToolTip("a built-in painting for the arbitrary-style network, or the picture or model "
                                   "chosen last; drop a picture or an .onnx on this panel to use it")
        self.style_list.activated.connect(lambda i: self.option_requested.emit("style", self.style_list.itemData(i)))
        self.picture = QPushButton("Picture…", self)
        self.picture.setToolTip("paint in the style of any picture (the arbitrary-style network)")
        self.picture.clicked.connect(self._choose_picture)
        self.model = QPushButton("Model…", self)
        self.model.setToolTip("a fast style network (.onnx with a card whose output is image)")
        self.model.clicked.connect(self._choose_model)
        self.preview = QLabel(self)
        self._previewed: str | None = None  # the style the preview shows
        self.preview.setFixedSize(THUMB, THUMB)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.strength = QSlider(Qt.Orientation.Horizontal, self)
        self.strength.setRange(0, STRENGTH_STEPS)
        self.strength.setValue(STRENGTH_STEPS)
        self.strength.setTracking(False)  # one new picture where the slider is let go
        self.strength.setToolTip("0: the frame as it is; 1: fully in the style")
        self.strength.valueChanged.connect(
            lambda v: self.option_requested.emit("strength", round(v / STRENGTH_STEPS, 2)))
        self.summary = QLabel("Waiting for a frame…", self)
        self.summary.setWordWrap(True)
        self.compare = QCheckBox("compare with the original", self)
        self.split = QSlider(Qt.Orientation.Horizontal, self)
        self.split.setRange(0, SPLIT_STEPS)
        self.split.setValue(SPLIT_STEPS // 2)
        self.split.setEnabled(False)
        self.split.setToolTip("left of the line: the frame as it came; right: the styled picture")
        self.compare.toggled.connect(self._toggled)
        self.split.valueChanged.connect(lambda v: self.compare.isChecked() and self.highlight_requested.emit(int(v)))
        buttons = QHBoxLayout()
        buttons.addWidget(self.picture)
        buttons.addWidget(self.model)
        form = QFormLayout()
        form.addRow("style", self.style_list)
        form.addRow("", buttons)
        form.addRow("strength", self.strength)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        for w in (self.summary, self.compare, self.split):
            layout.addWidget(w)

    # -- choosing a style ------------------------------------------------------------------------
    def _choose_picture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style picture", "", PICTURES)
        if path:
            self.request_style(path)

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style network", "", "ONNX models (*.onnx)")
        if path:
            self.request_style(path)

    def request_style(self, value: str) -> None:
        """Use ``value`` (a painting's name, a picture or a model file) as the style."""
        self._show_style(value)
        self.option_requested.emit("style", value)

    def _show_style(self, value: str) -> None:
        index = self.style_list.findData(value)
        if index < 0:
            self.style_list.addItem(Path(value).name, value)
            index = self.style_list.count() - 1
            self.style_list.setItemData(index, value, Qt.ItemDataRole.ToolTipRole)
        self.style_list.setCurrentIndex(index)
        if value == self._previewed:  # the options changed, not the style: the picture stands
            return
        self._previewed = value
        pixmap = thumbnail(value)
        self.preview.setPixmap(pixmap if pixmap is not None else QPixmap())
        self.preview.setVisible(pixmap is not None)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.request_style(files[0])
            event.acceptProposedAction()

    # -- what the task does -----------------------------------------------------------------------
    def show_options(self, options: dict[str, Any]) -> None:
        """Show the task's options in force (set in the task list, or restored), silently."""
        self.style_list.blockSignals(True)
        self._show_style(str(options.get("style", "")))
        self.style_list.blockSignals(False)
        self.strength.blockSignals(True)
        self.strength.setValue(round(float(options.get("strength", 1.0)) * STRENGTH_STEPS))
        self.strength.blockSignals(False)

    def _toggled(self, on: bool) -> None:
        self.split.setEnabled(on)
        self.highlight_requested.emit(int(self.split.value()) if on else None)

    def update_result(self, result: Any, frame_result: Any = None) -> None:
        h, w = result.image.shape[:2]
        ms = result.info.get("postprocess_ms") if isinstance(result.info, dict) else None
        self.summary.setText(f"{w}x{h} in the style of {result.style or '?'}" + (f" ({ms:.0f} ms after the network)"
                                                                                if ms is not None else ""))
        if self.compare.isChecked():  # the split stays where it was on the next frame
            self.highlight_requested.emit(int(self.split.value()))
