"""The desktop app's keypoint list: one row per instance, expanding to its keypoints.

Qt lives here and nowhere else in this plugin: only the GUI imports this module (through the
``PanelSpec`` factory string), so ``import visionkit`` and the predict path never load PySide6.

Each instance (a figure) is a top-level row, "figure 1 — score 0.93" (numbered from 1; its index
in the result, as in ``--json``, is one less), with the colour its skeleton is drawn in; its
children are its keypoints: name, x and y in image pixels, confidence. Keypoints below
:data:`visionkit.overlays.KEYPOINT_MIN_CONFIDENCE` are greyed, as the overlay does not draw them.

Highlight, as in the detection panel: selecting an instance row, or one of its keypoint rows
(click, or the arrow keys), emits ``highlight_requested(index)`` with the instance's index in
the result, and the canvas draws that skeleton thick and dims the others; selecting a row also
opens its instance. Clicking the selected row again, or empty space, emits ``None``.

On a new frame the highlight follows the figure, not the row number: it moves to the new
instance whose box overlaps the highlighted one most (IoU at least
:data:`~visionkit.boxes.FOLLOW_IOU`), else it is cleared. Opened instances
follow their figures the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visionkit.boxes import FOLLOW_IOU, best_match
from visionkit.overlays import KEYPOINT_MIN_CONFIDENCE, class_colour

COLUMNS = ("keypoint", "x", "y", "conf.")
NAME, X, Y, CONF = range(4)
#: the tree grows with its open rows up to this many, then scrolls
MAX_VISIBLE_ROWS = 14
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def instance_points(result: Any) -> np.ndarray:
    """The keypoints as an ``(N, K, 3)`` float array (also where there are no instances)."""
    points = np.asarray(result.points, np.float64)
    return points.reshape(len(result), -1, 3) if len(result) else np.zeros((0, len(result.names), 3))


def instance_boxes(result: Any) -> np.ndarray:
    """Each instance's box ``(N, 4)``; where a box is empty, the extent of its drawn keypoints."""
    n = len(result)
    boxes = np.asarray(result.boxes, np.float64).reshape(-1, 4)
    if len(boxes) != n:
        boxes = np.zeros((n, 4))
    else:
        boxes = boxes.copy()
    points = instance_points(result)
    for i in range(n):
        x1, y1, x2, y2 = boxes[i]
        if x2 > x1 and y2 > y1:
            continue
        pts = points[i][points[i][:, 2] >= KEYPOINT_MIN_CONFIDENCE]
        if len(pts):
            boxes[i] = (*pts[:, :2].min(0), *pts[:, :2].max(0))
    return boxes


def follow(previous: Any, index: int | None, result: Any) -> int | None:
    """The instance of ``result`` that is instance ``index`` of ``previous`` (by box IoU), if any."""
    if previous is None or index is None or not 0 <= index < len(previous) or not len(result):
        return None
    boxes = instance_boxes(result)
    return best_match(boxes, np.zeros(len(boxes), int), instance_boxes(previous)[index], 0, FOLLOW_IOU)


def keypoint_name(result: Any, k: int) -> str:
    return result.names[k] if k < len(result.names) else f"keypoint {k}"


class KeypointsTree(QTreeWidget):
    """A row-selecting tree where clicking the selected row, or below the rows, deselects.

    Clicks on an instance's expand arrow only open or close it, as in any tree.
    """

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            index = self.indexAt(pos)
            on_arrow = index.isValid() and pos.x() < self.visualRect(index).left()
            if not index.isValid() or (not on_arrow and self.selectionModel().isSelected(index)):
                self.selectionModel().clear()  # selection and current row: the highlight goes
                event.accept()
                return
        super().mousePressEvent(event)


