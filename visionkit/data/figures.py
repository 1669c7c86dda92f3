"""Articulated stick figures for ShapeWorld: named joints, a skeleton, random poses.

A :class:`StickFigure` is a scene item like :class:`~visionkit.data.shapeworld.SceneObject`:
it has a ``z`` order, an ``alpha(h, w)`` coverage map (thick limbs with round caps plus a
filled head disc) and ``paint``. Its joints are the end points of the limbs it draws (the
head joint is the head disc's centre), so a joint that is not covered by a later item lies on
the figure's own pixels. Joint coordinates are pixel coordinates in the OpenCV convention
(pixel ``(r, c)`` has its centre at ``x = c, y = r``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["JOINTS", "SKELETON", "StickFigure", "random_figure", "random_pose"]

#: joint names, in keypoint order
JOINTS: tuple[str, ...] = (
    "head", "neck", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
_J = {name: i for i, name in enumerate(JOINTS)}

#: limbs as 0-based joint-index pairs (COCO files store them 1-based)
SKELETON: tuple[tuple[int, int], ...] = tuple((_J[a], _J[b]) for a, b in (
    ("head", "neck"), ("neck", "l_shoulder"), ("neck", "r_shoulder"),
    ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"), ("r_shoulder", "r_elbow"),
    ("r_elbow", "r_wrist"), ("neck", "pelvis"), ("pelvis", "l_hip"), ("pelvis", "r_hip"),
    ("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"),
))

_SHIFT = 4
_ONE = 1 << _SHIFT


@dataclass
class StickFigure:
    """A stick figure: ``joints`` (K, 2) pixel x/y in :data:`JOINTS` order."""

    class_id: int
    joints: np.ndarray
    thickness: float = 4.0  # limb width, pixels
    head_radius: float = 6.0
    colour: tuple[int, int, int] = (255, 255, 255)
    colour_name: str = ""
    z: int = 0
    track_id: int = -1
    annotated: bool = True
    keypoint_names: tuple[str, ...] = field(default=JOINTS, repr=False)

    @property
    def label(self) -> str:
        return "figure"

    def alpha(self, height: int, width: int) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        pts = np.round(np.asarray(self.joints, np.float64) * _ONE).astype(np.int64)
        t = max(2, int(round(self.thickness)))
        for a, b in SKELETON:
            cv2.line(canvas, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])),
                     255, t, cv2.LINE_AA, _SHIFT)
        head = pts[_J["head"]]
        cv2.circle(canvas, (int(head[0]), int(head[1])), int(round(self.head_radius * _ONE)),
                   255, -1, cv2.LINE_AA, _SHIFT)
        return canvas.astype(np.float32) / 255.0

    def mask(self, height: int, width: int) -> np.ndarray:
        return self.alpha(height, width) >= 0.5

    def paint(self, canvas: np.ndarray, alpha: np.ndarray) -> None:
        from .shapeworld import _blend

        _blend(canvas, alpha, self.colour)

    def keypoints(self, visible: np.ndarray) -> np.ndarray:
        """(K, 3) float32 ``x, y, v`` given this figure's visible mask (H, W) bool.

        ``v`` is 2 where the joint's pixel shows the figure, 1 where a later item covers it,
        0 where the joint lies outside the image (x and y are then 0, as COCO writes them).
        """
        h, w = visible.shape
        out = np.zeros((len(self.joints), 3), np.float32)
        for k, (x, y) in enumerate(np.asarray(self.joints, np.float64)):
            c, r = int(round(x)), int(round(y))
            if 0 <= c < w and 0 <= r < h:
                out[k] = (x, y, 2 if visible[r, c] else 1)
        return out


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def random_pose(rng: np.random.Generator, pelvis: tuple[float, float], length: float) -> np.ndarray:
    """(K, 2) joints from random joint angles; ``length`` is the torso length in pixels.

    Angles are screen angles (y down): -pi/2 points up. The torso leans a little, arms swing
    anywhere from down to raised, legs stay below the hips with bent knees.
    """
    L = float(length)
    j = np.zeros((len(JOINTS), 2))
    up = -np.pi / 2 + rng.uniform(-0.35, 0.35)
    j[_J["pelvis"]] = pelvis
    j[_J["neck"]] = j[_J["pelvis"]] + L * _unit(up)
    j[_J["head"]] = j[_J["neck"]] + 0.42 * L * _unit(up + rng.uniform(-0.3, 0.3))
    side = _unit(up + np.pi / 2)  # towards the figure's left on screen (image right when upright)
    for s, name in ((1, "l"), (-1, "r")):
        sh = j[_J["neck"]] + s * 0.32 * L * side
        j[_J[f"{name}_shoulder"]] = sh
        a1 = up + s * rng.uniform(0.4, 2.9)  # from raised to hanging
        el = sh + 0.55 * L * _unit(a1)
        j[_J[f"{name}_elbow"]] = el
        j[_J[f"{name}_wrist"]] = el + 0.5 * L * _unit(a1 + s * rng.uniform(-1.2, 1.2))
        hip = j[_J["pelvis"]] + s * 0.2 * L * side
        j[_J[f"{name}_hip"]] = hip
        down = up + np.pi
        a2 = down - s * rng.uniform(-0.15, 0.6)
        kn = hip + 0.6 * L * _unit(a2)
        j[_J[f"{name}_knee"]] = kn
        j[_J[f"{name}_ankle"]] = kn + 0.58 * L * _unit(a2 + rng.uniform(-0.7, 0.7))
    return j


def random_figure(rng: np.random.Generator, class_id: int, h: int, w: int, height: float,
                  colour: tuple[int, int, int], colour_name: str = "", z: int = 0,
                  inside: bool = True) -> StickFigure:
    """A figure about ``height`` px tall; ``inside`` keeps every joint in the frame."""
    L = height / 2.7
    joints = random_pose(rng, (0.0, 0.0), L)
    thick = max(3.0, 0.13 * L)
    head_r = max(thick, 0.2 * L)
    pad = np.array([head_r + 1, head_r + 1])
    lo, hi = joints.min(0) - pad, joints.max(0) + pad
    if inside:
        off = [rng.uniform(-lo[0], max(w - hi[0], -lo[0])), rng.uniform(-lo[1], max(h - hi[1], -lo[1]))]
    else:
        off = [rng.uniform(0, w), rng.uniform(0, h)]
    return StickFigure(class_id=class_id, joints=joints + np.asarray(off), thickness=float(thick),
                       head_radius=float(head_r), colour=colour, colour_name=colour_name, z=z)
