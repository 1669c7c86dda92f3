"""Where results go: JSON lines, and annotated images or videos.

The CLI's ``--json`` and ``--save DIR`` are these classes; the Python API uses them the same
way::

    with vk.AnnotatedWriter("out") as save:
        for result in pipe.stream("clip.mp4"):
            save.write(result)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from .errors import InputError
from .imageio import VIDEO_EXTENSIONS, write_image
from .overlays import render
from .results import FrameResult, SegmentationMask


class JsonLinesWriter:
    """One JSON object per frame, one per line (the CLI contract's schema)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, result: FrameResult) -> None:
        self.stream.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


def _stem(source: str) -> str:
    if source.startswith("webcam:"):
        return "webcam" + source.split(":", 1)[1]
    return Path(source).stem or "image"


class AnnotatedWriter:
    """Annotated stills as ``DIR/<stem>.png``; frames of a video or camera as ``DIR/<stem>.mp4``.

    A still's segmentation is also written as ``DIR/<stem>_mask.png``: uint8 class ids at the
    image's size, 0 = background (the label-map format ShapeWorld's COCO export uses too).
    """

    def __init__(self, out_dir: str | Path, fps: float = 25.0) -> None:
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{out_dir}: cannot create output folder ({exc.strerror})") from None
        self.fps = fps
        self._videos: dict[str, cv2.VideoWriter] = {}
        self._used: set[str] = set()
        self.written: list[Path] = []

    def _unique(self, stem: str, suffix: str) -> Path:
        name, n = stem, 1
        while name in self._used:
            n += 1
            name = f"{stem}_{n}"
        self._used.add(name)
        return self.out_dir / f"{name}{suffix}"

    def write(self, result: FrameResult) -> None:
        if not result.results or result.image is None:
            return
        canvas = render(result)
        is_stream = result.source.startswith("webcam:") or Path(result.source).suffix.lower() in VIDEO_EXTENSIONS
        if not is_stream:
            path = self._unique(_stem(result.source), ".png")
            write_image(path, canvas)
            self.written.append(path)
            for res in result.results.values():
                if isinstance(res, SegmentationMask):
                    mask_path = path.with_name(f"{path.stem}_mask.png")
                    if not cv2.imwrite(str(mask_path), res.label_map):
                        raise InputError(f"{mask_path}: cannot write the mask")
                    self.written.append(mask_path)
                    break
            return
        writer = self._videos.get(result.source)
        if writer is None:
            path = self._unique(_stem(result.source), ".mp4")
            h, w = canvas.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise InputError(f"{path}: cannot open a video writer")
            self._videos[result.source] = writer
            self.written.append(path)
        writer.write(np.ascontiguousarray(canvas[..., ::-1]))

    def close(self) -> None:
        for writer in self._videos.values():
            writer.release()
        self._videos.clear()

    def __enter__(self) -> "AnnotatedWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
