"""The desktop app's Explain panel: pick a method, the class to explain, a layer and unit, and
epsilon, and read the explanation's numbers.

The pickers set the explain task's options (the panel emits ``option_requested(name, value)``;
the app applies it as if the option had been edited in the task list), so the next frame, or
the redraw of a still, shows the new explanation. The class list is the frame's top
predictions; "top prediction" follows whatever the classifier sees. Qt lives here only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSlider, QSpinBox, QVBoxLayout, QWidget

from visionkit.plugins.explain.painter import lines
from visionkit.plugins.explain.runtime import METHODS

TOP = "top prediction"
#: the shared backbone's feature maps, shallow to deep ("" is the method's own default)
LAYERS = ("", "c2", "c3", "c4", "c5")
#: methods that read a layer, and those that read a unit of it
LAYER_METHODS = frozenset({"activation", "patches", "gradcam", "inversion"})
UNIT_METHODS = frozenset({"activation", "patches"})
#: epsilon slider range in grey levels (of 255): FGSM flips most confident photos well inside it
EPS_MAX = 16
METHOD_TIPS = {
    "occlusion": "grey out squares, watch the score fall (any model, no gradients)",
    "saliency": "largest gradient of the score per pixel",
    "gradcam": "a layer's channels weighted by their mean gradient",
    "guided": "the gradient through ReLUs that pass only positive signals",
    "activation": "one unit's response over the frame",
    "patches": "the patches of a folder that excite the unit most (set folder in the task list)",
    "classmodel": "a picture made to maximise the class",
    "inversion": "a picture made to match a layer's features",
    "fgsm": "one signed gradient step of epsilon: does the prediction flip?",
    "pgd": "several projected steps inside epsilon",
}


class ExplainPanel(QWidget):
    """Method, class, layer and unit pickers, an epsilon slider, and the numbers."""

    option_requested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = QComboBox(self)
        for name in METHODS:
            self.method.addItem(name)
            self.method.setItemData(self.method.count() - 1, METHOD_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.method.activated.connect(lambda i: self.option_requested.emit("method", self.method.itemText(i)))
        self.target = QComboBox(self)
        self.target.addItem(TOP, "")
        self.target.activated.connect(lambda i: self.option_requested.emit("target", self.target.itemData(i)))
        self.layer = QComboBox(self)
        for name in LAYERS:
            self.layer.addItem(name or "default", name)
        self.layer.activated.connect(lambda i: self.option_requested.emit("layer", self.layer.itemData(i)))
        self.unit = QSpinBox(self)
        self.unit.setRange(-1, 4095)
        self.unit.setSpecialValueText("most active")
        self.unit.setValue(-1)
        self.unit.setKeyboardTracking(False)  # typing 123 asks once, not for 1, 12 and 123
        self.unit.valueChanged.connect(lambda v: self.option_requested.emit("channel", int(v)))
        self.eps = QSlider(Qt.Orientation.Horizontal, self)
        self.eps.setRange(1, EPS_MAX)
        self.eps.setValue(2)
        self.eps_label = QLabel("2/255", self)
        # while dragging only the label follows; the attack runs once, where the slider is let go
        self.eps.setTracking(False)
        self.eps.sliderMoved.connect(lambda v: self.eps_label.setText(f"{v}/255"))
        self.eps.valueChanged.connect(self._eps_changed)
        self.text = QLabel("Waiting for a frame…", self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        form = QFormLayout()
        form.addRow("method", self.method)
        form.addRow("class", self.target)
        form.addRow("layer", self.layer)
        form.addRow("unit", self.unit)
        eps_row = QWidget(self)
        row = QVBoxLayout(eps_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.eps)
        row.addWidget(self.eps_label)
        form.addRow("epsilon", eps_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.text)
        self.result: Any = None

    def _eps_changed(self, value: int) -> None:
        self.eps_label.setText(f"{value}/255")
        self.option_requested.emit("eps", float(value))

    def update_result(self, result: Any, frame_result: Any = None) -> None:
        self.result = result
        self.method.setCurrentText(result.method)
        self.eps.setEnabled(result.method in ("fgsm", "pgd"))
        self.layer.setEnabled(result.method in LAYER_METHODS)
        self.unit.setEnabled(result.method in UNIT_METHODS)
        if "eps" in result.numbers:
            self.eps.blockSignals(True)
            self.eps.setValue(int(result.numbers["eps"]))
            self.eps_label.setText(f"{int(result.numbers['eps'])}/255")
            self.eps.blockSignals(False)
        top = getattr(frame_result, "results", {}).get("classify") if frame_result is not None else None
        if top is not None:
            self._fill_classes(top)
        self.text.setText("\n".join(lines(result)))

    def _fill_classes(self, top: Any) -> None:
        chosen = self.target.currentData()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItem(TOP, "")
        for cid, label, score in zip(top.class_ids, top.labels, top.scores):
            self.target.addItem(f"{label} ({score:.2f})", str(cid))
        index = self.target.findData(chosen)
        if index < 0 and chosen:  # a class chosen on an earlier frame stays, though no longer in the top
            self.target.addItem(f"class {chosen}", chosen)
            index = self.target.count() - 1
        self.target.setCurrentIndex(max(0, index))
        self.target.blockSignals(False)

    def show_options(self, options: dict[str, Any]) -> None:
        """Show the task's options in force (set in the task list, or restored), silently."""
        pickers = (self.method, self.target, self.layer, self.unit, self.eps)
        for w in pickers:
            w.blockSignals(True)
        try:
            if "method" in options:
                self.method.setCurrentText(str(options["method"]))
            if "target" in options:
                self._pick(self.target, str(options["target"]), f"class {options['target']}")
            if "layer" in options:
                self._pick(self.layer, str(options["layer"]), str(options["layer"]))
            if "channel" in options:
                self.unit.setValue(int(options["channel"]))
            if "eps" in options:
                levels = max(1, min(EPS_MAX, round(float(options["eps"]))))
                self.eps.setValue(levels)
                self.eps_label.setText(f"{levels}/255")
        finally:
            for w in pickers:
                w.blockSignals(False)

    @staticmethod
    def _pick(box: QComboBox, data: str, text: str) -> None:
        index = box.findData(data)
        if index < 0:  # a value typed elsewhere (a standalone model's tensor name, a class number)
            box.addItem(text, data)
            index = box.count() - 1
        box.setCurrentIndex(index)

    def numbers(self) -> str:
        return self.text.text()