class KeypointsPanel(QWidget):
    """How many figures, and a tree of them with their keypoints (name, x, y, confidence)."""

    #: the index (in the result) of the instance to highlight, or None for none
    highlight_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.highlighted: int | None = None  # index in self.result
        self._updating = False
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.tree = KeypointsTree(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        header_item = self.tree.headerItem()
        for col in (X, Y, CONF):
            header_item.setTextAlignment(col, RIGHT)
        header_item.setToolTip(NAME, "figures (best score first) and their keypoints")
        header_item.setToolTip(X, "in image pixels")
        header_item.setToolTip(Y, "in image pixels")
        header_item.setToolTip(CONF, f"confidence; below {KEYPOINT_MIN_CONFIDENCE:g} (greyed) it is not drawn")
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setWordWrap(False)
        self.tree.setIndentation(14)
        self.tree.setIconSize(QSize(10, 10))  # the instance's colour swatch
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        header.setSectionsMovable(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for col in (X, Y, CONF):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(24)
        self.hint = QLabel("Click a figure or one of its keypoints (or use ↑/↓) to highlight its skeleton; "
                           "click it again to clear.", self)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)  # the palette's muted text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)
        layout.addWidget(self.hint)
        self.tree.selectionModel().selectionChanged.connect(self._selection_changed)
        self.tree.itemExpanded.connect(lambda item: self._fit_height())
        self.tree.itemCollapsed.connect(lambda item: self._fit_height())
        self._show_counts()

    # -- what the host calls ------------------------------------------------------------------
    def update_result(self, result: Any, frame_result: Any = None) -> None:
        previous, before = self.result, self.highlighted
        keep = follow(previous, before, result)
        current = self.tree.currentItem()
        keypoint = None  # the keypoint row selected, if one is: the same keypoint of the new figure
        if keep is not None and current is not None and current.parent() is not None and current.isSelected():
            keypoint = current.parent().indexOfChild(current)
        opened = {follow(previous, i, result) for i in range(self.tree.topLevelItemCount())
                  if self.tree.topLevelItem(i).isExpanded()} - {None}
        self._updating = True
        try:
            self.result = result
            self._fill(result, opened)
            self._select(keep, keypoint, scroll=keep != before)  # a user who scrolled away stays there
        finally:
            self._updating = False
        self.highlighted = keep
        self._show_counts()
        if keep != before:
            self.highlight_requested.emit(keep)

    # -- for users of the panel (and tests) ---------------------------------------------------
    def rows(self) -> list[tuple[str, list[tuple[str, ...]]]]:
        """What the tree shows: ``(instance row's text, [(name, x, y, conf) per keypoint])``."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            children = [tuple(item.child(k).text(c) for c in range(len(COLUMNS))) for k in range(item.childCount())]
            out.append((item.text(NAME), children))
        return out

    def set_highlight(self, index: int | None) -> None:
        """Select the row of instance ``index`` (None: none), as a click would."""
        self._select(index)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """A click on the panel outside the tree (its labels, the margins) clears the highlight."""
        if event.button() == Qt.MouseButton.LeftButton:
            self._select(None)
        super().mousePressEvent(event)

    # -- internals ----------------------------------------------------------------------------
    def _fill(self, result: Any, opened: set[int]) -> None:
        """Rows for ``result``, reusing the items there are (scroll position and all)."""
        tree = self.tree
        n = len(result)
        points = instance_points(result)
        while tree.topLevelItemCount() > n:
            tree.takeTopLevelItem(tree.topLevelItemCount() - 1)
        while tree.topLevelItemCount() < n:
            item = QTreeWidgetItem(tree)
            item.setFirstColumnSpanned(True)
        muted = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        for i in range(n):
            item = tree.topLevelItem(i)
            pts = points[i]
            drawn = int(np.count_nonzero(pts[:, 2] >= KEYPOINT_MIN_CONFIDENCE))
            score = float(result.scores[i])
            item.setText(NAME, f"figure {i + 1} \u2014 score {score:.2f}")
            item.setData(NAME, Qt.ItemDataRole.DecorationRole, QColor(*class_colour(i)))
            x1, y1, x2, y2 = (float(v) for v in result.boxes[i]) if i < len(result.boxes) else (0.0,) * 4
            item.setToolTip(NAME, f"instance {i} (as in --json), score {score:.4f}\n"
                                  f"{drawn} of {len(pts)} keypoints drawn (confidence \u2265 "
                                  f"{KEYPOINT_MIN_CONFIDENCE:g})\n"
                                  f"box x1 {x1:.1f}, y1 {y1:.1f}, x2 {x2:.1f}, y2 {y2:.1f}")
            while item.childCount() > len(pts):
                item.takeChild(item.childCount() - 1)
            while item.childCount() < len(pts):
                child = QTreeWidgetItem(item)
                for col in (X, Y, CONF):
                    child.setTextAlignment(col, RIGHT)
            for k, (x, y, conf) in enumerate(pts):
                child = item.child(k)
                name = keypoint_name(result, k)
                low = conf < KEYPOINT_MIN_CONFIDENCE
                child.setText(NAME, name)
                child.setText(X, str(round(float(x))))
                child.setText(Y, str(round(float(y))))
                child.setText(CONF, f"{float(conf):.2f}")
                tip = f"{name}: x {float(x):.1f}, y {float(y):.1f}, confidence {float(conf):.3f}"
                if low:
                    tip += f"\nbelow {KEYPOINT_MIN_CONFIDENCE:g}: not drawn"
                for col in range(len(COLUMNS)):
                    child.setForeground(col, muted if low else QBrush())
                    child.setToolTip(col, tip)
            item.setExpanded(i in opened)

    def _select(self, index: int | None, keypoint: int | None = None, scroll: bool = True) -> None:
        selection = self.tree.selectionModel()
        if index is None or self.result is None or not 0 <= index < self.tree.topLevelItemCount():
            selection.clear()
            return
        item = self.tree.topLevelItem(index)
        if keypoint is not None and 0 <= keypoint < item.childCount() and item.isExpanded():
            item = item.child(keypoint)
        flag = QItemSelectionModel.SelectionFlag
        selection.setCurrentIndex(self.tree.indexFromItem(item), flag.ClearAndSelect | flag.Rows | flag.Current)
        if scroll:
            self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.EnsureVisible)

    def _selection_changed(self, *args: Any) -> None:
        if self._updating:
            return
        items = self.tree.selectedItems()
        index = None
        if items:
            top = items[0] if items[0].parent() is None else items[0].parent()
            index = self.tree.indexOfTopLevelItem(top)
            if not top.isExpanded():
                top.setExpanded(True)  # the keypoints of the figure the user picked
        if index != self.highlighted:
            self.highlighted = index
            self.highlight_requested.emit(index)

    def _show_counts(self) -> None:
        result = self.result
        n = len(result) if result is not None else 0
        if result is None:
            self.summary.setText("Waiting for a frame…")
        elif not n:
            self.summary.setText("No instances in this frame.")
        else:
            points = instance_points(result)
            low = int(np.count_nonzero(points[:, :, 2] < KEYPOINT_MIN_CONFIDENCE))
            text = f"{n} figure{'s' if n != 1 else ''}, {points.shape[1]} keypoints each"
            if low:
                text += f"; {low} below {KEYPOINT_MIN_CONFIDENCE:g} confidence, not drawn"
            self.summary.setText(text)
        self.summary.setToolTip(result.summary() if n else "")
        self.tree.setVisible(bool(n))
        self.hint.setVisible(bool(n))
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its open rows (at most :data:`MAX_VISIBLE_ROWS`)."""
        tree = self.tree
        rows = sum(1 + (item.childCount() if item.isExpanded() else 0)
                   for item in (tree.topLevelItem(i) for i in range(tree.topLevelItemCount())))
        rows = min(rows, MAX_VISIBLE_ROWS)
        if not rows:
            return
        row_height = tree.sizeHintForRow(0)  # uniform row heights: the first row's is every row's
        if row_height <= 0:
            row_height = self.fontMetrics().height() + 4
        height = tree.header().sizeHint().height() + rows * row_height + 2 * tree.frameWidth()
        if height != tree.height():
            tree.setFixedHeight(height)
