"""Side panels: one per task on show, chosen by the kind of result it returns.

Plugins register panels through ``visionkit_register_panels`` (a ``PanelSpec`` naming a Qt
widget class by string); this host imports a panel the first time a result of its kind
arrives. Results without a panel, or whose panel fails, get the generic ``to_dict()`` panel.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtWidgets import QGroupBox, QScrollArea, QVBoxLayout, QWidget

from visionkit.plugin_manager import get_plugins
from visionkit.registry import load_object
from visionkit.results import FrameResult

from .generic import GenericPanel


class PanelHost(QScrollArea):
    """A column of titled panels, one per task in the latest result."""

    def __init__(self, report: Callable[[str], None] = lambda text: None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._report = report
        self._column = QWidget(self)
        self._layout = QVBoxLayout(self._column)
        self._layout.addStretch(1)
        self.setWidget(self._column)
        self.setWidgetResizable(True)
        self.setMinimumWidth(240)
        self.panels: dict[str, QWidget] = {}  # task -> panel widget
        self._boxes: dict[str, QGroupBox] = {}
        self._kinds: dict[str, str] = {}
        self._raw: set[str] = set()  # tasks whose panel failed: the generic one from now on

    def _make(self, task: str, result: Any) -> QWidget:
        kind = getattr(type(result), "kind", "")
        spec = get_plugins().panels.for_kind(kind) if kind and task not in self._raw else None
        if spec is not None:
            try:
                return load_object(spec.factory)(self._column)
            except Exception as exc:  # a plugin's panel must not take the app down
                self._raw.add(task)
                self._report(f"panel {spec.name!r} (plugin {spec.plugin}) failed: {exc}; showing raw results")
        return GenericPanel(self._column)

    def _ensure(self, task: str, result: Any) -> QWidget:
        kind = getattr(type(result), "kind", type(result).__name__)
        if self._kinds.get(task) != kind:
            self._remove(task)
        if task not in self.panels:
            box = QGroupBox(task, self._column)
            panel = self._make(task, result)
            QVBoxLayout(box).addWidget(panel)
            self._layout.insertWidget(self._layout.count() - 1, box)
            self.panels[task], self._boxes[task], self._kinds[task] = panel, box, kind
        return self.panels[task]

    def show_result(self, frame: FrameResult) -> None:
        for task in [t for t in self.panels if t not in frame.results]:
            self._remove(task)
        for task, result in frame.results.items():
            try:
                self._ensure(task, result).update_result(result, frame)
            except Exception as exc:
                if task in self._raw:
                    raise
                self._raw.add(task)
                self._report(f"{task}: panel failed ({type(exc).__name__}: {exc}); showing raw results")
                self._remove(task)
                self._ensure(task, result).update_result(result, frame)

    def _remove(self, task: str) -> None:
        box = self._boxes.pop(task, None)
        self.panels.pop(task, None)
        self._kinds.pop(task, None)
        if box is not None:
            box.setParent(None)
            box.deleteLater()

    def clear(self) -> None:
        for task in list(self.panels):
            self._remove(task)
