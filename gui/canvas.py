"""The canvas: the frame with the core renderer's overlays, zoom and pan, layers per task.

Overlays come from :func:`visionkit.overlays.compose` (the same painters as
``visionkit predict --save``), restricted to the tasks whose layer is on; toggling a layer
redraws the last result without running anything again. ``highlight`` (``{task: index}``,
set by the result panels through the panel host) is passed on to the painters, so a clicked
detection is drawn emphasised; highlights of hidden layers are kept but not drawn.

The pixels (masks, boxes, skeletons) are zoomed with the picture; the text is not: the labels
are placed in the view's own pixels, over the picture as it is shown, and drawn there in the
app's font, so they stay sharp and the same size at any zoom, and are placed anew (none covering
another) whenever the zoom, the scroll position or the window size changes.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
from PySide6.QtCore import QMimeData, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from visionkit.overlays import (Label, Overlay, PainterError, PlacedLabel, compose, dimmed, place_labels,
                                text_colour)
from visionkit.results import FrameResult

HINT = "Open an image, a folder, a video (Ctrl+O) or a camera (Ctrl+K), or drop files here"


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 HxWx3 array as a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) as an RGB uint8 HxWx3 array."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return data[:, : 3 * w].reshape(h, w, 3).copy()


class ImageCanvas(QGraphicsView):
    dropped = Signal(QMimeData)
    #: a plugin's painter failed on this frame (one line); its layer is left out
    painter_failed = Signal(str)
    MIN_ZOOM, MAX_ZOOM = 0.02, 64.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)
        self._hint = self.scene().addText(HINT)
        self._hint.setDefaultTextColor(QColor("#c8c8c8"))
        self.setBackgroundBrush(QBrush(QColor("#2b2b2b")))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setAcceptDrops(True)
        # the labels are drawn in the viewport's pixels: a scroll must repaint them, not shift them
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.result: FrameResult | None = None
        self.hidden: set[str] = set()
        self.highlight: dict[str, int] = {}  # task -> index of the item to emphasise
        self.overlay: Overlay | None = None  # what is on show: the pixels, and the labels apart
        self._rendered: np.ndarray | None = None
        self._placed: tuple[tuple, list[PlacedLabel]] | None = None  # (view geometry, labels) last drawn
        self._fit = True

    # -- content ------------------------------------------------------------------------------
    def show_result(self, result: FrameResult, highlight: Mapping[str, int] | None = None) -> None:
        """Show a new frame; ``highlight`` replaces the highlights where given (else kept)."""
        self.result = result
        if highlight is not None:
            self.highlight = dict(highlight)
        self.redraw()

    def set_highlight(self, highlight: Mapping[str, int] | None) -> None:
        """Emphasise one item per task (``{task: index}``; empty or None: none) and redraw."""
        highlight = dict(highlight or {})
        if highlight != self.highlight:
            self.highlight = highlight
            self.redraw()

    def drawn_highlight(self) -> dict[str, int]:
        """The highlights the painters get for the result on show: visible layers, valid indices."""
        results = self.result.results if self.result else {}
        visible = self.visible_tasks()
        out = {}
        for task, index in self.highlight.items():
            res = results.get(task)
            if task in visible and index >= 0 and (not hasattr(res, "__len__") or index < len(res)):
                out[task] = index
        return out

    def set_hidden_layers(self, hidden: Iterable[str]) -> None:
        self.hidden = set(hidden)
        self.redraw()

    def visible_tasks(self) -> list[str]:
        if self.result is None:
            return []
        shown = self.result.shown  # a task run only for another that draws its boxes is left out
        return [t for t in self.result.results if t not in self.hidden and (shown is None or t in shown)]

    @property
    def rendered(self) -> np.ndarray | None:
        """The picture on show with its labels drawn into the pixels, as ``--save`` writes it
        (what Save and Copy take); None without a picture."""
        if self._rendered is None and self.overlay is not None:
            self._rendered = self.overlay.with_text()
        return self._rendered

    def redraw(self) -> None:
        result = self.result
        self._rendered = self._placed = None
        if result is None or result.image is None:
            self.overlay = None
            self._item.setPixmap(QPixmap())
            self._hint.setPlainText(result.error or HINT if result else HINT)
            self._hint.show()
            self.setSceneRect(self._hint.boundingRect())
            self.viewport().update()
            return
        self._hint.hide()
        tasks = self.visible_tasks()
        while True:
            try:
                self.overlay = compose(result, tasks=tasks, highlight=self.drawn_highlight())
                break
            except PainterError as exc:  # a plugin's painter: draw the rest, say which one failed
                tasks = [t for t in tasks if t != exc.task]
                self.painter_failed.emit(str(exc))
        old = self._item.pixmap().size()
        self._item.setPixmap(QPixmap.fromImage(to_qimage(self.overlay.image)))
        if self._item.pixmap().size() != old:
            self.setSceneRect(self._item.boundingRect())
            if self._fit:
                self.fit()
        self.viewport().update()

    # -- text at screen resolution ----------------------------------------------------------------
    def shown_labels(self) -> list[PlacedLabel]:
        """The labels as drawn now, in the viewport's pixels (placed for the current zoom,
        scroll position and size)."""
        overlay = self.overlay
        if overlay is None or not overlay.labels:
            return []
        view = self.viewportTransform()
        picture = view.mapRect(QRectF(self._item.boundingRect())).intersected(QRectF(self.viewport().rect()))
        key = (id(overlay), view.m11(), view.m22(), view.dx(), view.dy(), picture.getRect(),
               self.font().key())
        if self._placed is not None and self._placed[0] == key:
            return self._placed[1]
        if picture.isEmpty():
            placed: list[PlacedLabel] = []
        else:
            metrics = QFontMetrics(self.font())

            def on_screen(label: Label) -> Label:
                if label.box is None:
                    return label
                x1, y1, x2, y2 = label.box
                r = view.mapRect(QRectF(x1, y1, x2 - x1, y2 - y1))
                return Label(label.text, label.colour, (r.left(), r.top(), r.right(), r.bottom()),
                             label.kind, label.emphasis)

            placed = place_labels([on_screen(lab) for lab in overlay.labels],
                                  lambda text: (metrics.horizontalAdvance(text), metrics.height()),
                                  (picture.left(), picture.top(), picture.right(), picture.bottom()))
        self._placed = (key, placed)
        return placed

    def drawForeground(self, painter: QPainter, rect) -> None:  # noqa: N802 (Qt name)
        placed = self.shown_labels()
        if not placed:
            return
        painter.save()
        painter.resetTransform()  # the viewport's pixels: text at screen resolution
        painter.setFont(self.font())
        line_h = QFontMetrics(self.font()).height()
        ascent = QFontMetrics(self.font()).ascent()
        for item in placed:
            x, y, w, h = item.rect
            if item.kind == "box":
                fill = dimmed(item.colour) if item.emphasis == "dim" else item.colour
                painter.fillRect(x, y, w, h, QColor(*fill))
                painter.setPen(QColor(*text_colour(fill)))
            else:  # a corner panel or a caption line: the picture shows through, darkened
                painter.fillRect(x, y, w, h, QColor(0, 0, 0, 170))
                painter.setPen(QColor(255, 255, 255))
            tx = x + item.pad
            if item.swatch:  # a square in the line's height, then a gap
                side = max(2, round(line_h * 0.8))
                painter.fillRect(tx, y + item.pad + (line_h - side) // 2, side, side, QColor(*item.colour))
                tx += line_h + item.pad
            painter.drawText(tx, y + item.pad + ascent, item.text)
        painter.restore()

    # -- zoom ---------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self._fit = True
        if not self._item.pixmap().isNull():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def actual_size(self) -> None:
        self._fit = False
        self.resetTransform()

    def zoom_by(self, factor: float) -> None:
        self._fit = False
        factor = min(max(self.zoom * factor, self.MIN_ZOOM), self.MAX_ZOOM) / self.zoom
        self.scale(factor, factor)

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt names)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    # -- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.dropped.emit(event.mimeData())
        event.acceptProposedAction()
