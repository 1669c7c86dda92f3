"""The desktop app's classification panel: the top-k classes as probability bars.

Qt lives here and nowhere else in this plugin: only the GUI imports this module (through the
``PanelSpec`` factory string), so ``import visionkit`` and the predict path never load PySide6.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from visionkit.overlays import class_colour


class ProbabilityPanel(QWidget):
    """One row per reported class: label, a bar as long as its probability, the value."""

    ROW = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float, int]] = []
        self._of = 0  # how many classes the model has
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(160)

    def update_result(self, result: Any, frame_result: Any = None) -> None:
        rows = list(zip(result.labels, (float(s) for s in result.scores), result.class_ids))
        probs = getattr(result, "probabilities", None)
        self._of = int(probs.size) if probs is not None else len(rows)
        if rows != self._rows:
            self._rows = rows
            self.setToolTip("\n".join(f"{lab}: {s:.4f}" for lab, s, _ in rows)
                            + f"\n(top {len(rows)} of {self._of} classes)")
            self.updateGeometry()
            self.update()

    def rows(self) -> list[tuple[str, float]]:
        """What is shown, best first: ``[(label, probability), ...]``."""
        return [(label, score) for label, score, _ in self._rows]

    def sizeHint(self) -> QSize:
        return QSize(240, max(1, len(self._rows)) * self.ROW + 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        width = self.width()
        widest = max((metrics.horizontalAdvance(label) for label, _, _ in self._rows), default=0)
        label_w = int(min(widest + 10, width * 0.45))
        value_w = metrics.horizontalAdvance("0.000") + 10
        bar_w = max(10, width - label_w - value_w - 8)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        trough = self.palette().color(QPalette.ColorRole.Mid)
        for i, (label, score, _) in enumerate(self._rows):
            y = 4 + i * self.ROW
            h = self.ROW - 6
            painter.setPen(text)
            elided = metrics.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 6)
            painter.drawText(QRectF(4, y, label_w - 6, h),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(trough)
            painter.drawRoundedRect(QRectF(label_w, y + 2, bar_w, h - 4), 3, 3)
            painter.setBrush(QColor(*class_colour(label)))
            painter.drawRoundedRect(QRectF(label_w, y + 2, bar_w * min(max(score, 0.0), 1.0), h - 4), 3, 3)
            painter.setPen(text)
            painter.drawText(QRectF(label_w + bar_w + 4, y, value_w, h),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{score:.3f}")
        painter.end()
