"""Overlays: the picture with every result drawn by the painter of its kind.

``render(frame_result)`` is what ``visionkit predict --save`` writes, what ``vk.render``
returns and what the GUI shows. Painters come from plugins (``visionkit_register_painters``),
one per result kind, each on a layer: lower layers are drawn first, so boxes and labels stay
readable over a segmentation. A result that offers ``base_image()`` (a stylised picture)
replaces the frame under all of them. The drawing helpers below are for painters to share.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import cv2
import numpy as np

from .errors import PluginError, VisionkitError, describe_failure
from .results import FrameResult, base_image

#: ``fn(canvas, result, highlight=None)`` draws in place; ``highlight`` is the index of an item
#: to emphasise (a detection the user clicked in the GUI), where the type has items
Painter = Callable[..., None]
FONT = cv2.FONT_HERSHEY_SIMPLEX


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



class PainterError(PluginError):
    """A plugin's painter failed; ``task`` is the task whose result it was drawing (the app
    draws the frame without that layer and says why)."""

    def __init__(self, task: str, message: str) -> None:
        super().__init__(message)
        self.task = task


def painter_for(result: Any) -> tuple[int, Painter] | None:
    """The layer and painter registered for a result's kind, or None when no plugin draws it."""
    from .plugin_manager import get_plugins
    from .registry import load_object

    spec = get_plugins().painters.for_kind(getattr(result, "kind", ""))
    if spec is None:
        return None
    fn = _loaded.get(spec.factory)
    if fn is None:
        fn = _loaded[spec.factory] = load_object(spec.factory)
        if not callable(fn):
            raise PluginError(f"plugin {spec.plugin!r}: painter {spec.factory} is not callable")
    return spec.layer, fn


_loaded: dict[str, Painter] = {}


def _base(result: FrameResult, names: list[str]) -> np.ndarray:
    """The picture under the overlays: the last result that offers one, at the frame's size
    (overlays are in frame pixels), else the frame."""
    base = result.image
    for name in names:
        picture = base_image(result.results[name])
        if picture is not None:
            base = picture
    h, w = result.image.shape[:2]
    if base.shape[:2] != (h, w):
        base = cv2.resize(base, (w, h), interpolation=cv2.INTER_AREA if base.shape[0] > h else cv2.INTER_LINEAR)
    return np.ascontiguousarray(base[..., :3]).copy()


def render(result: FrameResult, tasks: Iterable[str] | None = None,
           highlight: dict[str, int] | None = None) -> np.ndarray:
    """The frame with every (or the named) task's overlay drawn; the frame itself is not changed.

    ``highlight`` maps a task to the index of one item to emphasise (e.g. a detection).
    Overlays are drawn layer by layer (see :mod:`visionkit.overlays`); a result of a kind no
    painter draws adds nothing to the picture.
    """
    if result.image is None:
        raise ValueError("this FrameResult carries no image to draw on")
    wanted = set(tasks) if tasks is not None else None
    names = [n for n in result.results if wanted is None or n in wanted]
    canvas = _base(result, names)
    layered = []
    for order, name in enumerate(names):
        found = painter_for(result.results[name])
        if found is not None:
            layered.append((found[0], order, name, found[1]))
    for _, _, name, fn in sorted(layered, key=lambda t: t[:2]):
        try:
            fn(canvas, result.results[name], highlight=(highlight or {}).get(name))
        except (VisionkitError, KeyboardInterrupt):
            raise
        except BaseException as exc:  # a plugin's painter: name it, in one line
            kind = getattr(result.results[name], "kind", "?")
            raise PainterError(name, f"the {kind!r} painter raised {describe_failure(exc)} drawing {name}") from exc
    return canvas
