"""Tasks in the app: several at once on one backbone, options live, layers, panels, models."""

import shutil
import types

import numpy as np
import pytest
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QLineEdit, QSpinBox

from visionkit import plugin_manager
from visionkit.gui.options import FloatOption, option_widget
from visionkit.gui.panels.generic import GenericPanel
from visionkit.gui.settings import Settings
from visionkit.hookspecs import hookimpl
from visionkit.plugins.classify.panel import ProbabilityPanel
from visionkit.plugins.classify.runtime import ClassifyTask
from visionkit.registry import TaskSpec

from .conftest import _retask, wait_message, wait_result


def test_toggle_tasks_they_share_one_backbone(qtbot, make_window, images, extra_tasks):
    window = make_window()
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    # every installed task gets a box: the test plugin's and the built-ins
    assert {"classify", "colour", "tally", "slow", "detect", "segment"} <= set(window.tasks_panel.boxes)
    shown = wait_result(qtbot, window, lambda: window.tasks_panel.set_enabled("colour", True),
                        check=lambda s: "colour" in s.result.results)
    result = shown.result
    assert result["classify"].top[0] == result["colour"].top[0] == "red"
    assert list(result.timings_ms).count("backbone") == 1  # one backbone pass for both heads
    info = window.pipeline_info
    assert set(info.models) == {"backbone", "classify", "colour"} and info.models["backbone"] == "tiny_backbone.onnx"
    assert isinstance(window.panels.panels["colour"], ProbabilityPanel)
    assert "colour" in window.status.models.text()
    assert Settings().tasks == ["classify", "colour"]  # remembered
    shown = wait_result(qtbot, window, lambda: window.tasks_panel.set_enabled("classify", False),
                        check=lambda s: "classify" not in s.result.results)
    assert list(shown.result.results) == ["colour"] and "classify" not in window.panels.panels


def test_layer_toggle_redraws_without_running_again(qtbot, make_window, images):
    window = make_window()
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img2_green.png")))
    with_overlay = window.canvas.rendered.copy()
    window.tasks_panel.boxes["classify"].layer.setChecked(False)
    assert np.array_equal(window.canvas.rendered, shown.result.image)  # the plain frame
    assert window.shown is shown and Settings().hidden_layers == ["classify"]
    window.tasks_panel.boxes["classify"].layer.setChecked(True)
    assert np.array_equal(window.canvas.rendered, with_overlay)


def test_changing_topk_changes_overlay_and_panel_and_is_remembered(qtbot, make_window, images):
    window = make_window()
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    assert len(window.panels.panels["classify"].rows()) == 3  # the tiny head's card says topk 3
    panel_lines = lambda: [p.text for p in window.canvas.shown_labels() if p.kind == "panel"]  # noqa: E731
    assert len(panel_lines()) == 3
    spin = window.tasks_panel.boxes["classify"].editors["topk"]
    assert isinstance(spin, QSpinBox) and spin.value() == 3 and spin.minimum() == 1
    shown = wait_result(qtbot, window, lambda: spin.setValue(1),
                        check=lambda s: len(s.result["classify"].labels) == 1)
    assert shown.result["classify"].labels == ("red",)
    assert len(window.panels.panels["classify"].rows()) == 1
    lines = panel_lines()
    assert len(lines) == 1 and lines[0].startswith("red ")  # fewer lines on the overlay
    assert Settings().options == {"classify": {"topk": 1}}
    window.close()
    again = make_window()
    qtbot.waitUntil(lambda: again.pipeline_info is not None, timeout=5000)
    assert again.pipeline_info.options["classify"]["topk"] == 1
    assert again.tasks_panel.boxes["classify"].editors["topk"].value() == 1


def test_result_without_a_panel_gets_the_generic_one(qtbot, make_window, images, extra_tasks):
    window = make_window(tasks=["tally"], models={})
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img10_blue.png")))
    panel = window.panels.panels["tally"]
    assert isinstance(panel, GenericPanel) and '"count": 3' in panel.toPlainText()
    assert np.array_equal(window.canvas.rendered, shown.result.image)  # no painter: nothing drawn


def test_a_model_that_will_not_load_turns_its_task_off_with_a_message(qtbot, make_window, images, tmp_path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"<html>not a model</html>")
    window = make_window(models={"classify": str(bogus)})
    text = wait_message(qtbot, window, lambda: None, "classify is off")
    assert "bogus.onnx" in text
    assert not window.tasks_panel.boxes["classify"].isChecked()
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    assert shown.result.ok and shown.result.results == {} and window.canvas.rendered is not None
    assert window.status.provider.text() == "no task on"


def test_model_choice_per_task(qtbot, make_window, images, tiny_models):
    window = make_window(models={})  # the default, bundled model (absent in this checkout: a message)
    box = window.tasks_panel.boxes["classify"]
    assert box.model.itemText(0).startswith("default: ")
    box.setChecked(True)
    shown = wait_result(qtbot, window, lambda: (box.set_model(str(tiny_models["head"])),
                                                 window.open_source(str(images / "img1_red.png"))),
                        check=lambda s: "classify" in s.result.results)
    assert shown.result["classify"].top[0] == "red" and box.model.currentText() == "tiny_head.onnx"
    assert Settings().models == {"classify": str(tiny_models["head"])}


