"""Overlays: the picture with every result drawn by the painter of its kind.

``render(frame_result)`` is what ``visionkit predict --save`` writes, what ``vk.render`` and
``FrameResult.plot()`` return. Painters come from plugins (``visionkit_register_painters``), one
per result kind, each on a layer: lower layers are drawn first, so boxes stay readable over a
segmentation. A result that offers ``base_image()`` (a stylised picture) replaces the frame under
all of them.

Text is kept apart from pixels. A painter draws pixels (boxes, masks, skeletons) and returns its
text as :class:`Label` records. The renderer places the labels of every layer together, so that
none covers another, the classification panel or the legend (:func:`place_labels`), and draws
them: into the picture, at a size that suits the picture, for ``--save`` (:func:`render`); or
at screen resolution in the app, which takes pixels and labels apart (:func:`compose`) and draws
the text itself over the zoomed picture, sharp at any zoom. A painter that draws its own text
into the pixels (returning nothing) still works everywhere.

Colours follow class names (:func:`class_colour`): a "dog" is the same colour in detection,
segmentation, classification and every panel of the app, whatever id each model gives it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np

from .errors import PluginError, VisionkitError, describe_failure
from .results import FrameResult, base_image

RGB = tuple[int, int, int]
#: ``fn(canvas, result, highlight=None)`` draws pixels in place and may return the result's text
#: as a list of :class:`Label`; ``highlight`` is the index of an item to emphasise (a detection
#: the user clicked in the GUI), where the type has items
Painter = Callable[..., Any]
FONT = cv2.FONT_HERSHEY_SIMPLEX
GOLDEN_ANGLE = 137.508  # degrees: consecutive steps land far apart on the hue circle

#: at most this many lines in the legend and the summary panel; the rest are summed up as "+k more"
MAX_LEGEND_LINES = 6
MAX_PANEL_LINES = 8
#: the share of the picture's (width, height) a corner panel may cover at most
PANEL_SHARE = (0.5, 0.4)
LEGEND_SHARE = (0.4, 0.3)
#: box labels beyond this many (the best first) are not placed: a crowd of labels reads as none
MAX_BOX_LABELS = 100


# -- colours ----------------------------------------------------------------------------------------
def _hue_colour(degrees: float, saturation: int = 200, value: int = 255) -> RGB:
    hsv = np.array([[[int(degrees % 360.0) // 2, saturation, value]]], dtype=np.uint8)
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


#: mixed into the hash of a class name; of the salts tried, the one that keeps the classes of the
#: bundled models and of Pascal VOC furthest apart (any fixed value keeps colours stable)
_COLOUR_SALT = "171:"


@lru_cache(maxsize=4096)  # called per box per frame and per panel row: hash once per name
def class_colour(name: str | int) -> RGB:
    """The RGB colour of a class, chosen by its name, so one class looks the same in every task,
    panel and picture whatever id a model gives it (a number is taken as its text).

    The name's stable hash picks a step of the golden-angle hue sequence, and a saturation and
    brightness of two each, so that two names whose hues land close mostly still tell apart.
    """
    digest = hashlib.blake2s((_COLOUR_SALT + str(name)).encode("utf-8"), digest_size=4).digest()
    bits = int.from_bytes(digest, "big")
    return _hue_colour((bits % 360) * GOLDEN_ANGLE, (210, 150)[(bits >> 9) & 1], (255, 205)[(bits >> 10) & 1])


@lru_cache(maxsize=1024)
def instance_colour(index: int) -> RGB:
    """Well-separated RGB colours for items numbered 0, 1, 2, ... (the figures of a pose result)."""
    return _hue_colour(index * GOLDEN_ANGLE)


def text_colour(background: RGB) -> RGB:
    """Black or white, whichever reads better on ``background``."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def dimmed(colour: RGB) -> RGB:
    """The colour of an item while another one is highlighted."""
    return tuple(int(c * 0.45) for c in colour)  # type: ignore[return-value]


def text_scale(canvas: np.ndarray) -> float:
    """Font scale for text drawn into a picture: readable from thumbnails to 4K frames."""
    return float(np.clip(min(canvas.shape[:2]) / 600.0, 0.3, 1.6))


def line_width(canvas: np.ndarray) -> int:
    """Stroke width for boxes and bones, in the picture's pixels."""
    return max(1, round(2 * text_scale(canvas)))


# -- text as records -----------------------------------------------------------------------------------
LABEL_KINDS = ("box", "panel", "legend", "caption")
#: the share of the picture's height the caption lines along the bottom may take at most
CAPTION_SHARE = 0.3


