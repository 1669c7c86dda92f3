"""Overlays: one colour per class name in every task, labels that never overlap, a compact legend,
text sized for the picture in ``--save`` and drawn at screen resolution in the app."""

from __future__ import annotations

import itertools

import numpy as np

from visionkit.overlays import (
    LEGEND_SHARE,
    Label,
    class_colour,
    compose,
    draw_text,
    labels,
    place_labels,
    render,
)
from visionkit.results import Classification, Detections, FrameResult, SegmentationMask

from .conftest import wait_result


def frame(results, w=256, h=256, value=0):
    image = np.full((h, w, 3), value, np.uint8)
    return FrameResult("test.png", 0, w, h, "cpu", {}, results, image=image)


def detections(boxes, names, scores=None):
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores if scores is not None else np.linspace(0.99, 0.5, len(boxes)), np.float32)
    return Detections(boxes, scores, np.arange(len(boxes)), tuple(names))


def overlapping(rects):
    return [(a, b) for a, b in itertools.combinations(rects, 2)
            if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]]


def crowd(n=30, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.integers(20, 150, (n, 2))
    boxes = np.concatenate([xy, xy + rng.integers(30, 90, (n, 2))], axis=1)
    return detections(boxes, [f"class{i % 7}" for i in range(n)])


def test_a_class_has_the_colour_of_its_name_in_detect_and_segment():
    dog = class_colour("dog")
    assert dog == class_colour("dog") and dog != class_colour("cat")
    # the detector calls dogs class 5, the segmenter class 2
    boxes = Detections(np.array([[10, 10, 60, 60]], np.float32), np.array([0.9], np.float32), np.array([5]),
                       ("dog",))
    label_map = np.zeros((600, 600), np.uint8)
    label_map[100:200, 100:200] = 2
    mask = SegmentationMask(label_map, ("background", "cat", "dog"))
    overlay = compose(frame({"detect": boxes, "segment": mask}, w=600, h=600))  # boxes 2 px wide
    assert tuple(overlay.image[35, 10]) == dog  # the box's left edge
    assert np.abs(overlay.image[150, 150].astype(int) - np.array(dog) * 0.5).max() <= 1  # half over black
    by_kind = {lab.kind: lab for lab in overlay.labels}
    assert by_kind["box"].colour == by_kind["legend"].colour == dog


def test_labels_of_a_crowded_frame_never_overlap():
    result = frame({"detect": crowd(), "classify": Classification((0, 1, 2), ("star", "arrow", "cross"),
                                                                     (0.9, 0.05, 0.01))})
    canvas = render(result, text=False)
    placed = draw_text(canvas, labels(result))
    rects = [p.rect for p in placed]
    assert len([p for p in placed if p.kind == "box"]) >= 8  # many still shown
    assert len([p for p in placed if p.kind == "box"]) < 30  # the rest are left out, not piled up
    assert overlapping(rects) == []
    assert all(0 <= x and 0 <= y and x + w <= 256 and y + h <= 256 for x, y, w, h in rects)
    assert [p.text for p in placed if p.kind == "panel"] == ["star 0.90", "arrow 0.05", "cross 0.01"]


def test_a_picked_label_is_drawn_whatever_it_covers():
    boxes = detections([[50, 50, 120, 120]] * 5, ["a", "b", "c", "d", "e"])  # five labels, one place each
    result = frame({"detect": boxes})
    picked = {"detect": 4}
    placed = draw_text(render(result, text=False, highlight=picked), labels(result, highlight=picked))
    assert placed[-1].text.startswith("e ") and placed[-1].emphasis == "strong"  # drawn last: on top
    assert overlapping([p.rect for p in placed]) == []


def test_the_legend_stays_small_and_says_how_many_it_leaves_out():
    names = ("background",) + tuple(f"class number {i}" for i in range(15))
    label_map = np.repeat(np.arange(16, dtype=np.uint8), 16)[None, :].repeat(256, 0)  # 16 stripes
    result = frame({"segment": SegmentationMask(label_map, names)})
    placed = draw_text(render(result, text=False), labels(result))
    legend = [p for p in placed if p.kind == "legend"]
    area = sum(w * h for _, _, w, h in (p.rect for p in legend))
    assert area <= LEGEND_SHARE[0] * LEGEND_SHARE[1] * 256 * 256
    assert 2 <= len(legend) <= 6 and legend[-1].text.startswith("+") and not legend[-1].swatch
    assert all(p.swatch for p in legend[:-1])


def test_text_in_a_small_picture_is_small():
    result = frame({"detect": detections([[5, 5, 40, 30]], ["dog"], [0.9])}, w=60, h=50, value=128)
    canvas = render(result, text=False)
    placed = draw_text(canvas, labels(result))
    assert len(placed) == 1
    _, _, w, h = placed[0].rect
    assert h <= 14 and w <= 60  # a line of small text, inside the picture
    assert not np.array_equal(render(result), render(result, text=False))  # and it is drawn


def test_place_labels_works_in_any_pixels():
    # the app places labels in the screen's pixels, measured by its own font
    def measure(text):
        return 7 * len(text), 14

    boxes = [Label(f"label {i}", (255, 0, 0), box=(100 + 3 * i, 100, 300 + 3 * i, 260)) for i in range(20)]
    placed = place_labels(boxes + [Label("top", kind="panel")], measure, (50, 40, 650, 640))
    assert overlapping([p.rect for p in placed]) == []
    assert all(50 <= x and 40 <= y and x + w <= 650 and y + h <= 640
               for x, y, w, h in (p.rect for p in placed))
    assert placed[0].text == "top" and placed[0].rect[:2] == (50, 40)


def test_the_canvas_draws_labels_as_screen_text(qtbot, make_window, images):
    window = make_window()
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    canvas = window.canvas
    # the picture on screen has no text in its pixels; the text is drawn over it, in the view
    assert np.array_equal(canvas.overlay.image, render(shown.result, text=False))
    lines = [p for p in canvas.shown_labels() if p.kind == "panel"]
    assert [p.text.split()[0] for p in lines] == ["red", "green", "blue"]
    height = canvas.fontMetrics().height()
    assert all(p.rect[3] >= height for p in lines)  # the app's font, whatever the picture's size (80x60)
    top = canvas.mapFromScene(0, 0)
    assert lines[0].rect[:2] == (max(0, top.x()), max(0, top.y()))  # over the picture's corner
    before = [p.rect[2:] for p in lines]
    canvas.zoom_by(4.0)  # zoomed in, text keeps its size
    assert [p.rect[2:] for p in canvas.shown_labels() if p.kind == "panel"] == before
    # Save and Copy take the picture with its text drawn in, as --save writes it
    assert np.array_equal(canvas.rendered, render(shown.result))
    assert not np.array_equal(canvas.rendered, canvas.overlay.image)
