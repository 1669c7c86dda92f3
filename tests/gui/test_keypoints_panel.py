"""The keypoint panel: figures and their keypoints; selecting one highlights its skeleton.

The test task here runs on the tiny models and its ``decode`` returns fixed ``Keypoints``
chosen by the frame's colour (red: two stick figures; green: the same two moved 2 px, in the
other order; blue: none), so nothing depends on a pose model.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette

from visionkit import plugin_manager
from visionkit.hookspecs import hookimpl
from visionkit.overlays import render
from visionkit.plugins.pose.painter import KEYPOINT_MIN_CONFIDENCE
from visionkit.plugins.classify.runtime import ClassifyTask
from visionkit.plugins.pose.panel import KeypointsPanel, follow
from visionkit.registry import TaskSpec
from visionkit.results import Keypoints

from .conftest import _retask, wait_result

NAMES = ("head", "neck", "hip", "left hand", "right hand", "left foot", "right foot")
SKELETON = ((0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 6))


def figure(x: float, y: float, s: float, low: int | None = None) -> np.ndarray:
    """A stick figure's (7, 3) keypoints, head at (x, y), ``s`` pixels per unit; keypoint ``low``
    with confidence 0.1 (not drawn)."""
    offsets = np.array([[0, 0], [0, 1], [0, 3], [-1.5, 2], [1.5, 2], [-1, 5], [1, 5]], np.float32)
    pts = np.concatenate([offsets * s + (x, y), np.full((7, 1), 0.9, np.float32)], axis=1)
    if low is not None:
        pts[low, 2] = 0.1
    return pts


def keypoints(order=(0, 1), scores=(0.93, 0.81), shift=0.0, size=(80, 60)) -> Keypoints:
    """Two figures: a big one on the left (its right foot unsure), a small one on the right."""
    w, h = size
    figures = [figure(0.25 * w, 0.12 * h, 0.15 * h, low=6), figure(0.7 * w, 0.3 * h, 0.1 * h)]
    pts = np.stack([figures[i] for i in order]).astype(np.float32)
    pts[:, :, :2] += np.float32(shift)
    boxes = np.concatenate([pts[:, :, :2].min(1) - 2, pts[:, :, :2].max(1) + 2], axis=1)
    return Keypoints(boxes=boxes, scores=np.array(scores, np.float32), points=pts, names=NAMES,
                     skeleton=SKELETON)


def nobody() -> Keypoints:
    return Keypoints(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 7, 3), np.float32),
                     NAMES, SKELETON)


class FiguresTask(ClassifyTask):
    """red: two figures; green: the same moved 2 px, the small one first; blue: none."""

    name = "figures"

    def decode(self, outputs, inputs):
        colour = int(np.argmax(inputs.image.reshape(-1, 3).mean(0)))
        if colour == 0:
            return keypoints()
        if colour == 1:
            return keypoints(order=(1, 0), scores=(0.9, 0.85), shift=2.0)
        return nobody()


@pytest.fixture
def pose_task(tiny_models, tmp_path):
    head = _retask(tiny_models["head"], "figures", tmp_path)

    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="figures", summary="test figures", factory="tests.gui.test_keypoints_panel:FiguresTask",
                              default_model=str(head)))

    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)
    with plugin_manager.plugins_added(("posetest", plugin)):
        yield


def click_item(qtbot, panel: KeypointsPanel, index: int, keypoint: int | None = None) -> None:
    """Left-click the row of instance ``index`` (or of its keypoint ``keypoint``)."""
    item = panel.tree.topLevelItem(index)
    if keypoint is not None:
        item = item.child(keypoint)
    rect = panel.tree.visualItemRect(item)
    assert rect.isValid()
    qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_selecting_a_figure_highlights_its_skeleton(qtbot, make_window, images, pose_task):
    window = make_window(tasks=["figures"], models={})
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    panel = window.panels.panels["figures"]
    assert isinstance(panel, KeypointsPanel)
    rows = panel.rows()
    assert [text for text, _ in rows] == ["figure 1 \u2014 score 0.93", "figure 2 \u2014 score 0.81"]
    assert [c[0] for c in rows[0][1]] == list(NAMES)
    pts = shown.result["figures"].points
    assert rows[0][1][1] == ("neck", str(round(float(pts[0, 1, 0]))), str(round(float(pts[0, 1, 1]))), "0.90")
    assert rows[0][1][6][3] == "0.10" and rows[1][1][6][3] == "0.90"
    assert panel.summary.text() == "2 figures, 7 keypoints each; 1 below 0.3 confidence, not drawn"
    # the unsure foot is greyed, the others are not
    muted = panel.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    figure1 = panel.tree.topLevelItem(0)
    assert figure1.child(6).foreground(0).color() == muted
    assert figure1.child(5).foreground(0).style() == Qt.BrushStyle.NoBrush
    qtbot.waitUntil(panel.tree.isVisible)
    plain = window.canvas.rendered.copy()
    visible = window.canvas.visible_tasks()

    click_item(qtbot, panel, 1)
    assert window.panels.highlight == window.canvas.highlight == {"figures": 1}
    assert panel.tree.topLevelItem(1).isExpanded()  # its keypoints on show
    assert not np.array_equal(window.canvas.rendered, plain)
    assert np.array_equal(window.canvas.rendered, render(shown.result, tasks=visible, highlight={"figures": 1}))

    click_item(qtbot, panel, 1)  # the same row again: no highlight
    assert window.canvas.highlight == {} and panel.highlighted is None
    assert np.array_equal(window.canvas.rendered, plain)

    click_item(qtbot, panel, 1, keypoint=3)  # a keypoint row highlights its figure
    assert window.canvas.highlight == {"figures": 1}
    click_item(qtbot, panel, 0)
    qtbot.keyClick(panel.tree, Qt.Key.Key_Down)  # into figure 1's keypoints: still figure 1
    assert window.canvas.highlight == {"figures": 0}
    assert np.array_equal(window.canvas.rendered, render(shown.result, tasks=visible, highlight={"figures": 0}))

    # next frame: the figures moved a little and the big one is index 1 now; the highlight follows
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img2_green.png")))
    assert window.canvas.highlight == {"figures": 1} and panel.highlighted == 1
    assert panel.tree.currentItem() is panel.tree.topLevelItem(1).child(0)  # the same keypoint row
    assert panel.tree.topLevelItem(1).isExpanded()  # open figures follow too
    assert panel.rows()[0][0] == "figure 1 \u2014 score 0.90"
    assert np.array_equal(window.canvas.rendered,
                          render(shown.result, tasks=window.canvas.visible_tasks(), highlight={"figures": 1}))

    # a frame without figures: the highlight goes, and the panel says so
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img10_blue.png")))
    assert window.canvas.highlight == {} and panel.highlighted is None
    assert panel.summary.text() == "No instances in this frame."
    assert not panel.tree.isVisible() and panel.rows() == []


def test_keypoint_tree_clicks_arrows_and_new_frames(qtbot):
    panel = KeypointsPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 500)
    panel.show()
    assert panel.summary.text() == "Waiting for a frame…"
    seen = []
    panel.highlight_requested.connect(seen.append)
    panel.update_result(keypoints())
    assert seen == [] and not panel.tree.topLevelItem(0).isExpanded()
    collapsed = panel.tree.height()

    # the expand arrow opens a figure without selecting (or deselecting) it
    tree = panel.tree
    rect = tree.visualItemRect(tree.topLevelItem(0))
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(tree.indentation() // 2, rect.center().y()))
    assert tree.topLevelItem(0).isExpanded() and seen == []
    assert panel.tree.height() > collapsed  # the tree grows with its open rows
    click_item(qtbot, panel, 0)
    assert seen == [0]
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(tree.indentation() // 2, rect.center().y()))
    assert not tree.topLevelItem(0).isExpanded()
    assert seen == [0] and tree.topLevelItem(0).isSelected()  # closing it keeps the highlight

    qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=QPoint(5, panel.height() - 3))  # empty space
    assert seen == [0, None] and panel.highlighted is None

    click_item(qtbot, panel, 1)
    panel.update_result(keypoints())  # the same frame again: the highlight stays, no request
    assert seen == [0, None, 1] and panel.highlighted == 1
    panel.update_result(keypoints(shift=30.0))  # everything moved far: nothing to follow
    assert seen[-1] is None and panel.highlighted is None and not tree.selectedItems()
    panel.update_result(nobody())
    assert panel.summary.text() == "No instances in this frame." and not panel.tree.isVisible()
    one = keypoints(order=(1,), scores=(0.5,))
    panel.update_result(one)
    assert panel.summary.text() == "1 figure, 7 keypoints each" and len(panel.rows()) == 1
    assert panel.tree.isVisible()


def test_follow_uses_keypoints_where_the_box_is_empty():
    before, after = keypoints(), keypoints(order=(1, 0), shift=2.0)
    assert [follow(before, i, after) for i in (0, 1, None)] == [1, 0, None]
    no_boxes = Keypoints(np.zeros((2, 4), np.float32), after.scores, after.points, NAMES, SKELETON)
    assert follow(before, 0, no_boxes) == 1
    assert follow(before, 0, nobody()) is None
    assert KEYPOINT_MIN_CONFIDENCE > 0.1  # the test's unsure foot is below it
