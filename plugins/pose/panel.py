"""The desktop app's keypoint list: one row per instance, expanding to its keypoints.

Qt lives here and nowhere else in this plugin: only the GUI imports this module (through the
``PanelSpec`` factory string), so ``import visionkit`` and the predict path never load PySide6.

Each instance (a figure) is a top-level row, "figure 1 — score 0.93" (numbered from 1; its index
in the result, as in ``--json``, is one less), with the colour its skeleton is drawn in; its
children are its keypoints: name, x and y in image pixels, confidence. Keypoints below
:data:`.painter.KEYPOINT_MIN_CONFIDENCE` are greyed, as the overlay does not draw them.

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
from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem
from visionkit.gui.panels import DeselectingView, HighlightingPanel

from visionkit.boxes import FOLLOW_IOU, best_match
from visionkit.overlays import instance_colour

from .painter import KEYPOINT_MIN_CONFIDENCE

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


class KeypointsTree(DeselectingView, QTreeWidget):
    """A row-selecting tree where clicking the selected row, or below the rows, deselects.

    Clicks on an instance's expand arrow only open or close it, as in any tree.
    """

    def _clears_selection(self, index: QModelIndex, pos: QPoint) -> bool:
        on_arrow = pos.x() < self.visualRect(index).left()
        return not on_arrow and self.selectionModel().isSelected(index)


class KeypointsPanel(HighlightingPanel):
    """How many figures, and a tree of them with their keypoints (name, x, y, confidence)."""

    hint_text = ("Click a figure or one of its keypoints (or use ↑/↓) to highlight its skeleton; "
                 "click it again to clear.")
    empty_text = "No instances in this frame."

    def _build_view(self) -> KeypointsTree:
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
        self.tree.itemExpanded.connect(lambda item: self._fit_height())
        self.tree.itemCollapsed.connect(lambda item: self._fit_height())
        return self.tree

    # -- for users of the panel (and tests) ---------------------------------------------------
    def rows(self) -> list[tuple[str, list[tuple[str, ...]]]]:
        """What the tree shows: ``(instance row's text, [(name, x, y, conf) per keypoint])``."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            children = [tuple(item.child(k).text(c) for c in range(len(COLUMNS))) for k in range(item.childCount())]
            out.append((item.text(NAME), children))
        return out

    # -- the base class's hooks ---------------------------------------------------------------
    def _follow(self, previous: Any, index: int | None, result: Any) -> int | None:
        return follow(previous, index, result)

    def _fill(self, result: Any, previous: Any, keep: int | None) -> QModelIndex | None:
        """Rows for ``result``; the keypoint row selected, and the instances open, follow their figures."""
        current = self.tree.currentItem()
        keypoint = None  # the keypoint row selected, if one is: the same keypoint of the new figure
        if keep is not None and current is not None and current.parent() is not None and current.isSelected():
            keypoint = current.parent().indexOfChild(current)
        opened = {follow(previous, i, result) for i in range(self.tree.topLevelItemCount())
                  if self.tree.topLevelItem(i).isExpanded()} - {None}
        self._fill_items(result, opened)
        if keypoint is None or not 0 <= keep < self.tree.topLevelItemCount():
            return None
        item = self.tree.topLevelItem(keep)
        if 0 <= keypoint < item.childCount() and item.isExpanded():
            return self.tree.indexFromItem(item.child(keypoint))
        return None

    def _row(self, index: int) -> QModelIndex:
        return self.tree.indexFromItem(self.tree.topLevelItem(index))

    def _selected_item(self) -> int | None:
        items = self.tree.selectedItems()
        if not items:
            return None
        top = items[0] if items[0].parent() is None else items[0].parent()
        if not top.isExpanded():
            top.setExpanded(True)  # the keypoints of the figure the user picked
        return self.tree.indexOfTopLevelItem(top)

    def _count_text(self, result: Any) -> str:
        n = len(result)
        points = instance_points(result)
        low = int(np.count_nonzero(points[:, :, 2] < KEYPOINT_MIN_CONFIDENCE))
        text = f"{n} figure{'s' if n != 1 else ''}, {points.shape[1]} keypoints each"
        if low:
            text += f"; {low} below {KEYPOINT_MIN_CONFIDENCE:g} confidence, not drawn"
        return text

    # -- internals ----------------------------------------------------------------------------
    def _fill_items(self, result: Any, opened: set[int]) -> None:
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
            item.setData(NAME, Qt.ItemDataRole.DecorationRole, QColor(*instance_colour(i)))
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
