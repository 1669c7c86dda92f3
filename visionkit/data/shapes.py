"""Geometry of the ShapeWorld classes (numpy only).

Every class is a function of a few shape parameters that returns its outline in *unit
coordinates*: centred on the origin, extent about one unit in every direction, x to the right
and y downwards (image convention). A shape is a list of closed contours; the first is the
outer boundary and any further ones are holes (filled with the even-odd rule, as
``cv2.fillPoly`` does).

The parameter ranges keep the classes apart under the training augmentation, which stretches
images by up to 1.2x along one axis: an ellipse is at most 0.55 as wide as it is long and a
diamond at most 0.58, while a stretched circle or square stays above 0.83.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["CLASSES", "sample_params", "unit_contours"]

Contours = list[np.ndarray]

_ARC = 96  # points on a full circle


def _circle(n: int = _ARC, r: float = 1.0, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _regular(k: int) -> np.ndarray:
    """Regular k-gon with circumradius 1, one vertex pointing up."""
    t = -np.pi / 2 + np.arange(k) * 2.0 * np.pi / k
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _circle_shape(p: dict) -> Contours:
    return [_circle()]


def _ellipse(p: dict) -> Contours:
    return [_circle() * np.array([1.0, p["aspect"]])]


def _square(p: dict) -> Contours:
    s = 0.8
    return [np.array([[-s, -s], [s, -s], [s, s], [-s, s]])]


def _diamond(p: dict) -> Contours:
    a = p["aspect"]
    return [np.array([[0.0, -1.0], [a, 0.0], [0.0, 1.0], [-a, 0.0]])]


def _triangle(p: dict) -> Contours:
    return [_regular(3) + np.array([0.0, 0.25])]  # centre the bounding box


def _pentagon(p: dict) -> Contours:
    return [_regular(5) + np.array([0.0, 0.1])]


def _hexagon(p: dict) -> Contours:
    return [_regular(6)]


def _star(p: dict) -> Contours:
    t = -np.pi / 2 + np.arange(10) * np.pi / 5
    r = np.where(np.arange(10) % 2 == 0, 1.0, p["inner"])
    return [np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + np.array([0.0, 0.1])]


def _cross(p: dict) -> Contours:
    w = p["arm"]
    pts = [(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w),
           (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w)]
    return [np.array(pts, dtype=np.float64)]


def _ring(p: dict) -> Contours:
    return [_circle(), _circle(r=p["hole"])[::-1]]


def _crescent(p: dict) -> Contours:
    # the unit disc minus a disc of radius rb centred at (d, 0)
    d, rb = p["offset"], p["bite"]
    x = (1.0 + d * d - rb * rb) / (2.0 * d)
    y = np.sqrt(max(1.0 - x * x, 0.0))
    th0 = np.arctan2(y, x)
    ph1 = np.arctan2(y, x - d)
    ta = np.linspace(th0, 2.0 * np.pi - th0, _ARC)
    tb = np.linspace(2.0 * np.pi - ph1, ph1, _ARC)[1:-1]
    outer = np.stack([np.cos(ta), np.sin(ta)], axis=1)
    inner = np.stack([d + rb * np.cos(tb), rb * np.sin(tb)], axis=1)
    pts = np.concatenate([outer, inner])
    pts[:, 0] -= (pts[:, 0].min() + pts[:, 0].max()) / 2.0
    return [pts]


def _arrow(p: dict) -> Contours:
    w, hw, h0 = p["shaft"], p["head"], p["neck"]
    pts = [(-1, -w), (h0, -w), (h0, -hw), (1, 0), (h0, hw), (h0, w), (-1, w)]
    return [np.array(pts, dtype=np.float64)]


def _heart(p: dict) -> Contours:
    # the classic parametric heart curve, scaled into the unit box
    t = np.linspace(0.0, 2.0 * np.pi, _ARC, endpoint=False)
    x = 16.0 * np.sin(t) ** 3
    y = -(13.0 * np.cos(t) - 5.0 * np.cos(2 * t) - 2.0 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y], axis=1)
    pts -= (pts.min(0) + pts.max(0)) / 2.0
    return [pts / np.abs(pts).max()]


def _semicircle(p: dict) -> Contours:
    t = np.linspace(np.pi, 2.0 * np.pi, _ARC // 2 + 1)
    pts = np.stack([np.cos(t), np.sin(t) + 0.5], axis=1)
    return [pts]


_GEOMETRY: dict[str, Callable[[dict], Contours]] = {
    "circle": _circle_shape,
    "ellipse": _ellipse,
    "square": _square,
    "diamond": _diamond,
    "triangle": _triangle,
    "pentagon": _pentagon,
    "hexagon": _hexagon,
    "star": _star,
    "cross": _cross,
    "ring": _ring,
    "crescent": _crescent,
    "arrow": _arrow,
    "heart": _heart,
    "semicircle": _semicircle,
}

#: parameter name -> (low, high), drawn uniformly per object
_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "ellipse": {"aspect": (0.35, 0.55)},
    "diamond": {"aspect": (0.45, 0.58)},
    "star": {"inner": (0.38, 0.5)},
    "cross": {"arm": (0.24, 0.34)},
    "ring": {"hole": (0.5, 0.65)},
    "crescent": {"offset": (0.35, 0.5), "bite": (0.8, 0.9)},
    "arrow": {"shaft": (0.13, 0.2), "head": (0.42, 0.55), "neck": (0.05, 0.25)},
}

#: the class names, in class-id order
CLASSES: tuple[str, ...] = tuple(_GEOMETRY)


def sample_params(name: str, rng: np.random.Generator) -> dict[str, float]:
    """Random shape parameters of class ``name`` (empty for parameter-free classes)."""
    return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in _PARAMS.get(name, {}).items()}


def unit_contours(name: str, params: dict[str, float] | None = None) -> Contours:
    """Outline of class ``name`` in unit coordinates; contour 0 is outer, the rest holes."""
    try:
        geometry = _GEOMETRY[name]
    except KeyError:
        raise ValueError(f"unknown ShapeWorld class {name!r}; known: {', '.join(CLASSES)}") from None
    full = {k: (lo + hi) / 2.0 for k, (lo, hi) in _PARAMS.get(name, {}).items()}
    full.update(params or {})
    return [np.asarray(c, dtype=np.float64) for c in geometry(full)]
