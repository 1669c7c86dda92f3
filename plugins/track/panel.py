"""The desktop app's tracks panel: the frame's tracks by id; a selected one is highlighted, with its path.

Qt lives here and nowhere else in this plugin: only the GUI imports this module (through the
``PanelSpec`` factory string), so ``import visionkit`` and the predict path never load PySide6.

Selecting a row emits ``highlight_requested(index)`` as the detection panel does; the selection
stays with the track's id from frame to frame. The host does not tell panels of a new source or
a seek (the worker resets the tracker, whose ids start at 1 again), so the panel reads it from the
tracks: a known id whose age did not grow, an unseen id below the highest seen, or a frame number
going back within a source begins a new run (:meth:`TracksPanel.clear` does so on request). At
most :data:`MAX_IDS` ids are remembered, those unseen longest forgotten: memory stays flat.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget
from visionkit.gui.panels import DeselectingView, SortedTablePanel

from .painter import id_colour

COLUMNS = ("id", "label", "score", "age", "x1,\u2009y1,\u2009x2,\u2009y2")
ID, LABEL, SCORE, AGE, BOX = range(5)
TIPS = ("the track's id (its colour on the canvas)", "class", "confidence of this frame's box",
        "frames since the track began (seconds where the frame rate is known)", "the box's corners in pixels")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_VISIBLE_ROWS = 10
#: ids remembered (first and last frame seen); beyond it the ones unseen longest are forgotten
MAX_IDS = 4096


def seconds(frames: int, fps: float) -> str:
    return f"{frames / fps:.{2 if frames < fps else 1}f} s"


def frames_text(frames: int, fps: float | None) -> str:
    """``"12 frames"``, with the seconds where the frame rate is known."""
    return f"{frames} frame{'s' if frames != 1 else ''}" + (f" ({seconds(frames, fps)})" if fps else "")


class TracksModel(QAbstractTableModel):
    """One row per track, in the result's order (row == index in the result)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.fps: float | None = None  # the source's frame rate, for ages in seconds

    def set_result(self, result: Any, fps: float | None) -> None:
        old, self.fps = self.rowCount(), fps
        if result is not None and old and len(result) == old:
            self.result = result  # same row count: keep the view's scroll position and sort
            self.dataChanged.emit(self.index(0, 0), self.index(old - 1, len(COLUMNS) - 1))
        else:
            self.beginResetModel()
            self.result = result
            self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.result is None else len(self.result)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        shown, tip = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole
        if orientation == Qt.Orientation.Horizontal and role in (shown, tip):
            return (COLUMNS if role == shown else TIPS)[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.result is None:
            return None
        row, col, r = index.row(), index.column(), self.result
        tid, age = int(r.ids[row]), int(r.ages[row])
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"#{tid}", r.labels[row], f"{float(r.scores[row]):.3f}",
                    f"{age} ({seconds(age, self.fps)})" if self.fps else str(age),
                    ",\u2009".join(str(round(float(v))) for v in r.boxes[row]))[col]
        if role == SORT_ROLE:
            return (tid, r.labels[row].casefold(), float(r.scores[row]), age, float(r.boxes[row][0]))[col]
        if role == Qt.ItemDataRole.DecorationRole and col == ID:
            return QColor(*id_colour(tid))
        if role == Qt.ItemDataRole.TextAlignmentRole and col != LABEL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class TracksTable(DeselectingView, QTableView):
    """A row-selecting table where clicking the selected row, or below the rows, deselects."""


