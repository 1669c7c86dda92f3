"""``--save-as coco``: the detections of a run as one COCO results dataset."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from visionkit.errors import InputError
from visionkit.imageio import VIDEO_EXTENSIONS
from visionkit.outputs import make_folder, save_bytes
from visionkit.results import FrameResult

FILE_NAME = "detections.json"


class CocoWriter:
    """Every image's detections, written on :meth:`close` as ``DIR/detections.json``: COCO
    ``images`` (file_name, width, height, id), ``categories`` (the labels seen, in order of
    first sight) and ``annotations`` (bbox [x, y, w, h] in pixels, score, category_id).

    A still keeps its path below the folder common to all stills as ``file_name``, so a run
    over a COCO set's image folder names its images as the set does; the frames of a video (or
    of any source that yields several) are numbered ``<name>_<frame:06d>.png``. That makes the
    file a results file for ``visionkit eval detect --gt annotations.json --dets
    DIR/detections.json``, which matches images by file name and classes by name.
    """

    def __init__(self, out_dir: str | Path, *, overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        make_folder(self.out_dir)
        self.written: list[Path] = []
        self._images: list[tuple[str, int, int, int]] = []  # source, frame, width, height
        self._annotations: list[dict[str, Any]] = []
        self._categories: dict[str, int] = {}
        self._closed = False

    def write(self, result: FrameResult) -> None:
        det = result.results.get("detect")
        if det is None:
            return  # nothing to score: a failed input, or a frame where detect itself failed
        self._images.append((result.source, result.frame, result.width, result.height))
        image_id = len(self._images)
        boxes = np.asarray(det.boxes, float).reshape(-1, 4)
        for (x1, y1, x2, y2), score, label in zip(boxes, det.scores, det.labels):
            w, h = float(x2 - x1), float(y2 - y1)
            self._annotations.append({
                "id": len(self._annotations) + 1, "image_id": image_id,
                "category_id": self._categories.setdefault(label, len(self._categories) + 1),
                "bbox": [round(float(x1), 2), round(float(y1), 2), round(w, 2), round(h, 2)],
                "area": round(w * h, 2), "iscrowd": 0, "score": round(float(score), 6),
            })

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        names = _file_names(self._images)
        images = []
        for i, ((source, frame, width, height), (name, numbered)) in enumerate(zip(self._images, names), 1):
            image = {"id": i, "file_name": name, "width": width, "height": height}
            images.append({**image, "frame": frame} if numbered else image)
        doc = {"images": images,
               "categories": [{"id": cid, "name": label} for label, cid in self._categories.items()],
               "annotations": self._annotations}
        path = self.out_dir / FILE_NAME
        try:
            save_bytes(path, json.dumps(doc), self.overwrite)
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc.strerror})") from None
        self.written.append(path)

    def __enter__(self) -> CocoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _file_names(images: list[tuple[str, int, int, int]]) -> list[tuple[str, bool]]:
    """(file_name, numbered?) per image: stills by their path below the folder all stills
    share; frames of a source that yields several, or of a video or camera, numbered."""
    frames = Counter(source for source, *_ in images)
    files = {s: Path(s).resolve() for s in frames if Path(s).is_file()}
    root = os.path.commonpath([str(p.parent) for p in files.values()]) if files else ""
    out = []
    for source, frame, *_ in images:
        if source in files:
            name = files[source].relative_to(root).as_posix()
        else:  # a camera ("webcam:0"), arrays, a file gone since: no file to name
            name = re.sub(r"[^\w.-]+", "", Path(source).stem) or "image"
        numbered = (frames[source] > 1 or source not in files
                    or Path(source).suffix.lower() in VIDEO_EXTENSIONS)
        if numbered:
            stem = PurePosixPath(name).with_suffix("").as_posix() if source in files else name
            name = f"{stem}_{frame:06d}.png"
        out.append((name, numbered))
    return out
