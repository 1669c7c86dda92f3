"""Frame sources: images, folders, globs, videos, cameras and arrays behind one interface.

    >>> with open_sources(["a.jpg", "clips/", "missing.png"]) as source:
    ...     for item in source:          # Frame, or FrameError for what cannot be read
    ...         ...

:func:`open_builtin` turns one spec into a :class:`Source` (or raises InputError);
:func:`open_sources` chains several, turning a spec that cannot be opened into a FrameError in
the stream so that the others still run.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..errors import InputError, VisionkitError
from ..imageio import VIDEO_EXTENSIONS
from .arrays import ArraySource
from .base import Frame, FrameError, Source
from .camera import CameraSource
from .files import FolderSource, GlobSource, ImageSource, natural_key
from .video import VideoSource

__all__ = [
    "ArraySource", "CameraSource", "ChainSource", "FolderSource", "Frame", "FrameError",
    "GlobSource", "ImageSource", "Source", "VideoSource", "natural_key", "open_builtin",
    "open_sources",
]

_CAMERA_SPEC = re.compile(r"(?:webcam|camera|cam):(\d+)")


def open_builtin(spec: Any, *, recursive: bool = False) -> Source:
    """The built-in Source for one spec, or InputError when it cannot be opened at all.

    An int, ``"0"`` or ``"webcam:0"`` is a camera (digits naming an existing file or folder
    stay a path); a numpy array or a list of them is an ArraySource; an existing folder, a
    folder source; a string with ``*?[`` that names no existing file, a glob; a path with a
    video extension, a video; any other path, an image.
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return CameraSource(int(spec))
    if isinstance(spec, np.ndarray) or (
            isinstance(spec, (list, tuple)) and spec and all(isinstance(a, np.ndarray) for a in spec)):
        return ArraySource(spec)
    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(f"{spec!r}: cannot read input of type {type(spec).__name__}")
    path = os.fsdecode(os.fspath(spec))
    camera = _CAMERA_SPEC.fullmatch(path)
    if camera or (path.isdigit() and not os.path.exists(path)):
        return CameraSource(int(camera[1] if camera else path))
    if os.path.isdir(path):
        return FolderSource(path, recursive=recursive)
    if os.path.exists(path):
        if os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS:
            return VideoSource(path)
        return ImageSource(path)
    if re.search(r"[*?[]", path):
        return GlobSource(path)
    raise InputError(f"{path}: no such file or directory")


def _spec_name(spec: Any) -> str:
    """The name a spec's Source would have, so an error about it names it the same way."""
    if isinstance(spec, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(spec))
        camera = _CAMERA_SPEC.fullmatch(path)
        if camera or (path.isdigit() and not os.path.exists(path)):
            return f"webcam:{int(camera[1] if camera else path)}"
        return path
    if isinstance(spec, (np.ndarray, list, tuple)):
        return "array"
    return f"webcam:{spec}" if isinstance(spec, int) else repr(spec)


class ChainSource(Source):
    """Several sources one after another; FrameErrors stand in for specs that did not open."""

    def __init__(self, parts: Iterable[Source | FrameError]) -> None:
        self.parts = list(parts)
        self.live = any(isinstance(p, Source) and p.live for p in self.parts)
        self.name = ", ".join(p.name if isinstance(p, Source) else p.source for p in self.parts)

    @property
    def expected_length(self) -> int | None:
        """Sum of the parts' hints (a failed spec counts 1); None if live or nothing is known."""
        if self.live:
            return None
        hints = [p.expected_length if isinstance(p, Source) else 1 for p in self.parts]
        known = [h for h in hints if h is not None]
        return sum(known) if known else None

    def __iter__(self) -> Iterator[Frame | FrameError]:
        for part in self.parts:
            if isinstance(part, FrameError):
                yield part
                continue
            try:
                yield from part
            except InputError as exc:  # a source that breaks midway ends alone, not the batch
                yield FrameError.from_exception(exc, part.name)

    def close(self) -> None:
        for part in self.parts:
            if isinstance(part, Source):
                part.close()


def open_sources(specs: Any, *, recursive: bool = False,
                 opener: Callable[..., Source] = open_builtin) -> Source:
    """One Source that runs ``specs`` in order. ``opener(spec, recursive=...)`` opens each (the
    pipeline passes one that asks plugins first); a spec it cannot open becomes a FrameError."""
    if isinstance(specs, (str, os.PathLike, int, np.ndarray, Source)):
        specs = [specs]
    specs = list(specs)
    if not specs:
        raise InputError("no inputs given")
    parts: list[Source | FrameError] = []
    for spec in specs:
        try:
            parts.append(opener(spec, recursive=recursive))
        except VisionkitError as exc:
            parts.append(FrameError.from_exception(exc, _spec_name(spec)))
    return ChainSource(parts)