@dataclass(frozen=True)
class Label:
    """One piece of text an overlay puts on the picture.

    ``kind`` says where it goes: ``"box"`` beside the box it names (``box``, frame pixels);
    ``"panel"`` a line of the summary panel at the top left (a classification); ``"legend"`` a
    line with a colour swatch at the top right; ``"caption"`` a sentence along the bottom edge,
    across the whole width, wrapped onto more lines where it is long. ``emphasis`` is ``"strong"`` for the item the
    user picked (drawn whatever it covers) and ``"dim"`` for the others while one is picked.
    """

    text: str
    colour: RGB = (255, 255, 255)
    box: tuple[float, float, float, float] | None = None
    kind: str = ""  # left empty: "box" when there is a box, else "panel"
    emphasis: str = ""

    def __post_init__(self) -> None:
        kind = self.kind or ("box" if self.box is not None else "panel")
        if kind not in LABEL_KINDS:
            raise ValueError(f"a label's kind is one of {', '.join(LABEL_KINDS)}, not {kind!r}")
        if kind == "box" and self.box is None:
            raise ValueError("a box label needs the box it names")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "colour", tuple(int(c) for c in self.colour))
        if self.box is not None:
            object.__setattr__(self, "box", tuple(float(v) for v in self.box))


@dataclass(frozen=True)
class PlacedLabel:
    """A label where it is drawn, in the pixels of whatever it is drawn on (the picture for
    ``--save``, the screen in the app)."""

    text: str  # as drawn: shortened to fit, or "+3 more"
    rect: tuple[int, int, int, int]  # x, y, width, height
    kind: str
    colour: RGB
    emphasis: str = ""
    swatch: bool = False  # a legend line: a colour square one line high, and a gap of pad, before the text
    pad: int = 2  # space between the rectangle's edge and the text


#: ``measure(text) -> (advance width, line height)`` in the pixels labels are placed in
Measure = Callable[[str], tuple[int, int]]


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _fit(text: str, width: int, measure: Measure, ellipsis: str) -> str:
    """``text``, shortened with ``ellipsis`` to at most ``width`` wide; "" when nothing fits."""
    if measure(text)[0] <= width:
        return text
    for n in range(len(text) - 1, 0, -1):
        short = text[:n].rstrip() + ellipsis
        if measure(short)[0] <= width:
            return short
    return ""


