"""``--save-as masks``: each still's label map as ``DIR/<stem>_mask.png``.

uint8 class ids at the image's size, 0 = background: the label-map format ShapeWorld's COCO
export uses too, so a saved mask can be compared with ground truth directly. Written with
``--save`` by default whenever the segment task runs.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from visionkit.errors import InputError
from visionkit.outputs import save_bytes
from visionkit.results import FrameResult
from visionkit.writers import is_stream, stem_of


class MaskWriter:
    def __init__(self, out_dir: str | Path, *, overwrite: bool = False, root: str | Path | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        self.root = root
        self.written: list[Path] = []
        self._used: set[str] = set()

    def write(self, result: FrameResult) -> None:
        mask = next((r for r in result.results.values() if getattr(r, "kind", "") == "segmentation"), None)
        if mask is None or is_stream(result.source):
            return
        stem = name = stem_of(result.source, self.root)
        n = 1
        while name in self._used:  # a.png and a.jpg (or a second a.png) get masks of their own
            n += 1
            name = f"{stem}_{n}"
        self._used.add(name)
        path = self.out_dir / f"{name}_mask.png"
        ok, png = cv2.imencode(".png", mask.label_map)
        if not ok:
            raise InputError(f"{path}: cannot encode the mask")
        save_bytes(path, png.tobytes(), self.overwrite)
        self.written.append(path)

    def close(self) -> None:
        pass
