"""Text that fits the room it gets: a label and a combo box that shorten what they show with "…"
instead of growing the window or being cut off, and offer the whole text as their tooltip.

Model file names and status lines are as long as the user's files make them; the window's
layout must not depend on them.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QWidget,
)

#: however narrow, a shortened text keeps about this many characters
MIN_CHARS = 6


class ElidedLabel(QLabel):
    """One line of text, shortened at ``mode`` (right, middle, left) to the label's width.

    ``text()`` is the whole text; ``shown_text()`` what is on screen. The tooltip is ``tip``,
    followed by the whole text whenever it is shortened.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, tip: str = "",
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        super().__init__(text, parent)
        self._tip, self._mode = tip, mode
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._update_tip()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setText(text)
        self._update_tip()

    def set_tip(self, tip: str) -> None:
        self._tip = tip
        self._update_tip()

    def shown_text(self) -> str:
        return self.fontMetrics().elidedText(self.text(), self._mode, max(0, self.contentsRect().width()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        least = self.fontMetrics().horizontalAdvance("x" * MIN_CHARS + "…") + self.margin() * 2
        return QSize(min(hint.width(), least), hint.height())

    def _update_tip(self) -> None:
        parts = [self._tip] if self._tip else []
        if self.text() and self.shown_text() != self.text():
            parts.append(self.text())
        self.setToolTip("\n".join(parts))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment()) | int(Qt.AlignmentFlag.AlignVCenter),
                         self.shown_text())
        painter.end()


class ElidingComboBox(QComboBox):
    """A combo box whose current item is shortened in the middle (a file name keeps its start
    and its end) when the box is narrower than the text; the list shows whole names, and the
    tooltip names the current item in full."""

    def __init__(self, parent: QWidget | None = None, *, tip: str = "") -> None:
        super().__init__(parent)
        self._tip = tip
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(MIN_CHARS)
        self.currentIndexChanged.connect(lambda _: self.refresh_tip())
        self.refresh_tip()

    def shown_text(self) -> str:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideMiddle, field.width())

    def refresh_tip(self) -> None:
        """Name the current item in the tooltip (call after changing its tooltip data)."""
        whole = self.itemData(self.currentIndex(), Qt.ItemDataRole.ToolTipRole) or self.currentText()
        self.setToolTip("\n".join(t for t in (whole, self._tip) if t))

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)
