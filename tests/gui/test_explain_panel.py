"""The Explain panel: its pickers set the explain task's options, and the canvas shows the new
explanation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionkit.imageio import write_image
from visionkit.plugins.explain.panel import ExplainPanel
from visionkit.results import Classification, Explanation

from .conftest import wait_result

pytest.importorskip("torch")


def test_pickers_request_options(qtbot):
    panel = ExplainPanel()
    qtbot.addWidget(panel)
    top = Classification((3, 7), ("cat", "dog"), (0.8, 0.1))
    frame = type("F", (), {"results": {"classify": top}})()
    panel.update_result(Explanation("fgsm", "class 'cat' (3)", numbers={
        "eps": 4.0, "before": {"class": "cat", "score": 0.8}, "after": {"class": "dog", "score": 0.5},
        "flipped": True}), frame)
    assert panel.eps.value() == 4 and panel.eps.isEnabled()
    assert "after eps 4/255: dog 0.500 (flipped)" in panel.numbers()
    assert [panel.target.itemData(i) for i in range(panel.target.count())] == ["", "3", "7"]
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.target.activated.emit(2)
    assert blocker.args == ["target", "7"]
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.method.activated.emit(panel.method.findText("gradcam"))
    assert blocker.args == ["method", "gradcam"]
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.eps.setValue(6)
    assert blocker.args == ["eps", 6.0]
    assert not panel.unit.isEnabled()  # fgsm reads no unit
    panel.update_result(Explanation("activation", "c4 channel 9", numbers={"layer": "c4", "channel": 9}), frame)
    assert panel.unit.isEnabled() and panel.layer.isEnabled() and not panel.eps.isEnabled()
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.layer.activated.emit(panel.layer.findData("c3"))
    assert blocker.args == ["layer", "c3"]
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.unit.setValue(12)
    assert blocker.args == ["channel", 12]


def test_choosing_a_method_in_the_panel_redraws_the_frame(qtbot, make_window, tmp_path):
    rng = np.random.default_rng(0)
    image = np.full((96, 128, 3), 80, np.uint8)
    cv2.circle(image, (64, 48), 30, (40, 160, 230), -1)
    path = tmp_path / "photo.png"
    write_image(path, np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8))
    window = make_window(tasks=["explain"], models={})
    window._set_option("explain", "patch", 64)
    window._set_option("explain", "stride", 64)
    shown = wait_result(qtbot, window, lambda: window.open_source(str(path)), timeout=30000)
    assert shown.result["explain"].method == "occlusion"
    panel = window.panels.panels["explain"]
    assert isinstance(panel, ExplainPanel)
    shown = wait_result(qtbot, window, lambda: panel.method.activated.emit(panel.method.findText("gradcam")),
                        check=lambda s: s.result["explain"].method == "gradcam", timeout=30000)
    assert window.tasks_panel.boxes["explain"].editors["method"].text() == "gradcam"
    assert panel.method.currentText() == "gradcam"
    # an option set in the task list shows in the panel's pickers
    window._set_option("explain", "layer", "c4")
    window._set_option("explain", "channel", 7)
    assert panel.layer.currentData() == "c4" and panel.unit.value() == 7


def test_show_options_sets_pickers_silently(qtbot):
    panel = ExplainPanel()
    qtbot.addWidget(panel)
    with qtbot.assertNotEmitted(panel.option_requested):
        panel.show_options({"method": "pgd", "target": "281", "layer": "conv10_2", "channel": 3, "eps": 4.0})
    assert panel.method.currentText() == "pgd" and panel.target.currentData() == "281"
    assert panel.layer.currentData() == "conv10_2" and panel.unit.value() == 3 and panel.eps.value() == 4
