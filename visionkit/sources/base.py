"""What every source yields, and the interface every source (built-in or plugin) implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded picture: a still image, or one frame of a video or camera."""

    #: RGB uint8, H x W x 3, C-contiguous
    image: np.ndarray = field(repr=False, compare=False)
    #: the path, ``"webcam:0"`` or ``"array"``
    source: str
    #: frame number in a video or camera (a camera's counter: gaps are skipped frames); 0 for a still
    index: int
    #: position in a video, or milliseconds since a camera was opened
    timestamp_ms: float | None = None
    #: the source's frame rate where it has one (a video's header, a camera's setting)
    fps: float | None = None


@dataclass(frozen=True)
class FrameError:
    """Stands in the stream for an input that could not be read, so a batch goes on."""

    source: str
    #: the frame within a video or camera; None when the whole input failed
    index: int | None
    #: one line, without the source in front
    reason: str

    def __str__(self) -> str:
        where = self.source if self.index is None else f"{self.source} (frame {self.index})"
        return f"{where}: {self.reason}"

    @classmethod
    def from_exception(cls, exc: BaseException, source: str, index: int | None = None) -> "FrameError":
        """Our errors read ``"<source>: <reason>"``; keep only the reason."""
        message = " ".join(str(exc).split()) or type(exc).__name__
        # the message's whitespace is folded to one line; fold the source the same way to find it
        prefix = " ".join(f"{source}:".split()) + " "
        return cls(source, index, message[len(prefix):] if message.startswith(prefix) else message)


class Source:
    """A stream of frames. Iterating yields :class:`Frame` (or :class:`FrameError` for an item
    that cannot be read) one at a time, holding no more than the current frame.

    A source also answers an app that goes back, jumps and seeks (:meth:`read`). A source that
    is not :attr:`seekable` still reads, in order: every plugin's source works in the app as a
    stream without writing more than ``__iter__``.

    Use as a context manager, or call :meth:`close`, to release files and cameras.
    """

    #: shown in messages and progress bars
    name: str = ""
    #: True for cameras: frames come at the camera's pace and the newest one wins
    live: bool = False
    #: True when :meth:`read` reaches any item by its index (stills, a video file)
    seekable: bool = False
    #: frames per second where the source has a rate (a video's header, a camera's setting)
    fps: float | None = None

    @property
    def kind(self) -> str:
        """How an app presents the source: ``stills`` (pictures to page through), ``video``
        (plays, steps and seeks), ``live`` (a camera: its newest frame only) or ``stream``
        (frames in order only, e.g. a network stream)."""
        return "live" if self.live else "stream"

    @property
    def count(self) -> int | None:
        """How many items :meth:`read` reaches, or None when unknown (a stream, a video whose
        header declares no count). A video's count is its header's until reading finds the end."""
        return None

    @property
    def expected_length(self) -> int | None:
        """How many items iteration will probably yield (a hint for progress bars), or None."""
        return None

    def read(self, index: int) -> "Frame | FrameError | None":
        """Item ``index``, or None past the end.

        A source that is not seekable does not use ``index``: each call returns its next item
        in order (for a camera, the newest frame), and None once the stream has ended.
        """
        cursor = self.__dict__.get("_cursor")
        if cursor is None:
            cursor = self.__dict__["_cursor"] = iter(self)
        return next(cursor, None)

    def __iter__(self) -> Iterator[Frame | FrameError]:
        raise NotImplementedError

    @property
    def notes(self) -> list[str]:
        """One line each about what reading found that a user should know (a video that
        decodes fewer frames than it declares), filled while iterating."""
        return self.__dict__.setdefault("_notes", [])

    def close(self) -> None:
        """Release what the source holds; safe to call more than once."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
