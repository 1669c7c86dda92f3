"""The task list: turn installed tasks on and off, pick each one's model, edit its options live,
show or hide its overlay layer, and pick the device.

Every enabled task runs in one Pipeline, so they all share one backbone pass. Option editors
appear once the worker has built the pipeline and reported each task's real options (a card
may change a default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QScrollArea, QToolButton, QVBoxLayout, QWidget)

from visionkit.registry import TaskSpec

from .elide import ElidingComboBox
from .options import option_widget
from .worker import Config, PipelineInfo

DEVICES = ("auto", "cpu", "cuda")


class TaskBox(QGroupBox):
    """One task: on/off (the box's check), overlay layer, model, options."""

    def __init__(self, spec: TaskSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec.name, parent)
        self.spec = spec
        self.setCheckable(True)
        self.setToolTip(f"{spec.summary} (plugin {spec.plugin or '?'})")
        self.layer = QCheckBox("show overlay", self)
        self.layer.setChecked(True)
        # long file names are shortened in the box (the list and the tooltip show them whole)
        self.model = ElidingComboBox(self, tip="the model this task runs: its default, or any .onnx with a "
                                               "card")
        default = Path(str(spec.default_model)).name.removeprefix("asset:") if spec.default_model else "none"
        self.model.addItem(f"default: {default}", None)
        self.browse = QToolButton(self)
        self.browse.setText("…")
        self.browse.setToolTip("Choose an .onnx model (it needs a card: embedded or NAME.card.json)")
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(self.browse)
        self.form = QFormLayout()
        self.form.addRow(self.layer)
        self.form.addRow(row)  # the box's whole width: a model's file name is long
        self.setLayout(self.form)
        self.editors: dict[str, QWidget] = {}

    def model_path(self) -> str | None:
        return self.model.currentData()

    def set_model(self, path: str | None) -> None:
        if path is None:
            self.model.setCurrentIndex(0)
            return
        index = self.model.findData(path)
        if index < 0:
            self.model.addItem(Path(path).name, path)
            index = self.model.count() - 1
            self.model.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
        self.model.setCurrentIndex(index)
        self.model.refresh_tip()  # the new item's tooltip, also when it was already current

    def set_options(self, options: Mapping[str, Any], defaults: Mapping[str, Any], changed) -> None:
        for editor in self.editors.values():
            self.form.removeRow(editor)
        self.editors = {}
        for name, value in options.items():
            if name in defaults:
                editor = option_widget(defaults[name], value, lambda v, n=name: changed(self.spec.name, n, v), self)
                editor.setObjectName(f"option:{self.spec.name}:{name}")
                self.form.addRow(name, editor)
                self.editors[name] = editor


class TaskPanel(QWidget):
    config_changed = Signal()  # tasks, models or device: the pipeline must be rebuilt
    option_changed = Signal(str, str, object)  # task, option, value: applied live
    layers_changed = Signal(object)  # the set of tasks whose overlay is hidden

    def __init__(self, specs: Iterable[TaskSpec], *, enabled: Iterable[str] = (), models: Mapping[str, str] = {},
                 hidden: Iterable[str] = (), device: str = "auto", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.device = QComboBox(self)
        self.device.addItems(DEVICES)
        self.device.setCurrentText(device if device in DEVICES else "auto")
        self.device.setToolTip("auto uses CUDA where its libraries load, else the CPU")
        self.device.currentTextChanged.connect(lambda _: self.config_changed.emit())
        row = QHBoxLayout()
        row.addWidget(QLabel("device", self))
        row.addWidget(self.device, 1)
        layout.addLayout(row)
        self.boxes: dict[str, TaskBox] = {}
        enabled, hidden = set(enabled), set(hidden)
        for spec in specs:
            box = TaskBox(spec, self)
            box.setChecked(spec.name in enabled)
            box.set_model(models.get(spec.name))
            box.layer.setChecked(spec.name not in hidden)
            box.toggled.connect(lambda _: self.config_changed.emit())
            box.model.currentIndexChanged.connect(lambda _: self.config_changed.emit())
            box.browse.clicked.connect(lambda _=False, b=box: self._browse(b))
            box.layer.toggled.connect(lambda _: self.layers_changed.emit(self.hidden_layers()))
            layout.addWidget(box)
            self.boxes[spec.name] = box
        if not self.boxes:
            layout.addWidget(QLabel("No tasks installed (see Help ▸ Plugins).", self))
        layout.addStretch(1)

    def _browse(self, box: TaskBox) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Model for {box.spec.name}", "", "ONNX models (*.onnx)")
        if path:
            box.set_model(path)

    # -- state ----------------------------------------------------------------------------------
    def enabled(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.isChecked()]

    def set_enabled(self, name: str, on: bool) -> None:
        self.boxes[name].setChecked(on)

    def models(self) -> dict[str, str]:
        return {n: b.model_path() for n, b in self.boxes.items() if b.model_path()}

    def hidden_layers(self) -> set[str]:
        return {n for n, b in self.boxes.items() if not b.layer.isChecked()}

    def config(self, options: Mapping[str, Mapping[str, Any]]) -> Config:
        tasks = tuple(self.enabled())
        # every box's model, the off ones' too: a task that is on may need one of them
        return Config(tasks=tasks, models=self.models(), device=self.device.currentText(),
                      options={t: dict(options.get(t, {})) for t in tasks})

    def show_info(self, info: PipelineInfo) -> None:
        """The pipeline the worker built: real options get editors; tasks that failed go off."""
        for name, box in self.boxes.items():
            box.blockSignals(True)
            if name in info.dropped:
                box.setChecked(False)
            box.blockSignals(False)
            # a task the pipeline added for another runs (and draws) though its box is off: say so
            needer = info.added.get(name)
            box.setTitle(f"{name} (runs for {needer})" if needer else name)
            box.set_options(info.options.get(name, {}), info.defaults.get(name, {}), self.option_changed.emit)
            if name in info.models:
                box.setToolTip(f"{box.spec.summary}; model {info.models[name]} (plugin {box.spec.plugin or '?'})")


class TaskScrollArea(QScrollArea):
    """Scrolls the task list up and down, and is never narrower than the list itself plus its
    scroll bar, so the dock around it cannot cut off the right edge of sliders and names."""

    def __init__(self, panel: TaskPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        hint = super().minimumSizeHint()
        width = (self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                 + 2 * self.frameWidth())
        return QSize(max(hint.width(), width), hint.height())
