"""What the app can show, as random-access media over the core's sources (no Qt here).

The CLI streams sources front to back; an app also goes back, jumps and seeks. Each media
here wraps the core's readers, so decoding, validation and error messages are the CLI's own:

* :class:`StillList`  images (one, several, a folder or a glob): ``read(i)`` any of them
* :class:`VideoMedia` a video file: ``read(i)`` reads on sequentially, or seeks
* :class:`StreamMedia` a camera (newest frame only) or any plugin source: ``next()`` only
* :class:`ArrayMedia` one picture from the clipboard

Media are used by the inference worker's thread only, except :meth:`Media.close`, which may be
called from any thread to wake a camera read and end it.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from visionkit.errors import InputError
from visionkit.imageio import VIDEO_EXTENSIONS, opencv_quiet, to_rgb8
from visionkit.pipeline import open_source
from visionkit.sources import CameraSource, Frame, FrameError, Source, open_builtin
from visionkit.sources.files import FolderSource, GlobSource, ImageSource, read_frame
from visionkit.sources.video import VIDEO_BACKEND, VideoSource


class Media:
    name = ""
    kind = "stills"  # stills | video | live
    fps: float | None = None

    @property
    def count(self) -> int | None:
        """Number of items (stills, video frames), None when unknown or live."""
        return None

    @property
    def seekable(self) -> bool:
        return self.kind != "live"

    def read(self, index: int) -> Frame | FrameError | None:
        """Item ``index``; None past the end."""
        raise NotImplementedError

    def next(self) -> Frame | FrameError | None:
        """The next (for a camera: the newest) frame; None when the stream ended."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class StillList(Media):
    def __init__(self, paths: Sequence[str], name: str) -> None:
        self.paths = list(paths)
        self.name = name

    @property
    def count(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> Frame | FrameError | None:
        if not 0 <= index < len(self.paths):
            return None
        return read_frame(self.paths[index])


class ArrayMedia(Media):
    def __init__(self, image: np.ndarray, name: str = "clipboard") -> None:
        self.name = name
        self._image = to_rgb8(image, bgr=False, source=name)

    @property
    def count(self) -> int:
        return 1

    def read(self, index: int) -> Frame | None:
        return Frame(self._image, self.name, 0) if index == 0 else None


class VideoMedia(Media):
    kind = "video"

    def __init__(self, path: str) -> None:
        probe = VideoSource(path)  # the core's checks and messages: missing, empty, undecodable
        self.name = probe.name
        self.fps = probe.fps
        self._count = probe.expected_length
        with opencv_quiet():
            self._capture = cv2.VideoCapture(self.name, VIDEO_BACKEND)
        self._next = 0  # the frame the capture reads next

    @property
    def count(self) -> int | None:
        return self._count

    def read(self, index: int) -> Frame | None:
        if index < 0 or (self._count is not None and index >= self._count):
            return None
        with opencv_quiet():
            if index != self._next:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = self._capture.read()
        if not ok or bgr is None:
            # headers overstate frame counts; the decoder has the last word
            self._count = index if self._count is None or index < self._count else self._count
            self._next = -1
            return None
        self._next = index + 1
        stamp = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if stamp <= 0 and index and self.fps:
            stamp = index * 1000.0 / self.fps
        return Frame(to_rgb8(bgr, source=self.name), self.name, index, stamp)

    def close(self) -> None:
        self._capture.release()


class StreamMedia(Media):
    """A source read front to back: a camera keeps only its newest frame (CameraSource)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.kind = "live" if source.live else "stream"
        self._items = iter(source)

    def next(self) -> Frame | FrameError | None:
        return next(self._items, None)

    def read(self, index: int) -> Frame | FrameError | None:
        return self.next()

    def close(self) -> None:
        self.source.close()


def camera_index(spec: Any) -> int | None:
    """The camera a spec names (``0``, ``"0"``, ``"webcam:0"``), or None."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return int(spec)
    if isinstance(spec, str):
        match = re.fullmatch(r"(?:webcam|camera|cam):(\d+)", spec)
        if match or (spec.isdigit() and not os.path.exists(spec)):
            return int(match[1] if match else spec)
    return None


def _is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _expand(spec: str) -> list[str]:
    """Paths of the images a spec names (a folder's images, a glob's matches)."""
    source = open_builtin(spec)
    if isinstance(source, (FolderSource, GlobSource)):
        return [p for p in source.paths if not _is_video(p)]
    return [spec]


def open_media(spec: Any, *, camera_factory: Callable[[int], Any] | None = None) -> Media:
    """Media for a path, a list of paths, a folder, a glob, a camera index or an RGB array.

    :raises InputError: the one-line reason when nothing can be opened.
    """
    if isinstance(spec, np.ndarray):
        return ArrayMedia(spec)
    if isinstance(spec, (list, tuple)) and len(spec) == 1:
        spec = spec[0]
    if isinstance(spec, (list, tuple)):
        videos = [p for p in map(os.fspath, spec) if _is_video(p)]
        paths = [q for p in map(os.fspath, spec) if not _is_video(p) for q in _expand(p)]
        if not paths:
            raise InputError(f"{videos[0] if videos else 'selection'}: open one video at a time")
        return StillList(paths, f"{len(paths)} images")
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    index = camera_index(spec)
    if index is not None:
        factory = {"capture_factory": camera_factory} if camera_factory is not None else {}
        return StreamMedia(CameraSource(index, **factory))
    source = open_source(spec)  # plugin openers (rtsp://, ...) first, as the CLI does
    if isinstance(source, VideoSource):
        return VideoMedia(source.name)
    if isinstance(source, (FolderSource, GlobSource)):
        paths = [p for p in source.paths if not _is_video(p)]
        if not paths:
            raise InputError(f"{source.name}: only videos match; open one video at a time")
        return StillList(paths, source.name)
    if isinstance(source, ImageSource):
        return StillList([source.name], source.name)
    return StreamMedia(source)  # a plugin's kind of input: frames in order only
