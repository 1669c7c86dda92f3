"""A plugin that calls sys.exit() in its task, its painter or its panel fails alone: the app
keeps running, says which plugin failed in its message bar, and shows everything else."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import ClassVar

from visionkit import plugin_manager
from visionkit.hookspecs import hookimpl
from visionkit.registry import PainterSpec, PanelSpec, TaskSpec
from visionkit.tasks import Task

from .conftest import wait_result


@dataclass(frozen=True)
class Mark:
    kind: ClassVar[str] = "mark"
    schema_version: ClassVar[int] = 1

    def to_dict(self) -> dict:
        return {"marked": True}


class MarkTask(Task):
    name = "mark"
    requires_model = False

    def decode(self, outputs, inputs):
        return Mark()


class QuitTask(Task):
    name = "quit"
    requires_model = False

    def decode(self, outputs, inputs):
        sys.exit(4)


def quitting_painter(canvas, result, highlight=None):
    sys.exit(5)


class QuittingPanel:
    def __init__(self, parent):
        sys.exit(6)


def plugin():
    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="mark", summary="", factory="tests.gui.test_plugins_that_exit:MarkTask"))
        registry.add(TaskSpec(name="quit", summary="", factory="tests.gui.test_plugins_that_exit:QuitTask"))

    @hookimpl
    def visionkit_register_painters(registry):
        registry.add(PainterSpec(name="mark", summary="", result_kind="mark",
                                 factory="tests.gui.test_plugins_that_exit:quitting_painter"))

    @hookimpl
    def visionkit_register_panels(registry):
        registry.add(PanelSpec(name="mark", summary="", result_kind="mark",
                               factory="tests.gui.test_plugins_that_exit:QuittingPanel"))

    return types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks,
                                 visionkit_register_painters=visionkit_register_painters,
                                 visionkit_register_panels=visionkit_register_panels)


def test_the_app_survives_plugins_that_exit(qtbot, make_window, images):
    with plugin_manager.plugins_added(("quitter", plugin())):
        window = make_window(tasks=["mark", "quit", "classify"], models={})
        messages = []
        window.messages.shown.connect(messages.append)
        shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
        assert "classify" in shown.result.results and "mark" in shown.result.results
        assert "quit: plugin raised SystemExit(4)" in shown.result.error
        assert window.canvas.rendered is not None  # drawn without the failed layer
        joined = " | ".join(messages)
        assert "'mark' painter raised SystemExit(5)" in joined
        assert "panel 'mark' (plugin quitter) failed: SystemExit(6)" in joined
        assert window.isVisible()
