"""``--save-as mot``: each source's tracks as a MOTChallenge results file, ``DIR/<name>.txt``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from visionkit.data.mot import MotFrame, format_mot, make_frame
from visionkit.errors import InputError
from visionkit.outputs import make_folder, save_bytes
from visionkit.results import FrameResult
from visionkit.writers import stem_of


class MotWriter:
    """Rows ``frame,id,x,y,w,h,score,-1,-1,-1`` (frames 1-based) per source, written on
    :meth:`close`: a video ``clip.mp4`` gives ``clip.txt``, which ``visionkit eval track --gt
    GT_DIR --pred DIR`` scores against ``GT_DIR/clip/gt/gt.txt``."""

    def __init__(self, out_dir: str | Path, *, overwrite: bool = False, root: str | Path | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        self.root = root  # inputs below it keep their sub-folders (see visionkit.writers.stem_of)
        make_folder(self.out_dir)
        self.written: list[Path] = []
        self._sources: dict[str, dict[int, MotFrame]] = {}
        self._closed = False

    def write(self, result: FrameResult) -> None:
        tracks = result.results.get("track")
        frames = self._sources.setdefault(result.source, {})
        if tracks is None:
            return  # a failed frame: the source still gets its file
        boxes = np.asarray(tracks.boxes, np.float64).reshape(-1, 4)
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        frames[int(result.frame) + 1] = make_frame(tracks.ids, np.round(xywh, 2), np.round(tracks.scores, 4))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        used: set[str] = set()
        for source, frames in self._sources.items():
            kept = stem_of(source, self.root) if self.root is not None else Path(source).stem
            stem = "/".join(re.sub(r"[^\w.-]+", "_", part) for part in kept.split("/")) or "source"
            name, k = stem, 1
            while name in used:  # two sources of one name (a/clip.mp4, b/clip.mp4) keep both
                k += 1
                name = f"{stem}_{k}"
            used.add(name)
            path = self.out_dir / f"{name}.txt"
            try:
                save_bytes(path, format_mot(frames), self.overwrite)
            except OSError as exc:
                raise InputError(f"{path}: cannot write ({exc.strerror})") from None
            self.written.append(path)

    def __enter__(self) -> MotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
