"""ShapeWorld: a seeded procedural scene generator (numpy + OpenCV, no torch).

A :class:`Scene` is a background plus a list of items, each with a ``z`` order and an
``alpha(h, w)`` coverage map; :func:`render` paints them bottom-up. Items are either
:class:`SceneObject` (a shape of one of :data:`CLASSES`, annotated) or :class:`Clutter`
(lines, dots and small blobs that are no class; never annotated). The annotation helpers
(:func:`visible_masks`, :func:`boxes`, :func:`semantic_map`) are computed from the same
coverage maps that :func:`render` paints, so they always agree with the pixels: an object's
mask is where its coverage is at least one half, minus what items above it cover.

Later samplers add items (stick figures with keypoints, moving objects carrying
``track_id``) and read ``colour_name``/``label`` for captions without changing this model.
Everything is a pure function of the scene, and samplers draw scenes from a
``numpy.random.Generator``: the same seed gives identical pixels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Union

import cv2
import numpy as np

from .shapes import CLASSES, sample_params, unit_contours

__all__ = [
    "CLASSES", "PALETTE", "Background", "Clutter", "Scene", "SceneObject",
    "boxes", "classify_dataset", "classify_sample", "classify_scene", "instance_masks",
    "iter_classify", "render", "semantic_map", "visible_masks",
]

Size = Union[int, Sequence[int]]

#: named object colours (RGB); captions can say "a red star"
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (30, 170, 50), "blue": (30, 70, 220),
    "yellow": (240, 220, 40), "orange": (245, 140, 20), "purple": (140, 50, 180),
    "pink": (245, 120, 190), "cyan": (40, 210, 220), "white": (245, 245, 245),
    "black": (15, 15, 15), "gray": (128, 128, 128), "brown": (130, 80, 35),
}

_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _ONE).astype(np.int32)


def _blend(canvas: np.ndarray, alpha: np.ndarray, fill) -> None:
    """canvas = canvas * (1 - alpha) + alpha * fill, only inside alpha's bounding box.

    ``fill`` is an RGB triple or a function ``(ys, xs) -> (h, w, 3)`` of pixel coordinates.
    """
    x, y, w, h = cv2.boundingRect((alpha > 0).view(np.uint8))
    if w == 0 or h == 0:
        return
    a = alpha[y:y + h, x:x + w, None]
    if callable(fill):
        ys, xs = np.mgrid[y:y + h, x:x + w].astype(np.float32)
        fill = fill(ys, xs)
    else:
        fill = np.asarray(fill, np.float32)
    region = canvas[y:y + h, x:x + w]
    region += a * (fill - region)


class Item(Protocol):
    z: int
    annotated: bool

    def alpha(self, height: int, width: int) -> np.ndarray: ...
    def paint(self, canvas: np.ndarray, alpha: np.ndarray) -> None: ...


@dataclass
class SceneObject:
    """One shape of class ``class_id``; ``size`` is its half-extent in pixels."""

    class_id: int
    centre: tuple[float, float]  # (x, y) in pixels
    size: float
    rotation: float = 0.0  # radians, clockwise on screen (y points down)
    colour: tuple[int, int, int] = (255, 255, 255)
    colour_name: str = ""
    params: dict[str, float] = field(default_factory=dict)
    z: int = 0
    shading: tuple[float, float] = (0.0, 0.0)  # brightness slope along x and y, per size
    track_id: int = -1
    annotated: bool = True

    @property
    def label(self) -> str:
        return CLASSES[self.class_id]

    def polygon(self) -> list[np.ndarray]:
        """Contours in pixel coordinates (float, (K, 2) x/y); the first is the outer one."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        rot = np.array([[c, s], [-s, c]])
        centre = np.asarray(self.centre, dtype=np.float64)
        return [pts @ rot * self.size + centre for pts in unit_contours(self.label, self.params)]

    def alpha(self, height: int, width: int) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [_fixed(p) for p in self.polygon()], 255, cv2.LINE_AA, _SHIFT)
        return canvas.astype(np.float32) / 255.0

    def mask(self, height: int, width: int) -> np.ndarray:
        """Where this object would be visible if nothing covered it."""
        return self.alpha(height, width) >= 0.5

    def paint(self, canvas: np.ndarray, alpha: np.ndarray) -> None:
        gx, gy = self.shading
        colour = np.asarray(self.colour, np.float32)

        def fill(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
            light = 1.0 + (gx * (xs - self.centre[0]) + gy * (ys - self.centre[1])) / max(self.size, 1.0)
            return np.clip(colour * light[..., None], 0, 255)

        _blend(canvas, alpha, fill)


@dataclass
class Clutter:
    """Distractor that belongs to no class: a polyline, a dot or a small blob."""

    kind: str  # "line" | "dot" | "blob"
    points: np.ndarray  # pixel x/y; a dot's centre is points[0]
    colour: tuple[int, int, int]
    thickness: float = 1.0  # line width or dot radius, pixels
    z: int = -1
    annotated: bool = False

    def alpha(self, height: int, width: int) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        pts = _fixed(np.asarray(self.points, np.float64))
        if self.kind == "line":
            cv2.polylines(canvas, [pts], False, 255, max(1, int(round(self.thickness))), cv2.LINE_AA, _SHIFT)
        elif self.kind == "dot":
            cv2.circle(canvas, tuple(int(v) for v in pts[0]), int(self.thickness * _ONE), 255, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.fillPoly(canvas, [pts], 255, cv2.LINE_AA, _SHIFT)
        return canvas.astype(np.float32) / 255.0

    def paint(self, canvas: np.ndarray, alpha: np.ndarray) -> None:
        _blend(canvas, alpha, self.colour)


@dataclass
class Background:
    """A textured background: flat, gradient, stripes, checker or blotches, plus its own seed."""

    kind: str
    colour: tuple[int, int, int]
    colour2: tuple[int, int, int]
    period: float = 16.0  # stripes/checker period or blotch scale, pixels
    angle: float = 0.0  # radians
    seed: int = 0

    def render(self, height: int, width: int) -> np.ndarray:
        xs = np.arange(width, dtype=np.float32)[None, :]
        ys = np.arange(height, dtype=np.float32)[:, None]
        c, s = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        u = xs * c + ys * s  # (h, w) by broadcasting
        v = ys * c - xs * s
        if self.kind == "gradient":
            t = (u - u.min()) / max(float(u.max() - u.min()), 1.0)
        elif self.kind == "stripes":
            t = 0.5 + 0.5 * np.sin(u * (2.0 * np.pi / self.period))
        elif self.kind == "checker":
            t = ((np.floor(u / self.period) + np.floor(v / self.period)) % 2).astype(np.float32)
        elif self.kind == "blotches":
            rng = np.random.default_rng(self.seed)
            gh, gw = max(2, int(height / self.period) + 2), max(2, int(width / self.period) + 2)
            coarse = rng.random((gh, gw), dtype=np.float32)
            t = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
            t = np.clip(t, 0.0, 1.0)
        else:  # flat
            t = np.zeros((height, width), np.float32)
        c1 = np.asarray(self.colour, np.float32)
        c2 = np.asarray(self.colour2, np.float32)
        return c1 + t[..., None] * (c2 - c1)


@dataclass
class Scene:
    """Everything needed to render one image and derive all its annotations."""

    height: int
    width: int
    background: Background
    items: list = field(default_factory=list)  # SceneObject, Clutter, later kinds
    noise_sigma: float = 0.0
    noise_seed: int = 0
    blur: bool = False

    @property
    def objects(self) -> list[SceneObject]:
        """The annotated items, in list order (the order of every annotation)."""
        return [it for it in self.items if it.annotated]

    def painted(self) -> list:
        """Items bottom-up; ties keep list order."""
        return sorted(self.items, key=lambda it: it.z)


def render(scene: Scene) -> np.ndarray:
    """The scene as an RGB uint8 image of shape (height, width, 3)."""
    h, w = scene.height, scene.width
    canvas = scene.background.render(h, w)
    for item in scene.painted():
        item.paint(canvas, item.alpha(h, w))
    if scene.blur:
        canvas = cv2.GaussianBlur(canvas, (3, 3), 0.8)
    if scene.noise_sigma > 0:
        noise = np.random.default_rng(scene.noise_seed).standard_normal((h, w, 3), dtype=np.float32)
        canvas += noise * scene.noise_sigma
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


def visible_masks(scene: Scene) -> list[np.ndarray]:
    """Per annotated object (``scene.objects`` order): bool mask of its visible pixels."""
    h, w = scene.height, scene.width
    visible: dict[int, np.ndarray] = {}
    for item in scene.painted():
        m = item.alpha(h, w) >= 0.5
        for other in visible.values():
            other &= ~m
        if item.annotated:
            visible[id(item)] = m
    return [visible[id(o)] for o in scene.objects]


def instance_masks(scene: Scene) -> np.ndarray:
    """(N, H, W) bool: the visible masks stacked."""
    masks = visible_masks(scene)
    return np.stack(masks) if masks else np.zeros((0, scene.height, scene.width), bool)


def boxes(scene: Scene) -> np.ndarray:
    """(N, 4) float32 xyxy boxes enclosing each object's visible pixels (x2/y2 exclusive).

    A fully covered object gets an all-zero box.
    """
    out = np.zeros((len(scene.objects), 4), np.float32)
    for i, m in enumerate(visible_masks(scene)):
        ys, xs = np.nonzero(m)
        if len(xs):
            out[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return out


def semantic_map(scene: Scene) -> np.ndarray:
    """(H, W) uint8 label map: 0 background/clutter, ``class_id + 1`` for object pixels."""
    out = np.zeros((scene.height, scene.width), np.uint8)
    for obj, m in zip(scene.objects, visible_masks(scene)):
        out[m] = obj.class_id + 1
    return out


# ------------------------------------------------------------------ samplers


def _hw(size: Size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def _dist(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def random_background(rng: np.random.Generator) -> Background:
    kind = ("flat", "gradient", "stripes", "checker", "blotches")[rng.integers(5)]
    c1 = rng.integers(0, 256, 3)
    c2 = np.clip(c1 + rng.integers(-60, 61, 3), 0, 255)
    return Background(
        kind=kind, colour=tuple(int(v) for v in c1), colour2=tuple(int(v) for v in c2),
        period=float(rng.uniform(6.0, 24.0)), angle=float(rng.uniform(0, np.pi)),
        seed=int(rng.integers(2**31)),
    )


def contrasting_colour(rng: np.random.Generator, against: Sequence, min_dist: float = 110.0):
    """A (name, jittered RGB) palette colour at least ``min_dist`` away from every colour."""
    names = list(PALETTE)
    for _ in range(64):
        name = names[rng.integers(len(names))]
        rgb = np.clip(np.asarray(PALETTE[name]) + rng.integers(-20, 21, 3), 0, 255)
        if all(_dist(rgb, c) >= min_dist for c in against):
            return name, tuple(int(v) for v in rgb)
    # fall back to the palette colour furthest from the background
    name = max(names, key=lambda n: min(_dist(PALETTE[n], c) for c in against))
    return name, PALETTE[name]


def random_clutter(rng: np.random.Generator, h: int, w: int, z: int, small: bool) -> Clutter:
    """A distractor; ``small`` ones (thin lines, tiny dots) may lie on top of objects."""
    s = min(h, w)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    kind = ("line", "dot", "blob")[rng.integers(2 if small else 3)]
    if kind == "line":
        n = int(rng.integers(2, 4))
        start = rng.uniform(0, 1, 2) * (w, h)
        steps = rng.normal(0, 0.25 * s, (n - 1, 2))
        pts = np.concatenate([start[None], start + np.cumsum(steps, axis=0)])
        return Clutter("line", pts, colour, float(rng.uniform(1, 1.8 if small else 3.5)), z)
    if kind == "dot":
        r = rng.uniform(1.0, 2.0 if small else 0.035 * s + 1)
        return Clutter("dot", rng.uniform(0, 1, (1, 2)) * (w, h), colour, float(r), z)
    k = int(rng.integers(5, 9))
    t = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = rng.uniform(0.3, 1.0, k) * rng.uniform(0.02, 0.06) * s
    pts = np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.uniform(0, 1, 2) * (w, h)
    return Clutter("blob", pts, colour, 1.0, z)


def random_object(
    rng: np.random.Generator, class_id: int, h: int, w: int, size: float,
    against: Sequence, z: int = 0, inside: bool = True,
) -> SceneObject:
    """A shape of ``class_id`` with half-extent ``size`` px; ``inside`` keeps it in the frame."""
    name = CLASSES[class_id]
    colour_name, colour = contrasting_colour(rng, against)
    obj = SceneObject(
        class_id=class_id, centre=(0.0, 0.0), size=float(size),
        rotation=float(rng.uniform(0, 2 * np.pi)), colour=colour, colour_name=colour_name,
        params=sample_params(name, rng), z=z,
        shading=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.15, 0.15))),
    )
    pts = obj.polygon()[0]
    lo, hi = pts.min(0), pts.max(0)
    if inside:
        cx = rng.uniform(1 - lo[0], max(w - 1 - hi[0], 1 - lo[0]))
        cy = rng.uniform(1 - lo[1], max(h - 1 - hi[1], 1 - lo[1]))
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    obj.centre = (float(cx), float(cy))
    return obj


def classify_scene(rng: np.random.Generator, size: Size = 128, class_id: int | None = None) -> Scene:
    """One fairly large, fully visible shape (z=0) plus clutter on a textured background."""
    h, w = _hw(size)
    bg = random_background(rng)
    if class_id is None:
        class_id = int(rng.integers(len(CLASSES)))
    radius = rng.uniform(0.25, 0.42) * min(h, w)
    main = random_object(rng, class_id, h, w, radius, against=(bg.colour, bg.colour2))
    items: list = [main]
    for _ in range(int(rng.integers(0, 7))):
        above = rng.random() < 0.3
        items.append(random_clutter(rng, h, w, z=1 if above else -1, small=above))
    return Scene(
        h, w, bg, items,
        noise_sigma=float(rng.uniform(0, 8)) if rng.random() < 0.7 else 0.0,
        noise_seed=int(rng.integers(2**31)), blur=bool(rng.random() < 0.2),
    )


def classify_sample(rng: np.random.Generator, size: Size = 128, class_id: int | None = None):
    """``(image RGB uint8 HxWx3, class_id)`` of one classification scene."""
    scene = classify_scene(rng, size, class_id)
    return render(scene), scene.objects[0].class_id


def iter_classify(n: int, seed: int, size: Size = 128, start: int = 0) -> Iterator[tuple[np.ndarray, int]]:
    """Samples ``start .. start+n-1`` of the set ``seed``; classes cycle so the set is balanced.

    Sample ``i`` depends only on ``(seed, i)``, so any slice of a set can be made alone.
    """
    for i in range(start, start + n):
        rng = np.random.default_rng([int(seed), i])
        yield classify_sample(rng, size, class_id=i % len(CLASSES))


def classify_dataset(n: int, seed: int, size: Size = 128, semantic_stride: int | None = None):
    """``(images uint8 (n, H, W, 3), labels int64 (n,))`` of the classification set ``seed``.

    With ``semantic_stride=s`` also the scenes' semantic maps sampled at the centres of
    ``s x s`` cells, ``(n, H // s, W // s)`` uint8 (0 background, ``class_id + 1`` shape),
    for dense auxiliary supervision; the images are the same either way.
    """
    h, w = _hw(size)
    images = np.empty((n, h, w, 3), np.uint8)
    labels = np.empty(n, np.int64)
    s = semantic_stride
    maps = np.empty((n, h // s, w // s), np.uint8) if s else None
    for i in range(n):
        scene = classify_scene(np.random.default_rng([int(seed), i]), size, class_id=i % len(CLASSES))
        images[i], labels[i] = render(scene), scene.objects[0].class_id
        if s:
            maps[i] = semantic_map(scene)[s // 2::s, s // 2::s][: h // s, : w // s]
    return (images, labels) if not s else (images, labels, maps)
