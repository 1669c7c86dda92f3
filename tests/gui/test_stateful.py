"""Tasks with state across frames, and results that replace the picture, in the app.

A counter task (no model, stateful) counts the frames it has seen since its last reset: playing
on counts up, a redraw after an option change does not count, a jump starts again from one.
"""

from __future__ import annotations

import threading
import types
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtWidgets import QCheckBox

from visionkit import plugin_manager
from visionkit.hookspecs import hookimpl
from visionkit.registry import TaskSpec
from visionkit.tasks import Task

from .conftest import wait_result

#: what the counter tasks were told, in order: "reset" and "finish"
EVENTS: list[str] = []
_events_lock = threading.Lock()


def _note(event: str) -> None:
    with _events_lock:
        EVENTS.append(event)


@dataclass(frozen=True)
class Seen:
    count: int  # frames seen since the last reset, this one included
    frame: int

    kind: ClassVar[str] = "seen"
    schema_version: ClassVar[int] = 1

    def to_dict(self) -> dict:
        return {"count": self.count, "frame": self.frame}


class CounterTask(Task):
    name = "counter"
    stateful = True
    requires_model = False
    default_options = {"loud": False}

    def __init__(self, model=None, **options):
        super().__init__(model, **options)
        self.seen = 0

    def reset(self) -> None:
        self.seen = 0
        _note("reset")

    def finish(self) -> None:
        _note("finish")

    def decode(self, outputs, inputs):
        self.seen += 1
        return Seen(self.seen, inputs.frame.index)


@dataclass(frozen=True)
class Tinted:
    """A new picture at half the frame's size, solid blue."""

    picture: np.ndarray

    kind: ClassVar[str] = "tinted"
    schema_version: ClassVar[int] = 1

    def base_image(self) -> np.ndarray:
        return self.picture

    def to_dict(self) -> dict:
        return {"height": int(self.picture.shape[0]), "width": int(self.picture.shape[1])}


class TintTask(Task):
    name = "tint"
    requires_model = False

    def decode(self, outputs, inputs):
        h, w = inputs.image.shape[:2]
        picture = np.zeros((h // 2, w // 2, 3), np.uint8)
        picture[..., 2] = 200
        return Tinted(picture)


@pytest.fixture
def model_free_tasks():
    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="counter", summary="counts frames", factory="tests.gui.test_stateful:CounterTask"))
        registry.add(TaskSpec(name="tint", summary="a blue picture", factory="tests.gui.test_stateful:TintTask"))

    EVENTS.clear()
    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)
    with plugin_manager.plugins_added(("modelfree", plugin)):
        yield


def counted(shown) -> tuple[int, int]:
    seen = shown.result["counter"]
    return seen.frame, seen.count


def test_a_stateful_task_counts_on_redraws_without_stepping_and_resets_on_a_jump(
        qtbot, make_window, video, images, model_free_tasks):
    window = make_window(tasks=["counter"], models={})
    first = wait_result(qtbot, window, lambda: window.open_source(str(video)))
    assert first.kind == "video" and counted(first) == (0, 1)
    assert window.status.provider.text() == "no model" and window.status.models.text() == ""
    assert counted(wait_result(qtbot, window, window.step_forward)) == (1, 2)
    on_show = wait_result(qtbot, window, window.step_forward)
    assert counted(on_show) == (2, 3)

    # an option change redraws the paused frame: the counter's result is reused, not stepped
    loud = window.findChild(QCheckBox, "option:counter:loud")
    redrawn = wait_result(qtbot, window, lambda: loud.setChecked(True))
    assert redrawn.position == 2 and redrawn.result["counter"] is on_show.result["counter"]

    # playing on counts every frame once, and the end of the video is announced
    window.worker.set_speed(0)
    seen = []
    window.result_shown.connect(lambda s: seen.append(counted(s)))
    with qtbot.waitSignal(window.playing_changed, check_params_cb=lambda on: not on, timeout=5000):
        window.toggle_play()
    assert seen == [(i, i + 1) for i in range(3, 12)]
    assert EVENTS.count("finish") == 1

    # any jump starts the count again: the slider, a step back, Home, End
    assert counted(wait_result(qtbot, window, lambda: window.player.go.emit(5))) == (5, 1)
    assert counted(wait_result(qtbot, window, window.step_forward)) == (6, 2)
    assert counted(wait_result(qtbot, window, window.step_back)) == (5, 1)
    assert counted(wait_result(qtbot, window, window.first)) == (0, 1)
    assert counted(wait_result(qtbot, window, window.last)) == (11, 1)

    # opening another source ends this one; opening the same file again starts from one
    EVENTS.clear()
    again = wait_result(qtbot, window, lambda: window.open_source(str(video)))
    assert counted(again) == (0, 1) and EVENTS[0] == "finish" and "reset" in EVENTS
    EVENTS.clear()
    still = wait_result(qtbot, window, lambda: window.open_source(str(images)))
    assert counted(still) == (0, 1) and EVENTS[0] == "finish"


def test_a_result_with_its_own_picture_is_what_the_canvas_shows(qtbot, make_window, images, model_free_tasks):
    window = make_window(tasks=["tint"], models={})
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    frame = shown.result.image
    rendered = window.canvas.rendered
    assert rendered.shape == frame.shape  # the picture, brought to the frame's size
    assert (rendered[..., 2] == 200).all() and (rendered[..., :2] == 0).all()
    # with the task's layer hidden the frame itself is on show
    window.tasks_panel.boxes["tint"].layer.setChecked(False)
    assert np.array_equal(window.canvas.rendered, frame)
