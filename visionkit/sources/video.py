"""Video files, decoded frame by frame until the decoder stops.

The frame count in a video's header is only a hint: real files declare more frames than they
hold (a cut-off recording) or none at all. Iteration trusts ``read()`` alone, so a wrong count
never causes an error or a wait, and ``expected_length`` only feeds progress bars.
"""

from __future__ import annotations

import os
from typing import Iterator

import cv2

from ..errors import InputError
from ..imageio import describe_start, opencv_quiet, to_rgb8
from .base import Frame, FrameError, Source

# FFmpeg reads files everywhere it exists; CAP_ANY might hand a name with "%" in it to the
# image-sequence reader instead
#: the capture backend for files: FFmpeg where this OpenCV has it
VIDEO_BACKEND = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY


class VideoSource(Source):
    """A video file. Opening checks that a first frame decodes (else InputError) and then lets
    go of the file; each iteration opens it afresh, so many VideoSources cost nothing idle."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.name = os.fspath(path)
        if not os.path.exists(self.name):
            raise InputError(f"{self.name}: no such file or directory")
        if os.path.isdir(self.name):
            raise InputError(f"{self.name}: is a directory, not a video file")
        if os.path.getsize(self.name) == 0:
            raise InputError(f"{self.name}: empty file")
        capture = self._open()
        try:
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            fps = capture.get(cv2.CAP_PROP_FPS)
            with opencv_quiet():
                ok, _ = capture.read()
        finally:
            capture.release()
        if not ok:
            raise InputError(f"{self.name}: video has no decodable frames")
        #: frames per second from the header, or None
        self.fps: float | None = fps if fps > 0 else None
        self._declared = int(count) if count > 0 else None

    def _open(self) -> cv2.VideoCapture:
        with opencv_quiet():
            capture = cv2.VideoCapture(self.name, VIDEO_BACKEND)
        if not capture.isOpened():
            capture.release()
            try:
                with open(self.name, "rb") as f:
                    head = f.read(16)
            except OSError as exc:
                raise InputError(f"{self.name}: cannot read ({exc.strerror})") from None
            raise InputError(f"{self.name}: not a video OpenCV can decode (starts with {describe_start(head)})")
        return capture

    @property
    def expected_length(self) -> int | None:
        """The frame count the header declares (may be wrong either way), or None."""
        return self._declared

    def __iter__(self) -> Iterator[Frame | FrameError]:
        capture = self._open()
        try:
            index = 0
            while True:
                with opencv_quiet():
                    ok, bgr = capture.read()
                if not ok or bgr is None:
                    return
                stamp = capture.get(cv2.CAP_PROP_POS_MSEC)
                if stamp <= 0 and index and self.fps:  # containers without timestamps
                    stamp = index * 1000.0 / self.fps
                yield Frame(to_rgb8(bgr, source=self.name), self.name, index, stamp, self.fps)
                index += 1
        finally:
            capture.release()
