"""Option editors built from a task's ``default_options`` alone, so a plugin's new options
(a score threshold, an NMS IoU, ...) get a widget without any GUI code: int -> spin box,
float -> slider with a spin box, bool -> check box, str -> line edit.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QSlider, QSpinBox, QWidget

Changed = Callable[[Any], None]
_SLIDER_STEPS = 1000


def _int_range(default: int) -> tuple[int, int]:
    low = 1 if default >= 1 else (0 if default >= 0 else -1_000_000)  # a positive default is a count
    return low, max(1000, abs(default) * 100)


def _float_range(default: float) -> tuple[float, float]:
    if 0.0 <= default <= 1.0:
        return 0.0, 1.0  # thresholds, IoUs, probabilities
    span = max(10.0, abs(default) * 10.0)
    return (-span if default < 0 else 0.0), span


class FloatOption(QWidget):
    """A slider for dragging and a spin box for exact values, kept in step."""

    def __init__(self, value: float, default: float, changed: Changed, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high = _float_range(default)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, _SLIDER_STEPS)
        self.spin = QDoubleSpinBox(self)
        self.spin.setRange(self.low, self.high)
        self.spin.setDecimals(3)
        self.spin.setSingleStep((self.high - self.low) / 100.0)
        # as wide as its widest value, whatever room the panel has: the value is what matters
        self.spin.setFixedWidth(self.spin.sizeHint().width())
        self.slider.setMinimumWidth(self.fontMetrics().horizontalAdvance("x" * 6))
        self._changed = changed
        self._set(float(value))
        self.slider.valueChanged.connect(lambda v: self._user(self.low + (self.high - self.low) * v / _SLIDER_STEPS))
        self.spin.valueChanged.connect(self._user)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)

    def _set(self, value: float) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(round((value - self.low) / (self.high - self.low) * _SLIDER_STEPS))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

    def _user(self, value: float) -> None:
        value = round(float(value), 4)
        self._set(value)
        self._changed(value)

    def value(self) -> float:
        return self.spin.value()


def option_widget(default: Any, value: Any, changed: Changed, parent: QWidget | None = None) -> QWidget:
    """The editor for one option; ``changed(new_value)`` is called on every user edit."""
    if isinstance(default, bool):
        box = QCheckBox(parent)
        box.setChecked(bool(value))
        box.toggled.connect(lambda on: changed(bool(on)))
        return box
    if isinstance(default, int):
        spin = QSpinBox(parent)
        spin.setRange(*_int_range(default))
        spin.setValue(int(value))
        spin.valueChanged.connect(lambda v: changed(int(v)))
        return spin
    if isinstance(default, float):
        return FloatOption(float(value), default, changed, parent)
    if isinstance(default, str):
        line = QLineEdit(str(value), parent)
        line.editingFinished.connect(lambda: changed(line.text()))
        return line
    label = QLabel(repr(value), parent)
    label.setToolTip("this option's type has no editor; set it in the model card")
    return label


def show_value(editor: QWidget, value: Any) -> None:
    """Put ``value`` in an editor made by :func:`option_widget` without reporting it as an edit
    (the option was changed elsewhere: a panel's picker)."""
    if isinstance(editor, FloatOption):
        editor._set(float(value))
        return
    editor.blockSignals(True)
    try:
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(str(value))
    finally:
        editor.blockSignals(False)
