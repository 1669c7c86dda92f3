"""Overlays: one painter per result type, drawing on a copy of the frame (RGB uint8).

``render(frame_result)`` is what ``visionkit predict --save`` writes and what the GUI shows;
a plugin with a new result type adds its painter with :func:`painter`.
"""

from __future__ import annotations

from typing import Callable, Iterable

import cv2
import numpy as np

from .results import Classification, Detections, FrameResult, Keypoints, SegmentationMask

#: ``fn(canvas, result, highlight=None)`` draws in place; ``highlight`` is the index of an item
#: to emphasise (a detection the user clicked in the GUI), where the type has items
Painter = Callable[..., None]
_PAINTERS: dict[type, Painter] = {}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def painter(result_type: type) -> Callable[[Painter], Painter]:
    """Register ``fn(canvas, result, highlight=None)`` as the painter of ``result_type``."""

    def register(fn: Painter) -> Painter:
        _PAINTERS[result_type] = fn
        return fn

    return register


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour per class id (golden-angle hues)."""
    hue = int((class_id * 137.508) % 180)
    hsv = np.array([[[hue, 200, 255]]], dtype=np.uint8)
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def text_scale(canvas: np.ndarray) -> float:
    """Font scale that stays readable from thumbnails to 4K frames."""
    return float(np.clip(min(canvas.shape[:2]) / 500.0, 0.35, 1.6))


def draw_label_panel(canvas: np.ndarray, lines: Iterable[str], origin: tuple[int, int] = (0, 0),
                     colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    """Lines of text on a translucent dark panel, top-left at ``origin``."""
    lines = list(lines)
    if not lines:
        return
    scale = text_scale(canvas)
    thick = max(1, round(scale * 1.5))
    sizes = [cv2.getTextSize(t, FONT, scale, thick)[0] for t in lines]
    pad = max(3, round(6 * scale))
    line_h = max(h for _, h in sizes) + pad
    x0, y0 = origin
    x1 = min(canvas.shape[1], x0 + max(w for w, _ in sizes) + 2 * pad)
    y1 = min(canvas.shape[0], y0 + line_h * len(lines) + pad)
    region = canvas[y0:y1, x0:x1]
    region[:] = (region.astype(np.float32) * 0.35).astype(np.uint8)
    for i, text in enumerate(lines):
        y = y0 + pad + line_h * i + sizes[i][1]
        cv2.putText(canvas, text, (x0 + pad, y), FONT, scale, colour, thick, cv2.LINE_AA)


@painter(Classification)
def draw_classification(canvas: np.ndarray, result: Classification, highlight: int | None = None) -> None:
    lines = [f"{label} {score:.2f}" for label, score in zip(result.labels[:3], result.scores[:3])]
    draw_label_panel(canvas, lines)


@painter(Detections)
def draw_detections(canvas: np.ndarray, result: Detections, highlight: int | None = None) -> None:
    scale = text_scale(canvas)
    thick = max(1, round(2 * scale))
    order = [i for i in range(len(result)) if i != highlight] + ([highlight] if highlight is not None else [])
    for i in order:  # the highlighted box last, so it is on top
        x1, y1, x2, y2 = (int(round(v)) for v in result.boxes[i])
        colour = class_colour(int(result.class_ids[i]))
        if highlight is not None and i != highlight:
            colour = tuple(int(c * 0.45) for c in colour)
        width = thick * 3 if i == highlight else thick
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, width, cv2.LINE_AA)
        text = f"{result.labels[i]} {result.scores[i]:.2f}"
        (tw, th), base = cv2.getTextSize(text, FONT, scale, max(1, thick // 2))
        ty = y1 - base - 2 if y1 - th - base - 2 >= 0 else y1 + th + 2
        cv2.rectangle(canvas, (x1, ty - th - 2), (x1 + tw + 4, ty + base), colour, -1)
        cv2.putText(canvas, text, (x1 + 2, ty), FONT, scale, (0, 0, 0), max(1, thick // 2), cv2.LINE_AA)


#: keypoints less confident than this are not drawn (nor the bones that touch them)
KEYPOINT_MIN_CONFIDENCE = 0.3


@painter(Keypoints)
def draw_keypoints(canvas: np.ndarray, result: Keypoints, highlight: int | None = None) -> None:
    """Bones as lines and joints as dots, one colour per instance; a highlighted one thicker."""
    thick = max(1, round(2 * text_scale(canvas)))
    for n in range(len(result)):
        colour = class_colour(n)
        if highlight is not None and n != highlight:
            colour = tuple(int(c * 0.45) for c in colour)
        width = thick * 2 if n == highlight else thick
        pts = result.points[n]
        visible = pts[:, 2] >= KEYPOINT_MIN_CONFIDENCE
        for i, j in result.skeleton:
            if visible[i] and visible[j]:
                cv2.line(canvas, (int(pts[i, 0]), int(pts[i, 1])), (int(pts[j, 0]), int(pts[j, 1])),
                         colour, width, cv2.LINE_AA)
        for k in np.flatnonzero(visible):
            cv2.circle(canvas, (int(pts[k, 0]), int(pts[k, 1])), width + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, (int(pts[k, 0]), int(pts[k, 1])), width + 1, colour, -1, cv2.LINE_AA)


@painter(SegmentationMask)
def draw_segmentation(canvas: np.ndarray, result: SegmentationMask, highlight: int | None = None,
                      alpha: float = 0.5) -> None:
    """Translucent class colours over the image, and a legend of the classes present."""
    label_map = result.label_map
    if label_map.shape != canvas.shape[:2]:
        label_map = cv2.resize(label_map, canvas.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    ids = [i for i in np.unique(label_map) if i != 0]
    if not ids:
        return
    lut = np.zeros((256, 3), np.uint8)
    for i in ids:
        lut[i] = class_colour(int(i))
    mask = label_map != 0
    canvas[mask] = (canvas[mask] * (1 - alpha) + lut[label_map[mask]] * alpha).astype(np.uint8)
    areas = result.areas()
    draw_legend(canvas, [(name, class_colour(result.class_names.index(name)) if name in result.class_names
                          else (255, 255, 255)) for name in areas])


def draw_legend(canvas: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]]) -> None:
    """Colour swatches with names, top-right."""
    scale = text_scale(canvas)
    thick = max(1, round(scale * 1.5))
    line_h = int(28 * scale) + 4
    width = max(cv2.getTextSize(n, FONT, scale, thick)[0][0] for n, _ in entries) + line_h + 12
    x0 = max(0, canvas.shape[1] - width - 4)
    region = canvas[4 : 4 + line_h * len(entries) + 6, x0 : x0 + width]
    region[:] = (region.astype(np.float32) * 0.35).astype(np.uint8)
    for k, (name, colour) in enumerate(entries):
        y = 8 + k * line_h
        cv2.rectangle(canvas, (x0 + 6, y), (x0 + 6 + line_h - 8, y + line_h - 8), colour, -1)
        cv2.putText(canvas, name, (x0 + line_h + 4, y + line_h - 10), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)


def render(result: FrameResult, tasks: Iterable[str] | None = None,
           highlight: dict[str, int] | None = None) -> np.ndarray:
    """The frame with every (or the named) task's overlay drawn; the frame itself is not changed.

    ``highlight`` maps a task to the index of one item to emphasise (e.g. a detection).
    Segmentation is drawn first, so boxes and labels stay readable on top of it.
    """
    if result.image is None:
        raise ValueError("this FrameResult carries no image to draw on")
    canvas = np.ascontiguousarray(result.image).copy()
    wanted = set(tasks) if tasks is not None else None
    items = sorted(result.results.items(), key=lambda kv: not isinstance(kv[1], SegmentationMask))
    for name, res in items:
        if wanted is not None and name not in wanted:
            continue
        fn = _PAINTERS.get(type(res))
        if fn is not None:
            fn(canvas, res, highlight=(highlight or {}).get(name))
    return canvas
