"""The desktop app's Style panel: what styled the picture, and a before/after split.

With "compare" on, the slider moves a split across the canvas: the frame as it came on the
left, the styled picture on the right (the panel emits the split as its highlight, which the
style painter draws). Strength, keep_colours and size are the task's options in the task list.
Qt lives here only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QSlider, QVBoxLayout, QWidget

from visionkit.plugins.style.painter import SPLIT_STEPS


class StylePanel(QWidget):
    """A summary line, and the before/after split."""

    highlight_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.summary, self.compare, self.split):
            layout.addWidget(w)

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
