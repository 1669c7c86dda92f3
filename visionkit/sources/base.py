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
        prefix = f"{source}: "
        return cls(source, index, message[len(prefix):] if message.startswith(prefix) else message)


class Source:
    """A stream of frames. Iterating yields :class:`Frame` (or :class:`FrameError` for an item
    that cannot be read) one at a time, holding no more than the current frame.

    Use as a context manager, or call :meth:`close`, to release files and cameras.
    """

    #: shown in messages and progress bars
    name: str = ""
    #: True for cameras: frames come at the camera's pace and the newest one wins
    live: bool = False

    @property
    def expected_length(self) -> int | None:
        """How many items iteration will probably yield (a hint for progress bars), or None."""
        return None

    def __iter__(self) -> Iterator[Frame | FrameError]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds; safe to call more than once."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
