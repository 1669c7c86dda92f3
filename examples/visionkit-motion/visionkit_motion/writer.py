"""``--save-as motion_csv``: one row per frame in ``DIR/motion.csv``, for spreadsheets and
for finding the moments something moved in a long recording."""

from __future__ import annotations

import csv
from pathlib import Path

from visionkit.results import FrameResult

COLUMNS = ("source", "frame", "regions", "moving_fraction", "largest_box")


class MotionCsvWriter:
    """Built by ``--save DIR`` whenever the motion task runs (a default writer)."""

    def __init__(self, out_dir: str | Path) -> None:
        path = Path(out_dir) / "motion.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        self._csv.writerow(COLUMNS)
        self.written = [path]

    def write(self, result: FrameResult) -> None:
        motion = result.results.get("motion")
        if motion is None:
            return
        largest = " ".join(f"{v:.0f}" for v in motion.boxes[0]) if len(motion) else ""
        self._csv.writerow((result.source, result.frame, len(motion),
                            f"{motion.moving_fraction:.5f}", largest))

    def close(self) -> None:
        self._file.close()
