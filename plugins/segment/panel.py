"""The desktop app's segmentation panel: the classes present, their colours and areas.

Qt lives here and nowhere else in this plugin: only the GUI imports this module (through the
``PanelSpec`` factory string), so ``import visionkit`` and the predict path never load PySide6.
Each class's swatch is :func:`visionkit.overlays.class_colour` of its name, the colour the overlay
paints its pixels with (and every other task its objects of that name).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from visionkit.overlays import class_colour

COLUMNS = ("class", "pixels", "% of image")
MAX_VISIBLE_ROWS = 10


def class_areas(result: Any) -> list[tuple[int, str, int, float]]:
    """``(class_id, name, pixels, fraction of the image)`` per class present, background (id 0)
    left out, largest first (ties: lower id first)."""
    label_map = np.asarray(result.label_map)
    total = max(1, label_map.size)
    counts = np.bincount(label_map.ravel(), minlength=len(result.class_names))
    names = result.class_names
    rows = [(int(i), names[i] if i < len(names) else str(i), int(n), int(n) / total)
            for i, n in enumerate(counts) if n and i != 0]
    return sorted(rows, key=lambda r: (-r[2], r[0]))


def percent(fraction: float) -> str:
    pct = 100.0 * fraction
    return "<0.1" if 0 < pct < 0.05 else f"{pct:.1f}"


class SegmentationPanel(QWidget):
    """A summary line and a table: swatch + class, pixel area, share of the image."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[int, str, int, float]] | None = None
        self.summary = QLabel("Waiting for a frame…", self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        self.table.hide()

    def update_result(self, result: Any, frame_result: Any = None) -> None:
        rows = class_areas(result)
        if rows == self._rows:
            return
        self._rows = rows
        if not rows:
            self.summary.setText("Background only: no class found in this frame.")
            self.table.hide()
            return
        covered = sum(r[3] for r in rows)
        self.summary.setText(f"{len(rows)} class{'es' if len(rows) != 1 else ''}, "
                             f"{percent(covered)} % of the image")
        self.table.setRowCount(len(rows))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for row, (class_id, name, pixels, fraction) in enumerate(rows):
            label = QTableWidgetItem(name)
            label.setData(Qt.ItemDataRole.DecorationRole, QColor(*class_colour(name)))
            label.setToolTip(f"{name} (class {class_id})")
            area = QTableWidgetItem(f"{pixels:,}")
            share = QTableWidgetItem(percent(fraction))
            for item in (area, share):
                item.setTextAlignment(right)
            for col, item in enumerate((label, area, share)):
                self.table.setItem(row, col, item)
        shown = min(len(rows), MAX_VISIBLE_ROWS)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + shown * self.table.verticalHeader().defaultSectionSize()
                                  + 2 * self.table.frameWidth())
        self.table.show()

    def rows(self) -> list[tuple[str, int, float]]:
        """What is shown, largest first: ``[(class name, pixels, percent of the image), ...]``."""
        return [(name, pixels, 100.0 * fraction) for _, name, pixels, fraction in self._rows or []]
