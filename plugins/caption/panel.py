"""The desktop app's caption panel: every caption with its score, each word a link.

Clicking a word asks the canvas to show where that word looked (the panel emits the word's
place among all the captions' words, :meth:`visionkit.results.Caption.word_at`, which the
caption painter receives as ``highlight``); clicking it again clears it. The captions are rich
text, so long ones wrap in a narrow panel. Qt lives here only: the GUI imports this module
through the ``PanelSpec`` factory string.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

HINT = "Click a word to see where it looked; click it again to clear."


class CaptionPanel(QWidget):
    """A summary line, the captions (best first) as rows of word links, and a hint."""

    highlight_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.highlighted: int | None = None
        self.summary = QLabel("Waiting for a frame…", self)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.text = QLabel(self)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.text.linkActivated.connect(lambda link: self.pick(int(link)))
        self.hint = QLabel(HINT, self)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.summary, self.text, self.hint):
            layout.addWidget(w)

    def update_result(self, result: Any, frame_result: Any = None) -> None:
        same = self.result is not None and tuple(self.result.words) == tuple(result.words)
        self.result = result
        if not same and self.highlighted is not None and result.word_at(self.highlighted) is None:
            self.highlighted = None
            self.highlight_requested.emit(None)
        n = len(result.texts)
        self.summary.setText(f"{n} caption{'s' if n != 1 else ''}" if n else "No caption for this frame.")
        self.hint.setVisible(bool(n) and bool(result.attention))
        self._fill()

    def pick(self, index: int | None) -> None:
        """Highlight the ``index``-th word of all captions (again: clear), as a click does."""
        self.highlighted = None if index is None or index == self.highlighted else index
        self.highlight_requested.emit(self.highlighted)
        self._fill()

    def _fill(self) -> None:
        r = self.result
        rows = []
        for i, (words, score) in enumerate(zip(r.words, r.scores)):
            links = []
            for j, word in enumerate(words):
                k = r.word_index(i, j)
                text = html.escape(word)
                if k == self.highlighted:
                    text = f"<b><u>{text}</u></b>"
                links.append(f'<a href="{k}" style="text-decoration:none">{text}</a>')
            rows.append(f"<p>{float(score):.2f}&nbsp;&nbsp;{' '.join(links)}</p>")
        self.text.setText("".join(rows))

    def captions(self) -> list[tuple[str, float]]:
        """What is shown: ``[(caption, score), ...]``, best first."""
        r = self.result
        return [] if r is None else [(t, float(s)) for t, s in zip(r.texts, r.scores)]
