"""Result panels: the detection table highlights boxes on the canvas; segmentation class areas.

The tasks here are test tasks on the tiny models whose ``decode`` returns fixed ``Detections``
and ``SegmentationMask`` results chosen by the frame's colour, so nothing depends on the real
detect/segment runtimes.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from visionkit import plugin_manager
from visionkit.hookspecs import hookimpl
from visionkit.plugins.classify.runtime import ClassifyTask
from visionkit.boxes import best_match
from visionkit.plugins.detect.panel import SCORE, DetectionsPanel
from visionkit.plugins.segment.panel import SegmentationPanel
from visionkit.registry import TaskSpec
from visionkit.overlays import class_colour, render
from visionkit.results import Detections, SegmentationMask

from .conftest import _retask, wait_result

# on the 80x60 test images: a cat, a dog, another cat
BOXES = np.array([[4, 4, 40, 30], [36, 20, 76, 56], [8, 34, 30, 58]], np.float32)
LABELS = ("cat", "dog")


def detections(order=(0, 1, 2), scores=(0.9, 0.75, 0.6), shift=0.0) -> Detections:
    ids = np.array([0, 1, 0])[list(order)]
    return Detections(boxes=BOXES[list(order)] + np.float32(shift), scores=np.array(scores, np.float32),
                      class_ids=ids, labels=tuple(LABELS[i] for i in ids))


def colour_of(image: np.ndarray) -> str:
    return ("red", "green", "blue")[int(np.argmax(image.reshape(-1, 3).mean(0)))]


class BoxesTask(ClassifyTask):
    """red: 3 detections; green: the same objects moved 2 px, in another order; blue: none."""

    name = "boxes"

    def decode(self, outputs, inputs):
        colour = colour_of(inputs.image)
        if colour == "red":
            return detections()
        if colour == "green":  # the dog is now index 2, the first cat index 1
            return detections(order=(2, 0, 1), scores=(0.95, 0.8, 0.5), shift=2.0)
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int), ())


class RegionsTask(ClassifyTask):
    """Left half road, top right quarter-height sky (blue frames: background only)."""

    name = "regions"

    def decode(self, outputs, inputs):
        h, w = inputs.image.shape[:2]
        label_map = np.zeros((h, w), np.uint8)
        if colour_of(inputs.image) != "blue":
            label_map[:, : w // 2] = 2
            label_map[: h // 4, w // 2 :] = 1
        return SegmentationMask(label_map, ("background", "sky", "road", "car"))


@pytest.fixture
def panel_tasks(tiny_models, tmp_path):
    heads = {t: _retask(tiny_models["head"], t, tmp_path) for t in ("boxes", "regions")}

    @hookimpl
    def visionkit_register_tasks(registry):
        for task, cls in (("boxes", "BoxesTask"), ("regions", "RegionsTask")):
            registry.add(TaskSpec(name=task, summary=f"test {task}", factory=f"tests.gui.test_panels:{cls}",
                                  default_model=str(heads[task])))

    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)
    with plugin_manager.plugins_added(("panels", plugin)):
        yield


def click_row(qtbot, panel: DetectionsPanel, index: int) -> None:
    """Left-click the table row of detection ``index``."""
    cell = panel.proxy.mapFromSource(panel.model.index(index, 1))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.table.visualRect(cell).center())


def test_clicking_a_detection_row_highlights_its_box(qtbot, make_window, images, panel_tasks):
    window = make_window(tasks=["boxes", "regions"], models={})
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    panel = window.panels.panels["boxes"]
    assert isinstance(panel, DetectionsPanel)
    assert [(i, label) for i, label, _, _ in panel.rows()] == [(0, "cat"), (1, "dog"), (2, "cat")]
    assert panel.rows()[1][3] == (36.0, 20.0, 76.0, 56.0)
    assert panel.summary.text() == "3 objects: 2 cat, 1 dog"
    qtbot.waitUntil(panel.table.isVisible)
    plain = window.canvas.rendered.copy()
    visible = window.canvas.visible_tasks()

    click_row(qtbot, panel, 1)
    assert window.panels.highlight == window.canvas.highlight == {"boxes": 1}
    assert not np.array_equal(window.canvas.rendered, plain)
    assert np.array_equal(window.canvas.rendered, render(shown.result, tasks=visible, highlight={"boxes": 1}))
    x1, y1, _, y2 = BOXES[1].astype(int)
    dog = class_colour("dog")
    assert tuple(plain[(y1 + y2) // 2, x1 + 2]) != dog  # thin box: 2 px inside is not on the line
    assert tuple(window.canvas.rendered[(y1 + y2) // 2, x1 + 2]) == dog  # the thick one covers it

    click_row(qtbot, panel, 1)  # the same row again: no highlight
    assert window.canvas.highlight == {} and panel.highlighted is None
    assert np.array_equal(window.canvas.rendered, plain)

    click_row(qtbot, panel, 0)
    qtbot.keyClick(panel.table, Qt.Key.Key_Down)  # the keyboard moves the highlight too
    assert window.canvas.highlight == {"boxes": 1}

    # next frame: the objects moved a little and the dog is index 2 now; its highlight follows it
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img2_green.png")))
    assert shown.result["boxes"].labels[2] == "dog"
    assert window.canvas.highlight == {"boxes": 2} and panel.highlighted == 2
    assert panel.proxy.mapToSource(panel.table.selectionModel().selectedRows()[0]).row() == 2
    assert np.array_equal(window.canvas.rendered,
                          render(shown.result, tasks=window.canvas.visible_tasks(), highlight={"boxes": 2}))

    # hiding the layer keeps the highlight but draws nothing of it
    window.tasks_panel.boxes["boxes"].layer.setChecked(False)
    assert window.canvas.highlight == {"boxes": 2} and window.canvas.drawn_highlight() == {}
    window.tasks_panel.boxes["boxes"].layer.setChecked(True)

    # a frame without the object: the highlight goes, and the panel says nothing was found
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img10_blue.png")))
    assert window.canvas.highlight == {} and panel.highlighted is None
    assert panel.summary.text() == "No objects found in this frame." and not panel.table.isVisible()

    # the segmentation panel of the same window
    segment = window.panels.panels["regions"]
    assert isinstance(segment, SegmentationPanel)
    assert segment.summary.text().lower().startswith("background only") and segment.rows() == []


def test_segmentation_panel_lists_classes_largest_first_with_overlay_colours(qtbot, make_window, images,
                                                                             panel_tasks):
    window = make_window(tasks=["regions"], models={})
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    panel = window.panels.panels["regions"]
    assert isinstance(panel, SegmentationPanel)
    assert panel.rows() == [("road", 2400, 50.0), ("sky", 600, 12.5)]  # of 80 x 60 pixels
    assert panel.summary.text() == "2 classes, 62.5 % of the image"
    table = panel.table
    assert [table.item(r, 0).text() for r in range(2)] == ["road", "sky"]
    assert [table.item(r, 2).text() for r in range(2)] == ["50.0", "12.5"]
    assert table.item(0, 1).text() == "2,400"
    assert table.item(0, 0).data(Qt.ItemDataRole.DecorationRole) == QColor(*class_colour("road"))
    assert table.item(1, 0).data(Qt.ItemDataRole.DecorationRole) == QColor(*class_colour("sky"))


def test_detection_table_sorting_empty_clicks_and_new_frames(qtbot):
    panel = DetectionsPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 300)
    panel.show()
    seen = []
    panel.highlight_requested.connect(seen.append)
    panel.update_result(detections())
    assert [r[0] for r in panel.rows()] == [0, 1, 2] and seen == []

    header = panel.table.horizontalHeader()
    at = QPoint(header.sectionViewportPosition(SCORE) + header.sectionSize(SCORE) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=at)  # best first -> worst first
    assert [r[0] for r in panel.rows()] == [2, 1, 0]
    click_row(qtbot, panel, 0)  # now the last row: the index is the detection's, not the row's
    assert seen == [0]
    qtbot.keyClick(panel.table, Qt.Key.Key_Up)  # up the table: the next better score
    assert seen == [0, 1]

    qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=QPoint(5, panel.height() - 3))  # empty space
    assert seen == [0, 1, None] and panel.highlighted is None

    click_row(qtbot, panel, 2)
    panel.update_result(detections())  # the same frame again: the highlight stays, no request
    assert seen == [0, 1, None, 2] and panel.highlighted == 2
    panel.update_result(detections(shift=30.0))  # everything moved far: nothing to follow
    assert seen[-1] is None and panel.highlighted is None
    assert panel.summary.text() == "3 objects: 2 cat, 1 dog"
    one = Detections(BOXES[:1], np.array([0.5], np.float32), np.array([0]), ("cat",))
    panel.update_result(one)
    assert panel.summary.text() == "1 object: 1 cat" and len(panel.rows()) == 1


def test_best_match_needs_the_same_class_and_enough_overlap():
    boxes, ids = BOXES, np.array([0, 1, 0])
    assert best_match(boxes, ids, BOXES[1] + 3, 1) == 1
    assert best_match(boxes, ids, BOXES[1] + 3, 0) is None  # a cat never takes over a dog's highlight
    assert best_match(boxes, ids, BOXES[2] + 1, 0) == 2
    assert best_match(np.zeros((0, 4)), np.zeros(0), BOXES[0], 0) is None


def test_a_frame_that_moves_the_highlight_is_drawn_once(qtbot, make_window, images, panel_tasks):
    window = make_window(tasks=["boxes", "regions"], models={})
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    panel = window.panels.panels["boxes"]
    qtbot.waitUntil(panel.table.isVisible)
    click_row(qtbot, panel, 1)
    drawn = []
    real = window.canvas.redraw
    window.canvas.redraw = lambda: drawn.append(window.canvas.result.source) or real()
    # the dog moves from index 1 to 2: the highlight follows within this one frame
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img2_green.png")))
    assert window.canvas.highlight == {"boxes": 2}
    assert drawn == [shown.result.source]  # once, and never the old frame with the new highlight