class TracksPanel(SortedTablePanel):
    """How many tracks (now and in the run), a sortable table of them, the selected one's path."""

    hint_text = "Click a row (or use ↑/↓) to highlight its track and see its path; click it again to clear."
    empty_text = "No tracks in this frame."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fps: float | None = None
        self._forget()
        self.path = QLabel(self)  # the selected track's path and lifetime
        self.path.setWordWrap(True)
        self.path.setTextFormat(Qt.TextFormat.PlainText)
        self.layout().insertWidget(2, self.path)
        self.highlight_requested.connect(lambda index: self._show_path())
        self._show_path()

    def _build_view(self) -> TracksTable:
        self.model, self.proxy = TracksModel(self), QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = table = TracksTable(self)
        table.setModel(self.proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSortingEnabled(True)
        table.sortByColumn(ID, Qt.SortOrder.AscendingOrder)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setCornerButtonEnabled(False)
        table.setIconSize(QSize(10, 10))  # the id swatch
        table.verticalHeader().hide()
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        for col in (ID, LABEL, SCORE, AGE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(BOX, QHeaderView.ResizeMode.Stretch)
        table.horizontalScrollBar().rangeChanged.connect(lambda low, high: self._fit_height())  # a narrow dock
        return table

    # -- what the host calls ------------------------------------------------------------------
    def update_result(self, result: Any, frame_result: Any = None) -> None:
        source, number = getattr(frame_result, "source", None), getattr(frame_result, "frame", None)
        fps = getattr(frame_result, "fps", None)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else None
        # the same frame again (a redraw after an option change): nothing new to count
        again = result is self.result if number is None else (source, number) == (self._source, self._number)
        if not again:
            if self._restarted(result, source, number):
                self._forget()
                self.result = None  # nothing of the old run to follow: its highlight goes
            self.now = number if number is not None and number > self.now else self.now + 1
            self._source, self._number = source, number
            self._note(result)
        total = self.total
        self.empty_text = f"No tracks in this frame; {total} id{'s' if total != 1 else ''} since the start."
        super().update_result(result, frame_result)
        self._show_path()

    # -- for users of the panel (and tests) ---------------------------------------------------
    def clear(self) -> None:
        """Forget the run (a new source or a seek): counts, ids seen, the table and the highlight."""
        had = self.highlighted is not None
        self._forget()
        self.result, self.highlighted = None, None
        self.model.set_result(None, self.fps)
        self._show_counts()
        if had:
            self.highlight_requested.emit(None)  # which hides the path too

    def rows(self) -> list[tuple[int, str, float, int, tuple[float, ...]]]:
        """What the table shows, in its current order: ``(id, label, score, age, box)``."""
        r, proxy = self.result, self.proxy
        order = [proxy.mapToSource(proxy.index(row, 0)).row() for row in range(proxy.rowCount())]
        return [(int(r.ids[i]), r.labels[i], float(r.scores[i]), int(r.ages[i]), tuple(float(v) for v in r.boxes[i]))
                for i in order]

    def selected_track(self) -> dict[str, Any] | None:
        """The highlighted track: ``id``, ``points`` (its trail, oldest first), ``length`` (px),
        ``first`` and ``last`` (the frames it was seen in), or None."""
        i, r = self.highlighted, self.result
        if i is None or r is None or i >= len(r):
            return None
        tid = int(r.ids[i])
        trail = np.asarray(r.trails[i], np.float64).reshape(-1, 2) if len(r.trails) > i else np.zeros((0, 2))
        points = trail[np.isfinite(trail).all(1)]
        length = float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum()) if len(points) > 1 else 0.0
        first, last, _ = self.seen.get(tid, (self.now, self.now, 0))
        return {"id": tid, "label": r.labels[i], "points": points, "length": length, "first": first, "last": last}

    # -- the base class's hooks ---------------------------------------------------------------
    def _follow(self, previous: Any, index: int | None, result: Any) -> int | None:
        if previous is None or index is None or index >= len(previous):
            return None
        same = np.flatnonzero(np.asarray(result.ids) == previous.ids[index])  # the id, wherever its row went
        return int(same[0]) if len(same) else None

    def _fill(self, result: Any, previous: Any, keep: int | None) -> None:
        self.model.set_result(result, self.fps)

    def _count_text(self, result: Any) -> str:
        n, total, i = len(result), self.total, int(np.argmax(result.ages))
        return (f"{n} track{'s' if n != 1 else ''} in this frame, {total} id{'s' if total != 1 else ''} "
                f"since the start; longest: #{int(result.ids[i])} {result.labels[i]}, "
                f"{frames_text(int(result.ages[i]), self.fps)}")

    def _fit_height(self) -> None:
        rows, table = min(self.model.rowCount(), MAX_VISIBLE_ROWS), self.table
        bar = table.horizontalScrollBar()
        if rows:  # as tall as its rows (at most MAX_VISIBLE_ROWS), and a sideways scroll bar if shown
            table.setFixedHeight(table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
                                 + rows * table.verticalHeader().defaultSectionSize()
                                 + (bar.sizeHint().height() if bar.maximum() > bar.minimum() else 0))

    # -- internals ----------------------------------------------------------------------------
    def _forget(self) -> None:
        self.seen: OrderedDict[int, tuple[int, int, int]] = OrderedDict()  # id -> (first, last frame, age)
        self.total = 0  # distinct ids since the run began
        self.now = -1  # this frame's number (the source's where it counts up, else one per frame)
        self._frames, self._top, self._dropped = 0, 0, False  # frames noted, highest id, any forgotten
        self._source, self._number = None, None  # the latest frame's source and frame number

    def _restarted(self, result: Any, source: Any, number: int | None) -> bool:
        """Whether the tracker started again (ids from 1) since the last frame."""
        if not self.seen:
            return False
        if number is not None and self._number is not None and source == self._source and number < self._number:
            return True  # back within one video
        for tid, age in zip(np.asarray(result.ids).tolist(), np.asarray(result.ages).tolist()):
            known = self.seen.get(tid)
            if known is not None and age <= known[2]:
                return True  # a track's age never shrinks: this is another track with a reused id
            if known is None and tid <= self._top and age <= self._frames and not self._dropped:
                return True  # a new track (younger than the run) with an id below the highest seen
        return False

    def _note(self, result: Any) -> None:
        for tid, age in zip(np.asarray(result.ids).tolist(), np.asarray(result.ages).tolist()):
            known = self.seen.pop(tid, None)
            self.total += known is None
            self.seen[tid] = (self.now if known is None else known[0], self.now, age)  # now the newest
            self._top = max(self._top, tid)
        self._frames += 1
        while len(self.seen) > MAX_IDS:
            self.seen.popitem(last=False)  # the id unseen longest
            self._dropped = True

    def _show_path(self) -> None:
        track = self.selected_track()
        self.path.setVisible(track is not None)
        if track is None:
            return
        points, lived = track["points"], self.now - track["first"] + 1
        n = len(points)  # the trail holds the track's latest centres only
        ends = f": ({points[0][0]:.0f}, {points[0][1]:.0f}) → ({points[-1][0]:.0f}, {points[-1][1]:.0f})" if n else ""
        self.path.setText(f"#{track['id']} {track['label']}: path of {n} point{'s' if n != 1 else ''}, "
                          f"{track['length']:.0f} px{ends}; seen since frame {track['first']}: "
                          f"{frames_text(lived, self.fps)}")
        self.path.setToolTip("\n".join(f"{x:.1f}, {y:.1f}" for x, y in points))
