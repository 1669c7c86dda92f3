"""ShapeWorld tracking sequences written as MOTChallenge folders (``visionkit data shapeworld
--task track``).

:func:`write_sequences` writes ``OUT/<name>/``: ``<name>.mp4`` (mp4v), ``gt/gt.txt`` rows
``frame,id,x,y,w,h,conf,class,visibility`` (frame, id and class 1-based, class the category id
of :data:`~visionkit.data.scenes.CATEGORIES`; x, y the 0-based pixel column and row of the box's
corner, as in every visionkit box), ``seqinfo.ini`` and, with ``frames_as``, ``img1/000001.png``.
Each folder is written under a hidden name and renamed when whole: a stopped write leaves none.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..imageio import opencv_quiet, write_image
from ..outputs import temp_path
from ..progress import Progress
from .mot import MotFrame, SeqInfo, make_frame, write_mot, write_seqinfo
from .sequences import TrackBox, sequence
from .shapeworld import Size, _hw

__all__ = ["write_sequences"]


def _gt_frames(rows: list[tuple[int, TrackBox]]) -> dict[int, MotFrame]:
    """MOTChallenge ground truth per 1-based frame: x, y, w, h of the visible box, the
    ``consider`` flag as conf, the 1-based class and the visibility."""
    by_frame: dict[int, list[TrackBox]] = {}
    for f, b in rows:
        by_frame.setdefault(f, []).append(b)
    out = {}
    for f, found in by_frame.items():
        xyxy = np.array([b.box for b in found], np.float64).reshape(-1, 4).astype(int)
        out[f] = make_frame([b.track_id for b in found], np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]),
                            [int(b.consider) for b in found], [b.class_id + 1 for b in found],
                            [round(b.visibility, 3) for b in found])
    return out


def _write_sequence(folder: Path, final: Path, args: tuple, frames_as: str | None, tick) -> list:
    n_frames, (h, w), fps = args[2:]
    video = folder / f"{final.name}.mp4"
    (folder / "gt").mkdir(parents=True)
    with opencv_quiet():
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    rows = []
    try:
        if not writer.isOpened():
            raise InputError(f"{final / video.name}: cannot open a video writer")
        for t, (image, found) in enumerate(sequence(*args)):
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if frames_as:
                write_image(folder / "img1" / f"{t + 1:06d}.{frames_as}", image)
            rows += [(t + 1, b) for b in found]
            tick(t + 1)
    finally:
        writer.release()
    with opencv_quiet():  # OpenCV's writer reports no error on a full disk: check the file plays
        capture = cv2.VideoCapture(str(video))
        ok = capture.isOpened() and capture.read()[0]
        capture.release()
    if not ok:
        raise InputError(f"{final / video.name}: the video could not be written (is the disk full?)")
    write_mot(folder / "gt" / "gt.txt", _gt_frames(rows), gt=True)
    # img1/ holds frames only with frames_as; the video always
    write_seqinfo(folder / "seqinfo.ini", SeqInfo(final.name, n_frames, float(fps), w, h, f".{frames_as or 'png'}",
                                                  extra={"imVideo": video.name}))
    return rows


def _publish_folder(tmp: Path, final: Path, overwrite: bool) -> None:
    """Rename the finished ``tmp`` to ``final``; an old ``final`` goes once the new one is in place."""
    old = final.with_name(f".{final.name}.old{os.getpid()}")
    try:
        if overwrite and final.exists():
            os.rename(final, old)
        os.rename(tmp, final)  # fails on a folder that appeared meanwhile: never mixes two
    except OSError as exc:
        if old.exists() and not final.exists():
            os.rename(old, final)  # the new one failed: keep the old
        raise InputError(f"{final}: cannot write ({exc.strerror or exc})") from None
    shutil.rmtree(old, ignore_errors=True)


def write_sequences(out_dir: str | Path, n_sequences: int, n_frames: int, seed: int, size: Size = 256,
                    fps: float = 25.0, progress: bool = True, frames_as: str | None = None,
                    overwrite: bool = False) -> dict:
    """Write sequences ``0 .. n_sequences-1`` of track set ``seed`` as MOTChallenge folders
    ``out_dir/shapeworld-<seed>-<k>`` (k from 01); ``frames_as`` "png" or "jpg" adds ``img1/``.

    Returns a summary: folder, sequence names, counts of tracks and boxes."""
    h, w = _hw(size)
    if n_sequences < 1 or n_frames < 1 or seed < 0:
        raise InputError(f"need a seed >= 0 and sequences of frames, not {n_sequences} x {n_frames}, seed {seed}")
    if frames_as not in (None, "png", "jpg"):
        raise InputError(f"frames are written as png or jpg, not {frames_as!r}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    names = [f"shapeworld-{seed}-{k + 1:02d}" for k in range(n_sequences)]
    held = [name for name in names if (root / name).exists()]
    if held and not overwrite:  # say so now rather than after minutes of work
        raise InputError(f"{root / held[0]}: already exists; pass --overwrite to replace it")
    root.mkdir(parents=True, exist_ok=True)
    n_boxes = n_tracks = 0
    with Progress(n_sequences * n_frames, f"writing {root}", enabled=progress) as bar:
        for k, name in enumerate(names):
            tmp = temp_path(root / name)
            try:
                rows = _write_sequence(tmp, root / name, (seed, k, n_frames, (h, w), fps), frames_as,
                                       lambda frame: bar.update(1))
                _publish_folder(tmp, root / name, overwrite)
            finally:  # stopped or failed: no half folder (once published there is nothing here)
                shutil.rmtree(tmp, ignore_errors=True)
            n_boxes += len(rows)
            n_tracks += len({b.track_id for _, b in rows})
    return {"out_dir": str(root), "task": "track", "generator": "shapeworld", "format": "mot",
            "sequences": names, "n": n_sequences, "frames": n_frames, "fps": fps, "seed": seed,
            "size": [h, w], "frames_as": frames_as, "num_tracks": n_tracks, "num_boxes": n_boxes}
