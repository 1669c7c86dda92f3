"""The main window: canvas in the middle, tasks on the left, result panels on the right, source
controls below, status at the bottom. It shows what the worker computes and turns user actions
into worker commands; it never runs a model itself.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from visionkit.plugin_manager import get_plugins

from .actions import build_actions
from .canvas import ImageCanvas
from .compat import check_pyside
from .dialogs import PluginsDialog
from .files import FileCommands
from .messages import MessageBar
from .options import show_value
from .panels import PanelHost
from .player import PlayerBar
from .settings import Settings
from .status import StatusInfo
from .tasks_panel import TaskPanel, TaskScrollArea
from .threads import start_in_thread
from .worker import InferenceWorker, MediaInfo, PipelineInfo, Shown

TITLE = "visionkit"


class MainWindow(FileCommands, QMainWindow):
    #: after a result is on screen (canvas, panels, status all updated)
    result_shown = Signal(object)
    #: after the worker reported the pipeline it built
    pipeline_changed = Signal(object)
    #: after a message went up in the message bar
    message_shown = Signal(str)
    #: after the player shows that playback started or stopped
    playing_changed = Signal(bool)

    def __init__(self, *, tasks: Iterable[str] | None = None, models: Mapping[str, str] | None = None,
                 device: str | None = None, settings: Settings | None = None,
                 camera_factory: Callable[[int], Any] | None = None) -> None:
        check_pyside()
        super().__init__()
        self.setWindowTitle(TITLE)
        self.resize(1200, 760)
        self.settings = settings or Settings()
        self.shown: Shown | None = None
        self.media: MediaInfo | None = None
        self.pipeline_info: PipelineInfo | None = None
        self._options: dict[str, dict] = {t: dict(o) for t, o in self.settings.options.items()}
        self._export = self._export_thread = None
        self._closed = False
        self.shown_at: float | None = None  # time.time() of the first expose (set by app.py)

        plugins = get_plugins()
        specs = list(plugins.tasks)
        wanted = list(tasks) if tasks is not None else self.settings.tasks
        installed = {s.name for s in specs}
        self.canvas = ImageCanvas(self)
        self.messages = MessageBar(self)
        self.messages.shown.connect(self.message_shown.emit)
        self.player = PlayerBar(self)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 0)
        column.addWidget(self.messages)
        column.addWidget(self.canvas, 1)
        column.addWidget(self.player)
        self.setCentralWidget(central)

        self.tasks_panel = TaskPanel(specs, enabled=[t for t in wanted if t in installed],
                                     models={**self.settings.models, **dict(models or {})},
                                     hidden=self.settings.hidden_layers,
                                     device=device or self.settings.device, parent=self)
        self._tasks_scroll = TaskScrollArea(self.tasks_panel, self)
        left = self._dock("Tasks", self._tasks_scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.panels = PanelHost(self.messages.show_message, self)
        right = self._dock("Results", self.panels, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([left, right], [270, 340], Qt.Orientation.Horizontal)  # a detection table fits
        self.status = StatusInfo(self.statusBar())
        self.action_map = build_actions(self)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main toolbar")
        for name in ("open", "open_folder", "camera", "save", "copy", "zoom_fit", "zoom_100"):
            toolbar.addAction(self.action_map[name])
        self.canvas.set_hidden_layers(self.tasks_panel.hidden_layers())
        self._restore_layout()

        self.worker = InferenceWorker(camera_factory=camera_factory)
        self.worker.result_ready.connect(self._on_result)
        self.worker.pipeline_ready.connect(self._on_pipeline)
        self.worker.media_opened.connect(self._on_media)
        self.worker.media_changed.connect(self._on_media_changed)
        self.worker.noted.connect(self.show_info)
        self.worker.playing_changed.connect(self._on_playing)
        self.worker.failed.connect(self.show_error)
        self._thread = start_in_thread(self.worker, "visionkit inference")

        self.tasks_panel.config_changed.connect(self._reconfigure)
        self.tasks_panel.option_changed.connect(self._set_option)
        self.tasks_panel.layers_changed.connect(self._set_layers)
        self.player.go.connect(self.worker.show)
        self.player.step.connect(self.worker.step)
        self.player.play.connect(self.worker.play)
        self.player.speed.connect(self.worker.set_speed)
        self.player.camera.connect(self.open_source)
        self.canvas.dropped.connect(self.open_mime)
        self.canvas.painter_failed.connect(lambda text: self.messages.show_message(text, about_frame=True))
        self.panels.highlight_changed.connect(self.canvas.set_highlight)
        self.panels.option_requested.connect(self._set_option_from_panel)

        for name in (t for t in wanted if t not in installed):
            self.show_error(f"no plugin provides task {name!r} (installed: {', '.join(sorted(installed)) or 'none'})")
        if plugins.failures:
            names = ", ".join(i.name for i in plugins.failures)
            self.show_error(f"plugin(s) failed to load: {names} (Help ▸ Plugins shows why)")
        self.worker.configure(self.tasks_panel.config(self._options))

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock {title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _restore_layout(self) -> None:
        view = next(a.menu() for a in self.menuBar().actions() if a.text() == "&View")
        view.addSeparator()
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        if not self.settings.persist:
            return  # a screenshot run looks the same whatever layout the user saved
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    # -- what the worker reports ----------------------------------------------------------------
    def _on_result(self, shown: Shown) -> None:
        try:
            self.shown = shown
            result = shown.result
            if not result.error:  # first: this frame's own trouble (a painter's) may put one up again
                self.messages.frame_ok()
            self.panels.show_result(result)  # first: a panel may keep, move or drop its highlight
            self.canvas.show_result(result, highlight=self.panels.highlight)
            self.status.show_result(shown)
            self.player.set_position(shown.position, shown.count)
            name = os.path.basename(result.source.rstrip("/\\")) or result.source
            self.setWindowTitle(f"{name} — {TITLE}")
            if result.error:
                self.messages.show_message(result.error, "error", about_frame=True)
        finally:
            if not self._closed:
                self.worker.ack()  # only now may the next frame be read: one in flight
        self.result_shown.emit(shown)

    def _on_pipeline(self, info: PipelineInfo) -> None:
        self.pipeline_info = info
        self.tasks_panel.show_info(info)
        for task, options in info.options.items():
            self.panels.show_options(task, options)
            chosen = self._options.get(task, {})
            for key, value in options.items():
                if key in chosen and chosen[key] != value:  # refused: what is in force is what is kept
                    chosen[key] = value
                    self.settings.set_option(task, key, value)
        self._tasks_scroll.updateGeometry()  # option editors came or went: the dock's least width follows
        self.status.show_pipeline(info)
        self.pipeline_changed.emit(info)

    def _on_media(self, info: MediaInfo) -> None:
        self.media = info
        self.player.set_media(info.kind, info.count)
        self.status.reset()

    def _on_media_changed(self, info: MediaInfo) -> None:
        self.media = info
        self.player.set_count(info.count)

    def _on_playing(self, on: bool) -> None:
        self.player.set_playing(on)
        self.playing_changed.emit(on)

    def show_error(self, text: str) -> None:
        self.messages.show_message(text, "error")

    def show_info(self, text: str) -> None:
        self.messages.show_message(text, "info")

    # -- what the user changes --------------------------------------------------------------------
    def _reconfigure(self) -> None:
        panel = self.tasks_panel
        self.settings.tasks = panel.enabled()
        self.settings.models = panel.models()
        self.settings.device = panel.device.currentText()
        self.worker.configure(panel.config(self._options))

    def _set_option(self, task: str, name: str, value: Any) -> None:
        self._options.setdefault(task, {})[name] = value
        self.panels.show_options(task, {name: value})
        self.settings.set_option(task, name, value)
        self.worker.set_options(task, {name: value})

    def _set_option_from_panel(self, task: str, name: str, value: Any) -> None:
        box = self.tasks_panel.boxes.get(task)
        editor = box.editors.get(name) if box is not None else None
        if editor is not None:  # the task list shows what the panel chose
            show_value(editor, value)
        self._set_option(task, name, value)

    def _set_layers(self, hidden: set[str]) -> None:
        self.canvas.set_hidden_layers(hidden)
        self.settings.hidden_layers = hidden

    # -- actions --------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        self.player.toggle_play()

    def previous(self) -> None:
        self.worker.step(-1)

    def next(self) -> None:
        self.worker.step(1)

    step_forward, step_back = next, previous

    def first(self) -> None:
        self.worker.show(0)

    def last(self) -> None:
        if self.media is not None and self.media.count:
            self.worker.show(self.media.count - 1)

    def zoom_fit(self) -> None:
        self.canvas.fit()

    def zoom_100(self) -> None:
        self.canvas.actual_size()

    def zoom_in(self) -> None:
        self.canvas.zoom_by(1.25)

    def zoom_out(self) -> None:
        self.canvas.zoom_by(0.8)

    def dismiss_message(self) -> None:
        self.messages.dismiss()

    def show_plugins(self) -> PluginsDialog:
        dialog = PluginsDialog(get_plugins(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()  # non-modal: the video keeps playing
        return dialog

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the background threads and wait for them; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.cancel_export(wait=True)
        self.worker.shutdown()
        if not self._thread.wait(15000):
            self.messages.show_message("inference thread did not stop within 15 s")
