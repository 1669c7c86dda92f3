"""From what a user typed to a Source: paths, folders, globs, videos, camera numbers, arrays."""

from __future__ import annotations

import os
import re
from typing import Any, Callable

import numpy as np

from ..errors import InputError, VisionkitError
from ..imageio import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from .arrays import ArraySource
from .base import FrameError, Source
from .camera import CameraSource
from .chain import ChainSource
from .files import FolderSource, GlobSource, ImageSource
from .video import VideoSource

_CAMERA_SPEC = re.compile(r"(?:webcam|camera|cam):(\d+)")
#: network streams OpenCV's FFmpeg backend opens
_STREAM_URL = re.compile(r"(?:rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", re.IGNORECASE)


def camera_index(spec: Any) -> int | None:
    """The camera a spec names (``0``, ``"0"``, ``"webcam:0"``), or None. Digits that name an
    existing file or folder stay a path."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return int(spec)
    if not isinstance(spec, (str, os.PathLike)):
        return None
    path = os.fsdecode(os.fspath(spec))
    camera = _CAMERA_SPEC.fullmatch(path)
    if camera or (path.isdigit() and not os.path.exists(path)):
        return int(camera[1] if camera else path)
    return None


def open_builtin(spec: Any, *, recursive: bool = False) -> Source:
    """The built-in Source for one spec, or InputError when it cannot be opened at all.

    An int, ``"0"`` or ``"webcam:0"`` is a camera (digits naming an existing file or folder
    stay a path); a numpy array or a list of them is an ArraySource; an existing folder, a
    folder source; a string with ``*?[`` that names no existing file, a glob; a path with a
    video extension, a video; any other path, an image.
    """
    if isinstance(spec, Source):
        return spec
    camera = camera_index(spec)
    if camera is not None:
        return CameraSource(camera)
    if isinstance(spec, str) and _STREAM_URL.match(spec):
        if os.path.splitext(spec.split("?", 1)[0])[1].lower() in IMAGE_EXTENSIONS:
            raise InputError(f"{spec}: remote images are not fetched; download the file and give its path")
        return CameraSource(spec)  # read live through FFmpeg: the newest frame wins
    if isinstance(spec, np.ndarray) or (
            isinstance(spec, (list, tuple)) and spec and all(isinstance(a, np.ndarray) for a in spec)):
        return ArraySource(spec)
    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(f"{spec!r}: cannot read input of type {type(spec).__name__}")
    path = os.fsdecode(os.fspath(spec))
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
    camera = camera_index(spec)
    if camera is not None:
        return f"webcam:{camera}"
    if isinstance(spec, (str, os.PathLike)):
        return os.fsdecode(os.fspath(spec))
    if isinstance(spec, (np.ndarray, list, tuple)):
        return "array"
    return repr(spec)


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
