"""The desktop app's detection panel: a table of boxes; selecting a row highlights its box.

Qt lives here and nowhere else in this plugin: only the GUI imports this module (through the
``PanelSpec`` factory string), so ``import visionkit`` and the predict path never load PySide6.

Highlight: selecting a row (click, or the Up/Down keys) emits ``highlight_requested(index)``
with the detection's index in the result; the panel host routes it to the canvas, which draws
that box thick and on top and dims the others. Clicking the selected row again, or an empty
part of the table, emits ``None`` (no highlight).

On a new frame the highlight follows the object, not the row number: it moves to the new
detection of the same class that overlaps the highlighted box most (IoU at least
:data:`FOLLOW_IOU`), so it survives a video's next frame, a re-sorted result or a changed
threshold; when no such detection is left it is cleared.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget
from visionkit.gui.panels import DeselectingView, SortedTablePanel

from visionkit.boxes import best_match
from visionkit.overlays import class_colour

#: the least overlap (intersection over union) with the highlighted box for a detection of the
#: next frame to take over the highlight
COLUMNS = ("#", "label", "score", "x1,\u2009y1,\u2009x2,\u2009y2")
INDEX, LABEL, SCORE, BOX = range(4)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_VISIBLE_ROWS = 10


class DetectionsModel(QAbstractTableModel):
    """One row per detection, in the result's order (row == index in the result)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None

    def set_result(self, result: Any) -> None:
        old = self.rowCount()
        if result is not None and old and len(result) == old:
            self.result = result  # same row count: keep the view's scroll position and sort
            self.dataChanged.emit(self.index(0, 0), self.index(old - 1, len(COLUMNS) - 1))
        else:
            self.beginResetModel()
            self.result = result
            self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() or self.result is None else len(self.result)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return ("index in the result (as in --json)", "class", "confidence",
                        "the box's corners in image pixels")[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.result is None:
            return None
        row, col, r = index.row(), index.column(), self.result
        if role == Qt.ItemDataRole.DisplayRole:
            if col == INDEX:
                return str(row)
            if col == LABEL:
                return r.labels[row]
            if col == SCORE:
                return f"{float(r.scores[row]):.3f}"
            return ",\u2009".join(str(round(float(v))) for v in r.boxes[row])  # thin spaces: it fits
        if role == SORT_ROLE:
            if col == INDEX:
                return row
            if col == LABEL:
                return r.labels[row].casefold()
            if col == SCORE:
                return float(r.scores[row])
            x1, y1, x2, y2 = (float(v) for v in r.boxes[row])
            return (x2 - x1) * (y2 - y1)  # by area
        if role == Qt.ItemDataRole.DecorationRole and col == LABEL:
            return QColor(*class_colour(r.labels[row]))
        if role == Qt.ItemDataRole.TextAlignmentRole and col != LABEL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            x1, y1, x2, y2 = (float(v) for v in r.boxes[row])
            return (f"#{row} {r.labels[row]} (class {int(r.class_ids[row])}), score {float(r.scores[row]):.4f}\n"
                    f"x1 {x1:.1f}, y1 {y1:.1f}, x2 {x2:.1f}, y2 {y2:.1f} ({x2 - x1:.0f} × {y2 - y1:.0f} px)")
        return None


class DetectionsTable(DeselectingView, QTableView):
    """A row-selecting table where clicking the selected row, or below the rows, deselects."""


class DetectionsPanel(SortedTablePanel):
    """How many objects, and a sortable table of them (index, label, score, box)."""

    hint_text = "Click a row (or use ↑/↓) to highlight its box; click it again to clear."
    empty_text = "No objects found in this frame."

    def _build_view(self) -> DetectionsTable:
        self.model = DetectionsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = DetectionsTable(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(SCORE, Qt.SortOrder.DescendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        self.table.setIconSize(QSize(10, 10))  # the class swatch
        self.table.verticalHeader().hide()
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        for col in (INDEX, LABEL, SCORE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(BOX, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(24)
        # too narrow a dock scrolls the table sideways: keep every row visible all the same
        self.table.horizontalScrollBar().rangeChanged.connect(lambda low, high: self._fit_height())
        return self.table

    # -- for users of the panel (and tests) ---------------------------------------------------
    def rows(self) -> list[tuple[int, str, float, tuple[float, float, float, float]]]:
        """What the table shows, in its current order: ``(index, label, score, box)``."""
        out = []
        for row in range(self.proxy.rowCount()):
            i = self.proxy.mapToSource(self.proxy.index(row, 0)).row()
            out.append((i, self.result.labels[i], float(self.result.scores[i]),
                        tuple(float(v) for v in self.result.boxes[i])))
        return out

    # -- the base class's hooks ---------------------------------------------------------------
    def _follow(self, previous: Any, index: int | None, result: Any) -> int | None:
        if previous is None or index is None or index >= len(previous):
            return None
        return best_match(result.boxes, result.class_ids, np.asarray(previous.boxes[index], np.float64),
                          int(previous.class_ids[index]))

    def _fill(self, result: Any, previous: Any, keep: int | None) -> None:
        self.model.set_result(result)

    def _count_text(self, result: Any) -> str:
        n = len(result)
        kinds = ", ".join(f"{c} {label}" for label, c in Counter(result.labels).most_common())
        return f"{n} object{'s' if n != 1 else ''}: {kinds}"

    def _fit_height(self) -> None:
        """As tall as its rows (at most :data:`MAX_VISIBLE_ROWS`), plus a sideways scroll bar."""
        rows = min(self.model.rowCount(), MAX_VISIBLE_ROWS)
        if not rows:
            return
        bar = self.table.horizontalScrollBar()
        height = (self.table.horizontalHeader().sizeHint().height()
                  + rows * self.table.verticalHeader().defaultSectionSize() + 2 * self.table.frameWidth()
                  + (bar.sizeHint().height() if bar.maximum() > bar.minimum() else 0))
        if height != self.table.height():
            self.table.setFixedHeight(height)
