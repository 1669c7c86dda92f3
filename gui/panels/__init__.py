"""Side panels: one per task on show, chosen by the kind of result it returns.

Plugins register panels through ``visionkit_register_panels`` (a ``PanelSpec`` naming a Qt
widget class by string); this host imports a panel the first time a result of its kind
arrives. Results without a panel, or whose panel fails, get the generic ``to_dict()`` panel.

What a panel class provides (see :class:`ResultPanel`):

* ``Panel(parent)`` builds it, and ``update_result(result, frame_result)`` is called for every
  frame with this task's result and the whole ``FrameResult``.
* Optionally ``highlight_requested = Signal(object)``: a panel emits the index of one item of
  its result (the index the task's overlay painter receives as ``highlight``, e.g. a row of a
  detection table) to have the canvas emphasise it, or ``None`` to clear it. The host routes
  every panel's requests, keyed by task, to :attr:`PanelHost.highlight_changed`; the main window
  connects that to the canvas, which redraws with ``render(result, tasks=visible_layers,
  highlight={task: index})``. A panel may also emit from ``update_result`` (to keep, move or
  drop its highlight for the new frame): those emissions are collected, not sent, and the
  window reads :attr:`PanelHost.highlight` after :meth:`PanelHost.show_result`, so each frame
  is drawn once, with highlights that belong to it. A task's highlight is dropped with its panel.

* Optionally ``option_requested = Signal(str, object)``: a panel with pickers of its own (the
  Explain panel's method and epsilon) emits an option name and value of its task; the host
  routes it to :attr:`PanelHost.option_requested` as ``(task, name, value)`` and the main
  window applies it as an edit in the task list would. Such a panel may also have
  ``show_options(options)``: the host calls it with the task's options when they change
  anywhere (the task list, restored settings), so its pickers show what is in force.

A panel that lists its result's items may subclass :class:`HighlightingPanel` (plugins may import
it; see :mod:`.highlighting`): it has this contract, the summary/view/hint layout and the
select-to-highlight, click-to-clear and follow-on-a-new-frame logic, and leaves the view to fill.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QGroupBox, QScrollArea, QVBoxLayout, QWidget

from visionkit.errors import describe_failure
from visionkit.plugin_manager import get_plugins
from visionkit.registry import load_object
from visionkit.results import FrameResult

from .generic import GenericPanel
from .highlighting import DeselectingView, HighlightingPanel, SortedTablePanel

__all__ = ["DeselectingView", "HighlightingPanel", "PanelHost", "ResultPanel", "SortedTablePanel", "highlight_signal",
           "option_signal"]


@runtime_checkable
class ResultPanel(Protocol):
    """What the host needs of a panel widget (besides being a ``QWidget``)."""

    def update_result(self, result: Any, frame_result: Any = None) -> None: ...


def highlight_signal(panel: object) -> SignalInstance | None:
    """The panel's ``highlight_requested`` signal, or None where it has none."""
    signal = getattr(panel, "highlight_requested", None)
    return signal if isinstance(signal, SignalInstance) else None


def option_signal(panel: object) -> SignalInstance | None:
    """The panel's ``option_requested`` signal, or None where it has none."""
    signal = getattr(panel, "option_requested", None)
    return signal if isinstance(signal, SignalInstance) else None


def _show_options(panel: QWidget, options: dict[str, Any]) -> None:
    show = getattr(panel, "show_options", None)
    if callable(show):
        show(dict(options))


class PanelHost(QScrollArea):
    """A column of titled panels, one per task in the latest result."""

    #: ``{task: index}``, every highlight in force, after a panel changed one (user action)
    highlight_changed = Signal(object)
    #: ``(task, option, value)``: a panel's picker changed one of its task's options
    option_requested = Signal(str, str, object)

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
        self.highlight: dict[str, int] = {}  # task -> index of the item its panel highlights
        self._boxes: dict[str, QGroupBox] = {}
        self._kinds: dict[str, str] = {}
        self._raw: set[str] = set()  # tasks whose panel failed: the generic one from now on
        self._updating = False  # inside show_result: collect highlight requests, do not emit
        self._options: dict[str, dict[str, Any]] = {}  # task -> its options in force, for pickers

    def _make(self, task: str, result: Any) -> QWidget:
        kind = getattr(type(result), "kind", "")
        spec = get_plugins().panels.for_kind(kind) if kind and task not in self._raw else None
        if spec is not None:
            try:
                panel = load_object(spec.factory)(self._column)
                signal = highlight_signal(panel)
                if signal is not None:
                    signal.connect(lambda index, task=task, panel=panel: self._request(task, panel, index))
                if task in self._options:
                    _show_options(panel, self._options[task])
                options = option_signal(panel)
                if options is not None:
                    options.connect(lambda name, value, task=task, panel=panel:
                                    self.panels.get(task) is panel and self.option_requested.emit(task, name, value))
                return panel
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a plugin's panel, even one calling sys.exit(): not the app
                self._raw.add(task)
                self._report(f"panel {spec.name!r} (plugin {spec.plugin}) failed: {describe_failure(exc)}; "
                             "showing raw results")
        return GenericPanel(self._column)

    def show_options(self, task: str, options: dict[str, Any]) -> None:
        """The task's options changed (some or all of them): tell its panel, now or when made."""
        self._options.setdefault(task, {}).update(options)
        if task in self.panels:
            _show_options(self.panels[task], options)

    def _request(self, task: str, panel: QWidget, index: Any) -> None:
        if self.panels.get(task) is not panel:
            return  # a panel on its way out
        before = dict(self.highlight)
        if index is None:
            self.highlight.pop(task, None)
        else:
            self.highlight[task] = int(index)
        if not self._updating and self.highlight != before:
            self.highlight_changed.emit(dict(self.highlight))

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
        """Update (or build) every task's panel; afterwards :attr:`highlight` is this frame's."""
        self._updating = True
        try:
            for task in [t for t in self.panels if t not in frame.results]:
                self._remove(task)
            for task, result in frame.results.items():
                try:
                    self._ensure(task, result).update_result(result, frame)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # a plugin's panel, even one calling sys.exit()
                    if task in self._raw:
                        raise
                    self._raw.add(task)
                    self._report(f"{task}: panel failed ({describe_failure(exc)}); showing raw results")
                    self._remove(task)
                    self._ensure(task, result).update_result(result, frame)
        finally:
            self._updating = False

    def _remove(self, task: str) -> None:
        box = self._boxes.pop(task, None)
        self.panels.pop(task, None)
        self._kinds.pop(task, None)
        self.highlight.pop(task, None)
        if box is not None:
            box.setParent(None)
            box.deleteLater()

    def clear(self) -> None:
        had = bool(self.highlight)
        for task in list(self.panels):
            self._remove(task)
        if had and not self._updating:
            self.highlight_changed.emit({})
