"""The window at 1280x800: nothing in the task list or the status bar is cut off, long names are
shortened with the whole name in the tooltip, labels on the canvas are sharp text that never
overlaps, and a message about a bad frame goes when a good one follows."""

from __future__ import annotations

import types

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLabel, QWidget
from visionkit.gui.elide import ElidedLabel
from visionkit.gui.options import FloatOption
from visionkit.plugins.classify.runtime import ClassifyTask

from visionkit import plugin_manager
from visionkit.hookspecs import hookimpl
from visionkit.registry import TaskSpec

from .conftest import _retask, wait_result


class KnobsTask(ClassifyTask):
    """A classifier with the kinds of option the built-in tasks have (thresholds, counts, flags)."""

    name = "knobs"
    default_options = {**ClassifyTask.default_options, "score": 0.3, "iou": 0.45, "max_instances": 50,
                       "whole_image": False}


@pytest.fixture
def knobs(tiny_models, tmp_path):
    """Task 'knobs', whose model has a long file name."""
    head = _retask(tiny_models["head"], "knobs", tmp_path)
    long = head.with_name("a_model_with_a_very_long_file_name_from_another_project.onnx")
    head.rename(long)

    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="knobs", summary="options", factory="tests.gui.test_layout:KnobsTask",
                              default_model=str(long)))

    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)
    with plugin_manager.plugins_added(("knobs", plugin)):
        yield long


def inside(widget: QWidget, area: QWidget) -> bool:
    """Whether ``widget`` lies left to right within ``area`` (a viewport that clips it)."""
    top_left = widget.mapTo(area, QPoint(0, 0))
    return top_left.x() >= 0 and top_left.x() + widget.width() <= area.width()


def test_at_1280x800_nothing_is_cut_off(qtbot, make_window, images, knobs, tiny_models):
    window = make_window(tasks=["classify", "knobs"], models={"classify": str(tiny_models["head"])})
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.pipeline_info is not None and "knobs" in window.pipeline_info.options,
                    timeout=5000)
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    qtbot.wait(50)  # the docks settle
    viewport = window._tasks_scroll.viewport()
    box = window.tasks_panel.boxes["knobs"]
    assert set(box.editors) == {"topk", "score", "iou", "max_instances", "whole_image"}
    for widget in window.tasks_panel.findChildren(QWidget):
        if widget.isVisible() and isinstance(widget, (QLabel, QComboBox, QAbstractSpinBox, FloatOption)):
            assert inside(widget, viewport), f"{widget.objectName() or type(widget).__name__} is cut off"
    for name in ("score", "iou"):  # the slider's value shows whole
        spin = box.editors[name].spin
        assert spin.fontMetrics().horizontalAdvance(spin.text()) <= spin.lineEdit().width()
    for label in window.tasks_panel.findChildren(QLabel):
        if label.isVisible() and label.text():  # form labels: "max_instances" is the longest
            assert label.sizeHint().width() <= label.width(), label.text()
    # a long model name is shortened, and its tooltip has it whole
    combo = box.model
    assert combo.shown_text() != combo.currentText() and "…" in combo.shown_text()
    assert combo.fontMetrics().horizontalAdvance(combo.shown_text()) <= combo.width()
    assert knobs.name in combo.currentText() and knobs.name in combo.toolTip()

    bar = window.statusBar()
    status = window.status
    assert "knobs=a_model_with_a_very_long" in status.models.text()
    for label in (status.timings, status.fps, status.provider, status.models):
        if label.isVisible():
            assert QRect(QPoint(0, 0), bar.size()).contains(label.geometry()), label.text()
        if isinstance(label, ElidedLabel) and label.text():
            assert label.fontMetrics().horizontalAdvance(label.shown_text()) <= label.contentsRect().width()
    assert status.models.shown_text() != status.models.text()  # too long for the bar: shortened
    assert status.models.text() in status.models.toolTip()
    assert status.timings.shown_text().endswith("ms")  # shortened in the middle: the total stays


def test_a_message_about_a_bad_frame_goes_when_a_good_one_shows(qtbot, make_window, images):
    (images / "img3_bad.png").write_text("this is no image")
    (images / "img4_worse.png").write_text("nor this")
    window = make_window()
    wait_result(qtbot, window, lambda: window.open_source(str(images)))  # img1, img2, img3, img4, img10
    window.show_info("an unrelated note")
    wait_result(qtbot, window, window.next)
    assert window.messages.text() == "an unrelated note"  # not about a frame: it stays
    bad = wait_result(qtbot, window, window.next)
    assert bad.result.error and "not an image" in window.messages.text()
    worse = wait_result(qtbot, window, window.next)  # the next one fails too: the bar stays up
    assert worse.result.error and "img4_worse.png" in window.messages.text()
    good = wait_result(qtbot, window, window.next)
    assert good.result.ok and window.messages.text() == "" and not window.messages.isVisible()
    assert any("img4_worse.png" in m for m in window.messages.history)  # kept in the history
