"""Source control under the canvas: previous/next, play/pause, step, seek, speed, camera.

The bar only emits what the user asked for; the main window turns that into worker
commands. What it offers follows the open media: stills go back and forth, a video also
plays, steps and seeks, a camera plays and pauses.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QStyle,
                               QToolButton, QWidget)

SPEEDS = (("1×", 1.0), ("2×", 2.0), ("½×", 0.5), ("max", 0.0))


class PlayerBar(QWidget):
    go = Signal(int)  # show item / seek to frame
    step = Signal(int)  # -1 or +1
    play = Signal(bool)
    speed = Signal(float)
    camera = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        icon = self.style().standardIcon
        self._prev = self._button(icon(QStyle.StandardPixmap.SP_MediaSkipBackward), "Previous (Left)",
                                  lambda: self.step.emit(-1))
        self._play = self._button(icon(QStyle.StandardPixmap.SP_MediaPlay), "Play / pause (Space)", self._toggle)
        self._play.setCheckable(True)
        self._next = self._button(icon(QStyle.StandardPixmap.SP_MediaSkipForward), "Next (Right)",
                                  lambda: self.step.emit(1))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setTracking(True)
        self.slider.valueChanged.connect(self._slid)
        self.position = QLabel("–", self)
        self.position.setMinimumWidth(110)
        self._speed = QComboBox(self)
        self._speed.setToolTip("Playback speed (max: as fast as inference allows)")
        for text, value in SPEEDS:
            self._speed.addItem(text, value)
        self._speed.currentIndexChanged.connect(lambda i: self.speed.emit(float(self._speed.itemData(i))))
        self.camera_index = QSpinBox(self)
        self.camera_index.setRange(0, 63)
        self.camera_index.setPrefix("camera ")
        open_camera = QPushButton("Open", self)
        open_camera.setToolTip("Open this camera (Ctrl+K); it keeps only its newest frame")
        open_camera.clicked.connect(lambda: self.camera.emit(self.camera_index.value()))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self._prev, self._play, self._next):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self._speed)
        layout.addSpacing(12)
        layout.addWidget(self.camera_index)
        layout.addWidget(open_camera)
        self._quiet = False
        self._position = -1
        self.set_media("none", None)

    def _button(self, icon, tip: str, slot) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _toggle(self) -> None:
        self.play.emit(self._play.isChecked())

    def _slid(self, value: int) -> None:
        if not self._quiet:
            self.go.emit(value)

    # -- the window tells the bar what is open and where it is -----------------------------------
    def set_media(self, kind: str, count: int | None) -> None:
        self.kind = kind
        self._prev.setEnabled(kind in ("stills", "video"))
        self._next.setEnabled(kind in ("stills", "video", "stream"))
        self._play.setEnabled(kind in ("video", "live", "stream"))
        self._speed.setEnabled(kind == "video")
        self.slider.setEnabled(kind in ("stills", "video") and bool(count and count > 1))
        self.set_position(-1, count)

    def set_count(self, count: int | None) -> None:
        """The real length of what is open, found by reading it: the bar keeps its place."""
        self.slider.setEnabled(self.kind in ("stills", "video") and bool(count and count > 1))
        self.set_position(self._position, count)

    def set_position(self, position: int, count: int | None) -> None:
        self._position = position
        self._quiet = True
        try:
            self.slider.setRange(0, max(0, (count or 1) - 1))
            if position >= 0:
                self.slider.setValue(position)
        finally:
            self._quiet = False
        if position < 0:
            self.position.setText("–")
        elif self.kind == "live":
            self.position.setText(f"frame {position}")
        else:
            self.position.setText(f"{position + 1} / {count if count is not None else '?'}")

    def set_playing(self, playing: bool) -> None:
        self._play.setChecked(playing)
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self._play.setIcon(self.style().standardIcon(icon))

    def toggle_play(self) -> None:
        if self._play.isEnabled():
            self._play.setChecked(not self._play.isChecked())
            self._toggle()