def test_option_widgets_come_from_default_options(qtbot):
    seen = []
    defaults = {"topk": 5, "score": 0.25, "nms_iou": 0.5, "agnostic": False, "mode": "fast"}
    widgets = {name: option_widget(default, default, seen.append) for name, default in defaults.items()}
    for w in widgets.values():
        qtbot.addWidget(w)
    assert isinstance(widgets["topk"], QSpinBox) and isinstance(widgets["agnostic"], QCheckBox)
    assert isinstance(widgets["score"], FloatOption) and isinstance(widgets["mode"], QLineEdit)
    assert (widgets["score"].low, widgets["score"].high) == (0.0, 1.0)
    widgets["score"].slider.setValue(700)
    assert seen[-1] == 0.7 and widgets["score"].spin.value() == 0.7
    widgets["nms_iou"].findChild(QDoubleSpinBox).setValue(0.45)
    assert seen[-1] == 0.45 and widgets["nms_iou"].slider.value() == 450
    widgets["agnostic"].setChecked(True)
    assert seen[-1] is True


def test_plugins_dialog_lists_plugins_and_failures(qtbot, make_window, monkeypatch):
    from importlib import metadata

    from visionkit import plugin_manager

    class Broken:
        name, value, dist = "broken", "broken_plugin", None

        def load(self):
            raise ImportError("No module named 'broken_plugin'")

    eps = list(metadata.entry_points(group=plugin_manager.ENTRY_POINT_GROUP)) + [Broken()]
    plugin_manager.set_plugins(plugin_manager.load_plugins(eps))
    window = make_window()
    assert "broken" in window.messages.history[0]
    dialog = window.show_plugins()
    qtbot.addWidget(dialog)
    rows = {row[0]: row for row in dialog.rows()}
    assert rows["classify"][1] == "loaded" and rows["classify"][2] == "visionkit"
    assert "tasks: classify" in rows["classify"][4] and "panels: classification" in rows["classify"][4]
    assert rows["broken"][1] == "failed" and "No module named 'broken_plugin'" in rows["broken"][5]
    assert not dialog.isModal()


def test_inference_runs_off_the_ui_thread_and_close_aborts_it(qtbot, make_window, images, extra_tasks):
    import time

    from PySide6.QtCore import QTimer

    window = make_window(tasks=["slow"], models={})
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    timer.stop()
    assert shown.result["slow"].top[0] == "red" and shown.result.timings_ms["slow.post"] >= 290
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 15 and max(gaps) < 0.15  # the UI kept running while the model worked
    window.next()  # nothing there; then a frame that is still being computed while we close
    window.open_source(str(images / "img2_green.png"))
    qtbot.wait(50)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1.0 and not window._thread.isRunning()


def test_a_task_run_for_another_says_so(qtbot):
    from visionkit.gui.tasks_panel import TaskPanel
    from visionkit.gui.worker import PipelineInfo
    from visionkit.registry import TaskSpec

    specs = [TaskSpec(name, f"{name} task", "visionkit.tasks:Task") for name in ("detect", "pose")]
    panel = TaskPanel(specs, enabled=["pose"])
    qtbot.addWidget(panel)
    info = PipelineInfo(options={"detect": {}, "pose": {}}, defaults={"detect": {}, "pose": {}}, provider="cpu",
                        models={}, dropped={}, added={"detect": "pose"})
    panel.show_info(info)
    assert panel.boxes["detect"].title() == "detect (runs for pose)"
    assert panel.boxes["pose"].title() == "pose"
    panel.show_info(PipelineInfo(options={}, defaults={}, provider="cpu", models={}, dropped={}))
    assert panel.boxes["detect"].title() == "detect"


class NeedyTask(ClassifyTask):
    """Reads the 'colour' task's result, as pose reads detect's."""

    name = "needy"

    def needs(self):
        return ("colour",)


@pytest.fixture
def needy_tasks(tiny_models, tmp_path):
    """Installs tasks 'colour' (Classification) and 'needy', which needs colour."""
    heads = {t: _retask(tiny_models["head"], t, tmp_path) for t in ("colour", "needy")}

    @hookimpl
    def visionkit_register_tasks(registry):
        for task, factory in (("colour", "tests.gui.conftest:ColourTask"),
                              ("needy", "tests.gui.test_tasks:NeedyTask")):
            registry.add(TaskSpec(name=task, summary=f"test {task}", factory=factory,
                                  default_model=str(heads[task])))

    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)
    with plugin_manager.plugins_added(("needy", plugin)):
        yield heads


def test_a_task_added_for_another_runs_the_model_the_user_gave_it(qtbot, make_window, images, needy_tasks):
    # another classify-like model for 'colour', the task that 'needy' needs and the user left off
    mine = shutil.copy(needy_tasks["colour"], needy_tasks["colour"].with_name("my_colour.onnx"))
    window = make_window(tasks=["needy"], models={"colour": str(mine)})
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    info = window.pipeline_info
    assert info.added == {"colour": "needy"} and info.dropped == {}
    assert info.models["colour"] == "my_colour.onnx"  # not its default, colour_head.onnx
    assert "colour=my_colour.onnx" in window.status.models.text()
    box = window.tasks_panel.boxes["colour"]
    assert not box.isChecked() and box.model_path() == str(mine) and box.title() == "colour (runs for needy)"
    assert shown.result["colour"].top[0] == "red"


def test_turning_an_option_on_that_needs_another_task_adds_it_and_says_so(qtbot, make_window, images):
    # the bundled detector and embed head share one backbone, so reid is one checkbox away
    window = make_window(tasks=["track"], models={})
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    assert window.pipeline_info.added == {"detect": "track"}
    reid = window.tasks_panel.boxes["track"].editors["reid"]
    assert isinstance(reid, QCheckBox) and not reid.isChecked()
    with qtbot.waitSignal(window.pipeline_changed, timeout=10000):
        reid.setChecked(True)
    assert window.pipeline_info.added == {"detect": "track", "embed": "track"}
    assert window.tasks_panel.boxes["embed"].title() == "embed (runs for track)"
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    assert shown.result.ok and "embed" in shown.result.results
