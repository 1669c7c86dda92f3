"""ShapeWorld sets as in-memory arrays for training the shared backbone's heads together.

Every image comes with everything any head learns from: the semantic label map, each
object's box and class, each figure's joints, and (for the single-shape classification
pictures mixed in) the image's class. Images are stored as the backbone will see them:
put through the backbone card's geometry (:func:`visionkit.preprocess.preprocess`), with
the annotations moved along, so training sees what inference sees.

Generation runs in worker processes; sample ``i`` of kind ``k`` and seed ``s`` depends only
on ``(k, s, i)``, so any set can be regenerated alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from pathlib import Path

import cv2
import numpy as np

from ..cards import InputSpec
from ..preprocess import preprocess
from .figures import JOINTS
from .scenes import annotate, scene_for
from .sequences import training_frame
from .shapeworld import CLASSES, classify_scene, render, semantic_map

__all__ = ["KINDS", "SceneArrays", "make_scene_arrays", "sampler_digest"]

#: what a part of a set holds: multi-object scenes, figure scenes, single-shape pictures, still
#: frames of tracking sequences
KINDS = ("detect", "pose", "classify", "track")
CLASSIFY_SIZE = 128  # the classification pictures' native size (as `visionkit data` writes them)
#: the modules that draw and annotate the pictures of every kind
_SAMPLERS = ("figures.py", "scene_arrays.py", "scenes.py", "sequences.py", "shapeworld.py")


@lru_cache(maxsize=1)
def sampler_digest() -> str:
    """A digest of the source of :data:`_SAMPLERS`: what a set holds depends on it as much as on
    its seeds, so a cache of features keyed by it is never served for pictures drawn by other
    code (a sampler changed, an annotation fixed)."""
    digest = sha256()
    for name in _SAMPLERS:
        digest.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class SceneArrays:
    """``n`` images at the backbone's input size and their annotations (input pixels)."""

    images: np.ndarray  # (n, H, W, 3) uint8
    semantic: np.ndarray  # (n, H, W) uint8: 0 background, class id + 1
    boxes: list[np.ndarray]  # n x (k, 4) float32 xyxy
    classes: list[np.ndarray]  # n x (k,) int64, ids into CATEGORIES
    keypoints: list[np.ndarray]  # n x (k, K, 3) float32 x, y, v (zeros for shapes)
    image_labels: np.ndarray  # (n,) int64: the picture's class, -1 for scenes

    def __len__(self) -> int:
        return len(self.images)

    @staticmethod
    def concat(parts: Sequence[SceneArrays]) -> SceneArrays:
        return SceneArrays(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.semantic for p in parts]),
            [b for p in parts for b in p.boxes],
            [c for p in parts for c in p.classes],
            [k for p in parts for k in p.keypoints],
            np.concatenate([p.image_labels for p in parts]),
        )


def _sample(kind: str, seed: int, index: int, spec: InputSpec):
    if kind == "classify":
        class_id = index % len(CLASSES)
        scene = classify_scene(np.random.default_rng([int(seed), index]), CLASSIFY_SIZE, class_id)
        label = class_id
    elif kind == "track":
        scene, label = training_frame(seed, index), -1
    else:
        scene = scene_for(kind, seed, index)
        label = -1
    image = render(scene)
    tensor, t = preprocess(image, spec)
    size = tuple(spec.size)
    anns = annotate(scene)
    sem = semantic_map(scene)
    if sem.shape != size:  # nearest, placed by the same transform as the image
        warp = np.array([[t.scale_x, 0, t.offset_x], [0, t.scale_y, t.offset_y]], np.float64)
        sem = cv2.warpAffine(
            sem,
            warp,
            (size[1], size[0]),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    boxes = np.array([t.to_input(a.box) for a in anns], np.float32).reshape(-1, 4)
    classes = np.array([a.class_id for a in anns], np.int64)
    kps = np.zeros((len(anns), len(JOINTS), 3), np.float32)
    for i, a in enumerate(anns):
        if a.keypoints is not None:
            kps[i, :, :2] = t.to_input(a.keypoints[:, :2])
            kps[i, :, 2] = a.keypoints[:, 2]
    return tensor[0], sem, boxes, classes, kps, label


def _chunk(args) -> list:
    kind, seed, start, stop, spec = args
    return [_sample(kind, seed, i, spec) for i in range(start, stop)]


def make_scene_arrays(
    parts: Sequence[tuple[str, int, int]], spec: InputSpec, *, workers: int = 2, progress=None,
    window: tuple[int, int] | None = None,
) -> SceneArrays:
    """One set from ``parts`` = ``[(kind, n, seed), ...]`` (kinds: :data:`KINDS`).

    :param spec: the backbone's input spec (geometry only is used).
    :param progress: optional callable(count) told how many samples were made.
    :param window: ``(start, stop)``: only those samples of the whole set, in its order, so a
        set too large to hold can be made a piece at a time (each piece is what the whole set
        holds there).
    """
    start, stop = window if window is not None else (0, sum(n for _, n, _ in parts))
    jobs, offset = [], 0
    for kind, n, seed in parts:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        step = 200
        for s in range(0, n, step):
            lo, hi = max(s, start - offset), min(s + step, n, stop - offset)
            if lo < hi:
                jobs.append((kind, seed, lo, hi, spec))
        offset += n
    samples: list = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for chunk in pool.map(_chunk, jobs):
                samples += chunk
                if progress:
                    progress(len(chunk))
    else:
        for job in jobs:
            chunk = _chunk(job)
            samples += chunk
            if progress:
                progress(len(chunk))
    h, w = spec.size
    if not samples:
        return SceneArrays(
            np.zeros((0, h, w, 3), np.uint8), np.zeros((0, h, w), np.uint8), [], [], [], np.zeros(0, np.int64)
        )
    return SceneArrays(
        np.stack([s[0] for s in samples]),
        np.stack([s[1] for s in samples]),
        [s[2] for s in samples],
        [s[3] for s in samples],
        [s[4] for s in samples],
        np.array([s[5] for s in samples], np.int64),
    )
