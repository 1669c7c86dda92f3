"""Non-modal messages: a bar above the canvas with the one-line reason; the app keeps running.

Nothing here blocks (no dialog boxes for errors): the bar shows the newest message, counts
repeats, and hides itself after a while or when closed. A message about one frame (it could not
be read, a task failed on it) goes as soon as a frame shows without trouble: it no longer
describes what is on screen. Every message is also kept in ``history`` (and on the status bar
tooltip) so none is lost.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

_COLOURS = {  # level -> (background, text, border)
    "error": ("#5c1f1f", "#ffecec", "#aa3333"),
    "info": ("#1f3b5c", "#eaf3ff", "#3a6ea5"),
}


class MessageBar(QFrame):
    """Shows one message at a time; ``show_message`` may be called as often as needed."""

    shown = Signal(str)
    HIDE_AFTER_MS = 12000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: list[str] = []
        self._repeats = 0
        self._about_frame = False  # the message on show is about the frame on show
        self._label = QLabel(self)
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss (Esc)")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    def show_message(self, text: str, level: str = "error", *, about_frame: bool = False) -> None:
        """Show ``text``; ``about_frame``: it is about the frame on show, and goes with it."""
        text = " ".join(str(text).split())
        if self.history and self.history[-1] == text and self.isVisible():
            self._repeats += 1
            shown = f"{text}  (×{self._repeats + 1})"
        else:
            self._repeats = 0
            shown = text
        self.history.append(text)
        self._about_frame = about_frame
        self._label.setText(shown)
        self._label.setToolTip(text)
        bg, fg, border = _COLOURS.get(level, _COLOURS["error"])
        self.setStyleSheet(f"MessageBar {{ background:{bg}; border:1px solid {border}; border-radius:4px; }}"
                           f" QLabel {{ color:{fg}; }} QToolButton {{ color:{fg}; }}")
        self.show()
        self._timer.start(self.HIDE_AFTER_MS)
        self.shown.emit(text)

    def text(self) -> str:
        """The message on show ("" when hidden)."""
        return self._label.text() if self.isVisible() else ""

    def frame_ok(self) -> None:
        """A frame showed without trouble: a message about an earlier frame goes."""
        if self._about_frame and self.isVisible():
            self.dismiss()

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
