"""The base of a plugin panel that lists its result's items and highlights the selected one.

A plugin panel may subclass :class:`HighlightingPanel` (plugins may import this public panel API:
only the GUI ever imports panel modules). It provides the ``highlight_requested`` contract of
the panel host, the summary line, the item view and the hint under it, and the highlight logic:
selecting a row emits the index of its item; clicking the selected row again, empty space in
the view or the panel's margin clears it; and a new result keeps the highlight on the same
object (as the subclass's :meth:`~HighlightingPanel._follow` finds it), emitting only when it
changed. A subclass fills in the hooks: build the view, fill it from a result, map between
items and rows, and say what the summary line reads.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QVBoxLayout, QWidget

from visionkit.results import summarize


class DeselectingView:
    """Mix in before a ``QAbstractItemView`` class: a left click on the selected row, or on empty
    space, clears the selection (and the current row), so the highlight goes."""

    def mousePressEvent(self, event) -> None:  # Qt name
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            index = self.indexAt(pos)
            if not index.isValid() or self._clears_selection(index, pos):
                self.selectionModel().clear()
                event.accept()
                return
        super().mousePressEvent(event)

    def _clears_selection(self, index: QModelIndex, pos: QPoint) -> bool:
        """Whether a click at ``pos``, on the cell ``index``, clears the selection."""
        return self.selectionModel().isRowSelected(index.row(), index.parent())


class HighlightingPanel(QWidget):
    """A summary line, a view with one row per item of the result (or more), and a hint.

    Attributes: ``result`` (the latest result, None before the first), ``highlighted`` (the
    index in it of the item highlighted, or None), ``summary``, ``view`` and ``hint``.
    """

    #: the index (in the result) of the item to highlight, or None for none
    highlight_requested = Signal(object)
    #: the hint under the view, shown while there are items
    hint_text = ""
    #: the summary line for a result without items
    empty_text = "Nothing in this frame."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.highlighted: int | None = None  # index in self.result
        self._updating = False
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.view = self._build_view()
        self.hint = QLabel(self.hint_text, self)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)  # the palette's muted text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.view)
        layout.addWidget(self.hint)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self._show_counts()

    # -- hooks for the subclass ---------------------------------------------------------------
    def _build_view(self) -> QAbstractItemView:
        """The item view (a child of this panel, selecting single rows), built and set up."""
        raise NotImplementedError

    def _follow(self, previous: Any, index: int | None, result: Any) -> int | None:
        """The item of ``result`` that is item ``index`` of ``previous``, or None."""
        raise NotImplementedError

    def _fill(self, result: Any, previous: Any, keep: int | None) -> QModelIndex | None:
        """Show ``result`` in the view (which still shows ``previous``); ``keep`` is the item to
        be selected. May return the row to select for it, where that is not :meth:`_row`'s."""
        raise NotImplementedError

    def _row(self, index: int) -> QModelIndex:
        """The view's row of item ``index``."""
        raise NotImplementedError

    def _selected_item(self) -> int | None:
        """The item whose row (or one of its rows) is selected, or None."""
        raise NotImplementedError

    def _count_text(self, result: Any) -> str:
        """The summary line for a result with items."""
        raise NotImplementedError

    def _fit_height(self) -> None:
        """Size the view to its rows (by default, nothing)."""

    # -- what the host calls ------------------------------------------------------------------
    def update_result(self, result: Any, frame_result: Any = None) -> None:
        previous, before = self.result, self.highlighted
        keep = self._follow(previous, before, result)
        self._updating = True
        try:
            self.result = result
            row = self._fill(result, previous, keep)
            self._select(keep, scroll=keep != before, row=row)  # a user who scrolled away stays there
        finally:
            self._updating = False
        self.highlighted = keep
        self._show_counts()
        if keep != before:
            self.highlight_requested.emit(keep)

    # -- for users of the panel (and tests) ---------------------------------------------------
    def set_highlight(self, index: int | None) -> None:
        """Select the row of item ``index`` (None: none), as a click would."""
        self._select(index)

    def mousePressEvent(self, event) -> None:  # Qt name
        """A click on the panel outside the view (its labels, the margins) clears the highlight."""
        if event.button() == Qt.MouseButton.LeftButton:
            self._select(None)
        super().mousePressEvent(event)

    # -- internals ----------------------------------------------------------------------------
    def _select(self, index: int | None, scroll: bool = True, row: QModelIndex | None = None) -> None:
        selection = self.view.selectionModel()
        if index is None or self.result is None or not 0 <= index < len(self.result):
            selection.clear()
            return
        if row is None:
            row = self._row(index)
        flag = QItemSelectionModel.SelectionFlag
        selection.setCurrentIndex(row, flag.ClearAndSelect | flag.Rows | flag.Current)
        if scroll:
            self.view.scrollTo(row, QAbstractItemView.ScrollHint.EnsureVisible)

    def _selection_changed(self, *args: Any) -> None:
        if self._updating:
            return
        index = self._selected_item()
        if index != self.highlighted:
            self.highlighted = index
            self.highlight_requested.emit(index)

    def _show_counts(self) -> None:
        n = len(self.result) if self.result is not None else 0
        if self.result is None:
            self.summary.setText("Waiting for a frame…")
        else:
            self.summary.setText(self._count_text(self.result) if n else self.empty_text)
        self.summary.setToolTip(summarize(self.result) if n else "")
        self.view.setVisible(bool(n))
        self.hint.setVisible(bool(n))
        self._fit_height()


class SortedTablePanel(HighlightingPanel):
    """A :class:`HighlightingPanel` whose view shows ``self.model`` (one row per item, in the
    result's order) through a sorting proxy, ``self.proxy``, both set by ``_build_view``: an
    item's row and the selected row's item are mapped through the proxy."""

    def _row(self, index: int) -> QModelIndex:
        return self.proxy.mapFromSource(self.model.index(index, 0))

    def _selected_item(self) -> int | None:
        rows = self.view.selectionModel().selectedRows()
        return self.proxy.mapToSource(rows[0]).row() if rows else None