def _corner_block(lines: Sequence[Label], right: bool, share: tuple[float, float], max_lines: int,
                  measure: Measure, bounds: tuple[int, int, int, int], pad: int, line_h: int,
                  ellipsis: str) -> list[PlacedLabel]:
    """The lines of one corner panel, as many as fit its share of the picture, the last one
    saying how many were left out (where only one line fits, it is the first)."""
    x0, y0, x1, y1 = bounds
    step = line_h + pad
    room = int((y1 - y0) * share[1]) - pad
    n = min(len(lines), max_lines, max(0, room // step))
    if n == 0:
        return []
    swatch = line_h if right else 0  # the legend: a square as high as the text
    texts = [line.text for line in lines[:n]]
    more = len(lines) - n
    max_text = int((x1 - x0) * share[0]) - 2 * pad - swatch - (pad if swatch else 0)
    texts = [_fit(t, max_text, measure, ellipsis) for t in texts]
    if more and n >= 2:  # say how many are not shown, in the last line's place
        left = more + 1
        texts[-1] = f"+{left} more" if measure(f"+{left} more")[0] <= max_text else f"+{left}"
    width = max(measure(t)[0] for t in texts) + 2 * pad + swatch + (pad if swatch else 0)
    bx = x1 - width if right else x0
    out = []
    for i, text in enumerate(texts):
        summary = bool(more) and n >= 2 and i == n - 1
        line = lines[i]
        out.append(PlacedLabel(text, (bx, y0 + i * step, width, step + (pad if i == n - 1 else 0)),
                               line.kind, line.colour, line.emphasis, swatch=bool(swatch) and not summary,
                               pad=pad))
    return out


def _wrap(text: str, width: int, measure: Measure) -> list[str]:
    """``text`` broken between words into lines at most ``width`` wide (a word wider than that
    is a line of its own, shortened by the caller)."""
    lines: list[str] = []
    for word in text.split():
        if lines and measure(f"{lines[-1]} {word}")[0] <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _caption_block(labels: Sequence[Label], measure: Measure, bounds: tuple[int, int, int, int], pad: int,
                   line_h: int, ellipsis: str) -> list[PlacedLabel]:
    """Caption lines across the bottom, the first caption on top, within :data:`CAPTION_SHARE`."""
    x0, y0, x1, y1 = bounds
    width = x1 - x0 - 2 * pad
    lines = [(lab, line) for lab in labels for line in _wrap(lab.text, width, measure)]
    step = line_h + pad
    n = min(len(lines), max(0, (int((y1 - y0) * CAPTION_SHARE) - pad) // step))
    if n == 0 or width <= 0:
        return []
    shown = lines[:n]
    if n < len(lines):  # the last line shown says that more was cut
        lab, text = shown[-1]
        shown[-1] = (lab, _fit(text + " " + ellipsis, width, measure, ellipsis))
    top = y1 - n * step - pad
    return [PlacedLabel(_fit(text, width, measure, ellipsis), (x0, top + i * step, x1 - x0, step + (pad if i == n - 1 else 0)),
                        "caption", lab.colour, lab.emphasis, pad=pad) for i, (lab, text) in enumerate(shown)]


def place_labels(labels: Iterable[Label], measure: Measure, bounds: tuple[int, int, int, int], *,
                 ellipsis: str = "…") -> list[PlacedLabel]:
    """Where each label goes inside ``bounds`` (x0, y0, x1, y1), so that no two overlap.

    ``measure`` gives a text's size in the pixels of ``bounds``, and each label's box must be in
    those pixels too. The summary panel takes the top left corner and the legend the top right,
    each within its share of the picture (:data:`PANEL_SHARE`, :data:`LEGEND_SHARE`), and captions
    the bottom edge (:data:`CAPTION_SHARE`). Box labels
    follow in the order given (best first; a ``strong`` one before all): each takes the first
    free place of above, below, inside the top and inside the bottom of its box, at its left and
    then its right edge; a label with no free place is left out, except a ``strong`` one, which
    is drawn over the others. The list is in drawing order.
    """
    x0, y0, x1, y1 = (int(round(v)) for v in bounds)
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return []
    labels = list(labels)
    line_h = measure("Ag")[1]
    pad = max(1, round(line_h * 0.15))
    box_bounds = (x0, y0, x1, y1)
    placed: list[PlacedLabel] = []
    for kind, right, share, most in (("panel", False, PANEL_SHARE, MAX_PANEL_LINES),
                                     ("legend", True, LEGEND_SHARE, MAX_LEGEND_LINES)):
        placed += _corner_block([lab for lab in labels if lab.kind == kind], right, share, most, measure,
                                box_bounds, pad, line_h, ellipsis)
    placed += _caption_block([lab for lab in labels if lab.kind == "caption"], measure, box_bounds, pad, line_h,
                             ellipsis)
    taken = [p.rect for p in placed]
    boxes = [lab for lab in labels if lab.kind == "box"]
    boxes = sorted(boxes, key=lambda lab: lab.emphasis != "strong")[:MAX_BOX_LABELS]  # stable: best first
    strong: list[PlacedLabel] = []
    for lab in boxes:
        text = _fit(lab.text, x1 - x0 - 2 * pad, measure, ellipsis)
        if not text:
            continue
        w, h = measure(text)[0] + 2 * pad, line_h + 2 * pad
        if h > y1 - y0:  # a picture lower than one line of text
            continue
        bx1, by1, bx2, by2 = (int(round(v)) for v in lab.box)  # type: ignore[union-attr]
        spots = []
        # above, below, inside at the top, inside at the bottom; at the left edge, then the right
        tries = ((bx1, by1 - h), (bx1, by2), (bx1, by1), (bx1, by2 - h), (bx2 - w, by1 - h), (bx2 - w, by2))
        for x, y in tries:
            spot = (min(max(x, x0), x1 - w), min(max(y, y0), y1 - h), w, h)  # kept inside the picture
            if spot not in spots:
                spots.append(spot)
        rect = next((s for s in spots if not any(_overlaps(s, t) for t in taken)), None)
        if rect is None and lab.emphasis == "strong":
            rect = spots[0]
        if rect is None:
            continue
        taken.append(rect)
        item = PlacedLabel(text, rect, "box", lab.colour, lab.emphasis, pad=pad)
        (strong if lab.emphasis == "strong" else placed).append(item)
    return placed + strong  # the picked item's label on top


# -- text drawn into the picture -------------------------------------------------------------------------
def _font(canvas: np.ndarray) -> tuple[float, int]:
    scale = text_scale(canvas)
    return scale, (1 if scale < 0.75 else 2)


def picture_measure(canvas: np.ndarray) -> Measure:
    """How big text drawn into ``canvas`` by :func:`draw_text` is."""
    scale, thick = _font(canvas)

    def measure(text: str) -> tuple[int, int]:
        (w, h), base = cv2.getTextSize(text, FONT, scale, thick)
        return w, h + base

    return measure


def draw_text(canvas: np.ndarray, labels: Iterable[Label]) -> list[PlacedLabel]:
    """Place ``labels`` on ``canvas`` (see :func:`place_labels`) and draw them into its pixels,
    at a size that suits the picture; returns where each went."""
    scale, thick = _font(canvas)
    h, w = canvas.shape[:2]
    placed = place_labels(labels, picture_measure(canvas), (0, 0, w, h), ellipsis="..")
    (_, ascent), descent = cv2.getTextSize("Ag", FONT, scale, thick)
    line_h = ascent + descent
    for item in placed:
        x, y, rw, rh = item.rect
        region = canvas[max(0, y): y + rh, max(0, x): x + rw]
        if item.kind == "box":
            fill = dimmed(item.colour) if item.emphasis == "dim" else item.colour
            region[:] = fill
            ink = text_colour(fill)
        else:  # a corner panel or a caption line: the picture shows through, darkened
            region[:] = (region.astype(np.float32) * 0.3).astype(np.uint8)
            ink = (255, 255, 255)
        tx = x + item.pad
        if item.swatch:  # a square in the line's height, then a gap
            side = max(2, round(line_h * 0.8))
            sy = y + item.pad + (line_h - side) // 2
            cv2.rectangle(canvas, (tx, sy), (tx + side - 1, sy + side - 1), item.colour, -1)
            tx += line_h + item.pad
        cv2.putText(canvas, item.text, (tx, y + item.pad + ascent), FONT, scale, ink, thick, cv2.LINE_AA)
    return placed


def draw_label_panel(canvas: np.ndarray, lines: Iterable[str], origin: tuple[int, int] = (0, 0),
                     colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    """Lines of text on a translucent dark panel, top-left at ``origin``, drawn into the pixels
    at once (painters that return :class:`Label` records get placement and sharp text instead)."""
    lines = list(lines)
    if not lines:
        return
    scale, thick = _font(canvas)
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
    """Colour swatches with names, top-right, drawn into the pixels at once (compact: see
    :data:`MAX_LEGEND_LINES` and :data:`LEGEND_SHARE`)."""
    draw_text(canvas, [Label(name, colour, kind="legend") for name, colour in entries])


# -- painters and the renderer ---------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Overlay:
    """A frame's overlays with the text apart: ``image`` has the pixels (masks, boxes,
    skeletons), ``labels`` the text of every layer, to be placed and drawn over it."""

    image: np.ndarray = field(repr=False)
    labels: tuple[Label, ...] = ()

    def with_text(self) -> np.ndarray:
        """The picture with the labels drawn into it: what ``--save`` writes."""
        canvas = self.image.copy()
        if self.labels:
            draw_text(canvas, self.labels)
        return canvas


def compose(result: FrameResult, tasks: Iterable[str] | None = None,
            highlight: dict[str, int] | None = None) -> Overlay:
    """Every (or the named) task's overlay on the frame, with the text kept apart (see
    :class:`Overlay`); the frame itself is not changed. Arguments as for :func:`render`."""
    if result.image is None:
        raise ValueError("this FrameResult carries no image to draw on")
    if tasks is None:
        tasks = getattr(result, "shown", None)  # what the pipeline would show; None: every task
    wanted = set(tasks) if tasks is not None else None
    names = [n for n in result.results if wanted is None or n in wanted]
    canvas = _base(result, names)
    layered = []
    for order, name in enumerate(names):
        try:
            found = painter_for(result.results[name])
        except PluginError as exc:  # a painter that cannot be loaded: this layer only
            raise PainterError(name, f"{exc} (drawing {name})") from exc
        if found is not None:
            layered.append((found[0], order, name, found[1]))
    texts: list[Label] = []
    for _, _, name, fn in sorted(layered, key=lambda t: t[:2]):
        try:
            out = fn(canvas, result.results[name], highlight=(highlight or {}).get(name))
        except (VisionkitError, KeyboardInterrupt):
            raise
        except BaseException as exc:  # a plugin's painter: name it, in one line
            kind = getattr(result.results[name], "kind", "?")
            raise PainterError(name, f"the {kind!r} painter raised {describe_failure(exc)} drawing {name}") from exc
        if isinstance(out, (list, tuple)):  # anything else a painter returns is not text
            texts += [lab for lab in out if isinstance(lab, Label)]
    return Overlay(canvas, tuple(texts))


def render(result: FrameResult, tasks: Iterable[str] | None = None,
           highlight: dict[str, int] | None = None, *, text: bool = True) -> np.ndarray:
    """The frame with the named tasks' overlays drawn (default: the result's ``shown`` tasks, or all);
    the frame itself is not changed.

    ``highlight`` maps a task to the index of one item to emphasise (e.g. a detection).
    Overlays are drawn layer by layer (see :mod:`visionkit.overlays`); a result of a kind no
    painter draws adds nothing to the picture. ``text=False`` leaves the labels out (an app
    draws them itself: :func:`labels`).
    """
    overlay = compose(result, tasks, highlight)
    return overlay.with_text() if text else overlay.image


def labels(result: FrameResult, tasks: Iterable[str] | None = None,
           highlight: dict[str, int] | None = None) -> list[Label]:
    """The text the painters put on the frame (for an app that draws it at screen resolution
    over ``render(..., text=False)``); arguments as for :func:`render`."""
    return list(compose(result, tasks, highlight).labels)
