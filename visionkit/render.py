"""Overlays: one painter per result type, drawing on a copy of the frame (RGB uint8).

``render(frame_result)`` is what ``visionkit predict --save`` writes and what the GUI shows;
a plugin with a new result type adds its painter with :func:`painter`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import cv2
import numpy as np

from .results import Classification, FrameResult

Painter = Callable[[np.ndarray, Any], None]
_PAINTERS: dict[type, Painter] = {}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def painter(result_type: type) -> Callable[[Painter], Painter]:
    """Register ``fn(canvas, result)`` as the painter of ``result_type`` (draws in place)."""

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
def draw_classification(canvas: np.ndarray, result: Classification, top: int = 3) -> None:
    lines = [f"{label} {score:.2f}" for label, score in zip(result.labels[:top], result.scores[:top])]
    draw_label_panel(canvas, lines)


def render(result: FrameResult, tasks: Iterable[str] | None = None) -> np.ndarray:
    """The frame with every (or the named) task's overlay drawn; the frame itself is not changed."""
    if result.image is None:
        raise ValueError("this FrameResult carries no image to draw on")
    canvas = np.ascontiguousarray(result.image).copy()
    wanted = set(tasks) if tasks is not None else None
    for name, res in result.results.items():
        if wanted is not None and name not in wanted:
            continue
        fn = _PAINTERS.get(type(res))
        if fn is not None:
            fn(canvas, res)
    return canvas
