"""MOTChallenge text files: tracks and ground truth (``*.txt``) and sequence info (``seqinfo.ini``).

A row is ``frame,id,x,y,w,h,conf,cls,vis,...``: frames are 1-based, a box is its top-left corner
and size in pixels (Milan et al. 2016, "MOT16: A Benchmark for Multi-Object Tracking",
arXiv:1603.00831). Ground truth uses ``conf`` as a flag: 0 means "ignore this box", so such rows
are left out (py-motmetrics' ``eval_motchallenge`` does the same with ``min_confidence=1``).
Columns 8 and 9 are read as class and visibility, MOT16's layout; MOT15 files keep world
coordinates there, or -1, which is why nothing here filters on them. Absent columns read as -1,
MOTChallenge's own "unknown".

Each frame becomes one :class:`MotFrame` of numpy arrays, rows sorted by id.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from visionkit.errors import InputError, printable

_SEPARATORS = re.compile(r"[,\s]+")  # commas as written; blanks/tabs as some MOT15 files have them


@dataclass(frozen=True)
class MotFrame:
    """The boxes of one frame: ``ids`` (N,) int64, ``boxes`` (N, 4) float64 x, y, w, h, and the
    ``conf``, ``cls`` and ``vis`` columns (N,) float64 (-1 where a file leaves them out)."""

    ids: np.ndarray
    boxes: np.ndarray
    conf: np.ndarray
    cls: np.ndarray
    vis: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class MotSequence:
    """One MOT file: ``frames`` maps a 1-based frame number to its :class:`MotFrame` (frames
    without any kept row are absent). ``dropped`` counts rows whose box was NaN, infinite or of
    negative size; ``ignored`` counts ground-truth rows flagged 0. A caller reports both."""

    frames: dict[int, MotFrame]
    dropped: int = 0
    ignored: int = 0
    path: str = ""

    @property
    def num_boxes(self) -> int:
        return sum(len(f) for f in self.frames.values())


def _read_text(path: Path) -> str:
    name = printable(str(path))
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: a BOM from a Windows editor is not data
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, not a MOT text file") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror})") from None


def read_mot(path: str | Path, *, gt: bool = False) -> MotSequence:
    """Read a MOTChallenge txt file (tracker output, or ground truth when ``gt``).

    Raises :class:`InputError` naming file and line for a malformed row: fewer than six values,
    a value that is not a number, a frame that is not an integer >= 1, an id that is not an
    integer, or an id twice in one frame (a track must be one box per frame)."""
    path = Path(path)
    name = printable(str(path))
    rows: list[list[float]] = []
    first_line: dict[tuple[int, int], int] = {}
    dropped = ignored = 0
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        where = f"{name}:{lineno}"
        parts = _SEPARATORS.split(line)[:9]
        if len(parts) < 6:
            raise InputError(f"{where}: expected at least 6 values frame,id,x,y,w,h; got {len(parts)}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            bad = next(p for p in parts if not _is_number(p))
            raise InputError(f"{where}: {printable(bad[:20])!r} is not a number") from None
        frame, tid = values[0], values[1]
        if not (frame.is_integer() and frame >= 1):
            raise InputError(f"{where}: frame {parts[0]} is not an integer >= 1 (MOT frames are 1-based)")
        if not tid.is_integer():
            raise InputError(f"{where}: id {parts[1]} is not an integer")
        key = (int(frame), int(tid))
        if key in first_line:
            raise InputError(f"{where}: id {key[1]} appears twice in frame {key[0]} "
                             f"(first on line {first_line[key]})")
        first_line[key] = lineno
        values += [1.0, -1.0, -1.0][len(values) - 6:]  # conf 1 and cls/vis unknown where absent
        if gt and values[6] == 0:
            ignored += 1
            continue
        x, y, w, h = values[2:6]
        if not np.isfinite([x, y, w, h]).all() or w < 0 or h < 0:
            dropped += 1
            continue
        rows.append(values)
    return MotSequence(_split_frames(np.array(rows, dtype=np.float64).reshape(-1, 9)),
                       dropped=dropped, ignored=ignored, path=str(path))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split_frames(table: np.ndarray) -> dict[int, MotFrame]:
    """Rows (frame, id, x, y, w, h, conf, cls, vis) to one MotFrame per frame, sorted by id."""
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    frames, starts = np.unique(table[:, 0].astype(np.int64), return_index=True)
    out = {}
    for frame, rows in zip(frames.tolist(), np.split(table, starts[1:])):
        out[frame] = MotFrame(ids=rows[:, 1].astype(np.int64), boxes=rows[:, 2:6].copy(),
                              conf=rows[:, 6].copy(), cls=rows[:, 7].copy(), vis=rows[:, 8].copy())
    return out


def make_frame(ids, boxes, conf=None, cls=None, vis=None) -> MotFrame:
    """A MotFrame from array-likes (a tracker's output of one frame); missing columns are -1
    (conf 1)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    n = len(ids)

    def column(v, default):
        return np.full(n, default, np.float64) if v is None else np.asarray(v, np.float64).reshape(n)

    return MotFrame(ids, np.asarray(boxes, np.float64).reshape(n, 4), column(conf, 1.0),
                    column(cls, -1.0), column(vis, -1.0))


def _num(v: float) -> str:
    # integers without ".0"; other values in the shortest form that reads back to the same float
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def format_mot(frames: MotSequence | Mapping[int, MotFrame], *, gt: bool = False) -> str:
    """``frame,id,x,y,w,h,conf,cls,vis,-1`` rows, by frame then id. Ten columns is the length
    MOTChallenge's devkit expects of a tracker's file (its last three are x, y, z, -1 in 2D);
    ground truth (``gt``) has nine, as MOT16 and later write it. :func:`read_mot` reads the
    same values back."""
    tail = "\n" if gt else ",-1\n"
    if isinstance(frames, MotSequence):
        frames = frames.frames
    lines = []
    for frame in sorted(frames):
        f = frames[frame]
        for k in np.argsort(f.ids, kind="stable"):
            values = [*f.boxes[k], f.conf[k], f.cls[k], f.vis[k]]
            lines.append(f"{int(frame)},{int(f.ids[k])}," + ",".join(_num(v) for v in values) + tail)
    return "".join(lines)


def write_mot(path: str | Path, frames: MotSequence | Mapping[int, MotFrame], *, gt: bool = False) -> None:
    """Write :func:`format_mot`'s rows to ``path``."""
    Path(path).write_text(format_mot(frames, gt=gt), encoding="utf-8")


@dataclass(frozen=True)
class SeqInfo:
    """A sequence's ``seqinfo.ini`` ([Sequence] name, imDir, frameRate, seqLength, imWidth,
    imHeight, imExt)."""

    name: str
    seq_length: int
    frame_rate: float | None = None
    im_width: int | None = None
    im_height: int | None = None
    im_ext: str = ".jpg"
    im_dir: str = "img1"
    extra: dict[str, str] = field(default_factory=dict, compare=False)  # keys this module does not know


_KEYS = {"name": "name", "imdir": "im_dir", "framerate": "frame_rate", "seqlength": "seq_length",
         "imwidth": "im_width", "imheight": "im_height", "imext": "im_ext"}
_SPELLING = {"name": "name", "im_dir": "imDir", "frame_rate": "frameRate", "seq_length": "seqLength",
             "im_width": "imWidth", "im_height": "imHeight", "im_ext": "imExt"}


def read_seqinfo(path: str | Path) -> SeqInfo:
    """Read ``seqinfo.ini``; name and seqLength are required, the rest optional."""
    path = Path(path)
    name = printable(str(path))
    parser = configparser.ConfigParser(interpolation=None)  # keys are matched case-insensitively
    try:
        parser.read_string(_read_text(path), source=str(path))
    except configparser.Error as exc:
        raise InputError(f"{name}: not an INI file ({' '.join(str(exc).split())})") from None
    if not parser.has_section("Sequence"):
        raise InputError(f"{name}: no [Sequence] section")
    section = parser["Sequence"]
    values: dict = {}
    extra = {}
    for key, text in section.items():
        if key not in _KEYS:
            extra[key] = text
            continue
        attr = _KEYS[key]
        try:
            if attr in ("seq_length", "im_width", "im_height"):
                number = int(text)
                if number < 0:
                    raise ValueError
                values[attr] = number
            elif attr == "frame_rate":
                values[attr] = float(text)
            else:
                values[attr] = text.strip()
        except ValueError:
            raise InputError(f"{name}: {_SPELLING[attr]}={printable(text)!r} is not a valid number") from None
    for required in ("name", "seq_length"):
        if required not in values:
            raise InputError(f"{name}: [Sequence] has no {_SPELLING[required]}")
    return SeqInfo(**values, extra=extra)


def write_seqinfo(path: str | Path, info: SeqInfo) -> None:
    """Write ``seqinfo.ini`` in MOTChallenge's spelling; optional fields left unset are omitted."""
    lines = ["[Sequence]"]
    for attr in ("name", "im_dir", "frame_rate", "seq_length", "im_width", "im_height", "im_ext"):
        value = getattr(info, attr)
        if value is not None:
            lines.append(f"{_SPELLING[attr]}={_num(value) if attr == 'frame_rate' else value}")
    lines += [f"{k}={v}" for k, v in info.extra.items()]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
