"""Style pictures drawn by code: mosaics, brush strokes, bands, dots and ink, any number of them.

An arbitrary-style network learns from many style pictures; none can be downloaded here, and
paintings in PyPI wheels are rare and of unclear licence. These are drawn from a seed instead,
each with its own palette, so a run can draw a new one for every training step and the app can
offer a few by name (``style=mosaic`` or ``style=strokes:7``, kind and seed) with no file at all.
They are strongly textured on purpose: what a style network takes from a picture is its colours
and the statistics of its strokes, which these have plenty of.

numpy and OpenCV only: the run-time half uses them as well as training.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

#: the kinds of picture, each a function (rng, side, palette) -> RGB uint8 (side, side, 3)
KINDS = ("mosaic", "strokes", "bands", "dots", "ink")
#: the seed of a named painting given without one (``style=mosaic``)
DEFAULT_SEED = 1


def palette(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` colours (RGB float 0-255) around one or two random hues, light and dark."""
    base = rng.uniform(0, 180)
    spread = rng.choice([12.0, 30.0, 90.0])  # a near-monochrome, an analogous or a contrasting set
    hues = (base + rng.normal(0, spread, count)) % 180
    sats = rng.uniform(60, 255, count)
    vals = rng.uniform(40, 255, count)
    hsv = np.stack([hues, sats, vals], axis=1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32)


def _smooth_noise(rng: np.random.Generator, side: int, cells: int) -> np.ndarray:
    """A smooth field in [0, 1]: uniform noise on a ``cells`` grid, enlarged bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    field = cv2.resize(grid, (side, side), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / max(hi - lo, 1e-6)


def mosaic(rng: np.random.Generator, side: int, colours: np.ndarray) -> np.ndarray:
    """Voronoi tiles of the palette, each a little mottled, with dark joints between them."""
    count = int(rng.integers(40, 260))
    seeds = rng.uniform(0, side, (count, 2)).astype(np.float32)
    small = max(64, side // 2)
    ys, xs = np.mgrid[0:small, 0:small].astype(np.float32) * (side / small)
    d = (xs[..., None] - seeds[:, 0]) ** 2 + (ys[..., None] - seeds[:, 1]) ** 2
    label = cv2.resize(d.argmin(axis=2).astype(np.float32), (side, side), interpolation=cv2.INTER_NEAREST)
    tile_colour = colours[rng.integers(len(colours), size=count)]
    picture = tile_colour[label.astype(np.int64)]
    picture *= 0.85 + 0.3 * _smooth_noise(rng, side, 24)[..., None]
    joints = (cv2.Laplacian(label, cv2.CV_32F) != 0).astype(np.uint8)
    width = int(rng.integers(1, 4))
    joints = cv2.dilate(joints, np.ones((width, width), np.uint8)) > 0
    picture[joints] = rng.uniform(0, 60)
    return picture


def strokes(rng: np.random.Generator, side: int, colours: np.ndarray) -> np.ndarray:
    """Short thick brush strokes laid along a smooth flow field, on a wash of one colour."""
    picture = np.empty((side, side, 3), np.float32)
    picture[:] = colours[0]
    angle = _smooth_noise(rng, side, int(rng.integers(2, 6))) * 2 * np.pi * rng.uniform(0.5, 2.0)
    length = rng.uniform(0.02, 0.08) * side
    thickness = max(1, int(rng.uniform(0.006, 0.03) * side))
    count = int(rng.integers(600, 1600) * (side / 256) ** 2)
    for x, y in rng.uniform(0, side, (count, 2)):
        a = angle[int(y), int(x)]
        dx, dy = np.cos(a) * length / 2, np.sin(a) * length / 2
        colour = np.clip(colours[rng.integers(len(colours))] + rng.normal(0, 12, 3), 0, 255)
        cv2.line(picture, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), colour.tolist(), thickness,
                 cv2.LINE_AA)
    return picture


def bands(rng: np.random.Generator, side: int, colours: np.ndarray) -> np.ndarray:
    """Wavy bands of the palette (op art): the colour index follows a warped sine."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    warp = _smooth_noise(rng, side, int(rng.integers(2, 5))) * rng.uniform(1.0, 6.0)
    theta = rng.uniform(0, np.pi)
    frequency = rng.uniform(4.0, 24.0)
    phase = (np.cos(theta) * xs + np.sin(theta) * ys) * frequency + warp
    index = np.floor(phase * 2).astype(np.int64) % len(colours)
    picture = colours[index]
    edges = np.abs(np.sin(np.pi * phase * 2)) < rng.uniform(0.0, 0.15)
    picture[edges] *= 0.3
    return picture


def dots(rng: np.random.Generator, side: int, colours: np.ndarray) -> np.ndarray:
    """Pointillism: many small discs of the palette over a lighter ground."""
    picture = np.empty((side, side, 3), np.float32)
    picture[:] = np.clip(colours.mean(axis=0) * 1.2, 0, 255)
    radius = max(1, int(rng.uniform(0.006, 0.025) * side))
    count = int(rng.integers(1500, 4000) * (side / 256) ** 2 * (4 / radius))
    for x, y in rng.uniform(0, side, (count, 2)):
        colour = colours[rng.integers(len(colours))]
        cv2.circle(picture, (int(x), int(y)), radius, colour.tolist(), -1, cv2.LINE_AA)
    return picture


def ink(rng: np.random.Generator, side: int, colours: np.ndarray) -> np.ndarray:
    """Blots of ink: thresholded noise at several scales, each level one colour, outlined."""
    field = sum(_smooth_noise(rng, side, cells) * w for cells, w in ((4, 0.6), (12, 0.3), (40, 0.1)))
    levels = len(colours)
    index = np.minimum((field / field.max() * levels).astype(np.int64), levels - 1)
    picture = colours[index]
    outline = cv2.Laplacian(index.astype(np.float32), cv2.CV_32F) != 0
    picture[cv2.dilate(outline.astype(np.uint8), np.ones((2, 2), np.uint8)) > 0] = 20.0
    picture *= 0.9 + 0.2 * _smooth_noise(rng, side, 64)[..., None]
    return picture


_DRAW: dict[str, Callable[[np.random.Generator, int, np.ndarray], np.ndarray]] = {
    "mosaic": mosaic, "strokes": strokes, "bands": bands, "dots": dots, "ink": ink}


def painting(kind: str, seed: int, side: int = 256) -> np.ndarray:
    """One style picture (RGB uint8, ``side`` square): the same for the same kind, seed and side."""
    if kind not in _DRAW:
        raise ValueError(f"no painting kind {kind!r} (kinds: {', '.join(KINDS)})")
    rng = np.random.default_rng([KINDS.index(kind), seed])
    colours = palette(rng, int(rng.integers(3, 8)))
    return np.clip(_DRAW[kind](rng, side, colours), 0, 255).round().astype(np.uint8)


def random_painting(rng: np.random.Generator, side: int) -> np.ndarray:
    """A painting of a kind and seed drawn from ``rng``: a new style for each training step."""
    return painting(KINDS[int(rng.integers(len(KINDS)))], int(rng.integers(2**31)), side)


def parse_name(text: str) -> tuple[str, int] | None:
    """``"mosaic"`` or ``"strokes:7"`` -> (kind, seed); None for anything else (a file's name)."""
    kind, _, seed = text.partition(":")
    if kind not in _DRAW or (seed and not seed.isdigit()):
        return None
    return kind, int(seed) if seed else DEFAULT_SEED
