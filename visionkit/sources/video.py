"""Video files, decoded frame by frame until the decoder stops, or read by frame number.

The frame count in a video's header is only a hint: real files declare more frames than they
hold (a cut-off recording) or none at all. Iteration trusts the decoder alone, so a wrong count
never causes an error or a wait, and ``expected_length`` only feeds progress bars.

:meth:`VideoSource.read` serves an app that steps, jumps and seeks: it keeps one capture open
while in use, reads on where the last read stopped, and seeks otherwise. Where a container
cannot seek exactly it decodes forward from the start instead: slow, but the right frame.
"""

from __future__ import annotations

import os
from typing import Iterator

import cv2

from ..errors import InputError
from ..imageio import check_regular_file, describe_start, opencv_quiet, to_rgb8
from .base import Frame, FrameError, Source

# FFmpeg reads files everywhere it exists; CAP_ANY might hand a name with "%" in it to the
# image-sequence reader instead
#: the capture backend for files: FFmpeg where this OpenCV has it
VIDEO_BACKEND = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
#: a jump this many frames ahead or fewer decodes forward: cheaper than a seek, which decodes
#: from the last keyframe before the target (often much further back)
SHORT_HOP = 16


class VideoSource(Source):
    """A video file. Opening checks that a first frame decodes (else InputError) and then lets
    go of the file; each iteration opens it afresh, so many VideoSources cost nothing idle.
    :meth:`read` holds one capture until :meth:`close`; call it from one thread at a time."""

    seekable = True
    kind = "video"

    def __init__(self, path: str | os.PathLike) -> None:
        self.name = os.fspath(path)
        check_regular_file(self.name)  # a FIFO named x.mp4 would block the decoder forever
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
        self._count = self._declared  # corrected when read() meets the real end
        self._reader: cv2.VideoCapture | None = None  # the capture read() keeps open
        self._next = 0  # the frame _reader decodes next

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

    @property
    def count(self) -> int | None:
        """The header's frame count, lowered when a read finds fewer frames and raised when
        reading on finds more; None while neither header nor reading has told."""
        return self._count

    def __iter__(self) -> Iterator[Frame | FrameError]:
        capture = self._open()
        try:
            index = 0
            while True:
                frame = self._decode(capture, index)
                if frame is None:
                    break
                yield frame
                index += 1
        finally:
            capture.release()
        if self._declared and index < self._declared:  # a cut-off recording: say so once
            self.notes.append(f"{self.name}: the file declares {self._declared} frames; "
                              f"{index} could be decoded")

    def _decode(self, capture: cv2.VideoCapture, index: int) -> Frame | None:
        """The frame the capture decodes next, numbered ``index``; None at the end."""
        with opencv_quiet():
            ok, bgr = capture.read()
        if not ok or bgr is None:
            return None
        stamp = capture.get(cv2.CAP_PROP_POS_MSEC)
        if stamp <= 0 and index and self.fps:  # containers without timestamps
            stamp = index * 1000.0 / self.fps
        return Frame(to_rgb8(bgr, source=self.name), self.name, index, stamp, self.fps)

    def read(self, index: int) -> Frame | None:
        """Frame ``index``, or None past the end. Reading on from the last frame read may go
        beyond the header's count (headers understate too); a jump there may not."""
        beyond = self._count is not None and index >= self._count and index != self._next
        if index < 0 or beyond:
            return None
        if self._reader is None:
            self._reader, self._next = self._open(), 0
        if index != self._next:
            self._move_to(index)
        frame = self._decode(self._reader, index) if self._next == index else None
        if frame is None:
            # the decoder has the last word on where the video ends: exactly where decoding
            # forward ran out, else no later than here
            end = self._next if 0 <= self._next < index else index
            if self._count is None or end < self._count:
                self._count = end
            self._next = -1  # position unknown: the next read seeks
            return None
        self._next = index + 1
        if self._count is not None and self._next > self._count:
            self._count = self._next
        return frame

    def _move_to(self, index: int) -> None:
        """Make the reader decode frame ``index`` next; ``_next`` says where it really is."""
        reader = self._reader
        if 0 <= self._next < index <= self._next + SHORT_HOP:
            self._next += _skip(reader, index - self._next)
            return
        with opencv_quiet():
            exact = reader.set(cv2.CAP_PROP_POS_FRAMES, index) and reader.get(cv2.CAP_PROP_POS_FRAMES) == index
        if exact:
            self._next = index
            return
        # no exact seek in this container: decode forward from the first frame
        reader.release()
        self._reader = reader = self._open()
        self._next = _skip(reader, index)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.release()
            self._reader, self._next = None, 0


def _skip(capture: cv2.VideoCapture, frames: int) -> int:
    """Decode and drop up to ``frames`` frames; how many there were."""
    with opencv_quiet():
        for done in range(frames):
            if not capture.grab():
                return done
    return frames
