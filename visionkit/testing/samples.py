"""Small seeded pictures and clips to run tasks on: ShapeWorld scenes, and a short sequence
in which one object moves across a still scene (what a tracker or a motion detector needs).

Everything here is numpy and OpenCV, the same on every machine for the same seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

#: (height, width) of the samples: small for speed, not square so that a swapped axis shows
SIZE = (96, 128)
FPS = 10.0


def sample_images(n: int = 3, seed: int = 0, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """``n`` ShapeWorld scenes (RGB uint8, ``size`` = (height, width)), the same for a seed."""
    from ..data.scenes import scene_for
    from ..data.shapeworld import render

    return [np.ascontiguousarray(render(scene_for("detect", seed, i, size=size))) for i in range(n)]


def moving_frames(n: int = 12, seed: int = 0, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """``n`` frames of one scene: still for the first three, then a disc crossing it left to
    right (RGB uint8). Frame ``i`` is the same for every call with the same arguments."""
    h, w = size
    background = sample_images(1, seed, size)[0]
    rng = np.random.default_rng(seed)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    radius = max(4, min(h, w) // 8)
    frames = []
    for i in range(n):
        frame = background.copy()
        if i >= 3:
            x = int(radius + (w - 2 * radius) * (i - 3) / max(1, n - 4))
            cv2.circle(frame, (x, h // 2), radius, colour, -1, cv2.LINE_AA)
        frames.append(frame)
    return frames


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float = FPS) -> Path:
    """Write RGB frames as an mp4 (mp4v) file; returns its path."""
    path = Path(path)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write mp4 here")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        writer.release()
    return path
