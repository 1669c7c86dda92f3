"""Several sources one after another, as one: what a list of inputs opens to."""

from __future__ import annotations

from typing import Iterable, Iterator

from ..errors import InputError
from .base import Frame, FrameError, Source


class ChainSource(Source):
    """Several sources one after another; FrameErrors stand in for specs that did not open.

    A chain of stills (files, folders, arrays; a failed spec counts as one item) is seekable:
    ``read(i)`` finds the part that holds item i. A chain with a video or a camera in it
    plays in order.
    """

    def __init__(self, parts: Iterable[Source | FrameError]) -> None:
        self.parts = list(parts)
        self.live = any(isinstance(p, Source) and p.live for p in self.parts)
        self.name = ", ".join(p.name if isinstance(p, Source) else p.source for p in self.parts)
        # stills only: their counts are exact, so an index maps to one part
        self.seekable = all(isinstance(p, FrameError) or (p.seekable and p.kind == "stills") for p in self.parts)

    @property
    def notes(self) -> list[str]:
        return [n for p in self.parts if isinstance(p, Source) for n in p.notes]

    @property
    def kind(self) -> str:
        return "stills" if self.seekable else super().kind

    @property
    def count(self) -> int | None:
        return sum(_size(p) for p in self.parts) if self.seekable else None

    @property
    def expected_length(self) -> int | None:
        """Sum of the parts' hints (a failed spec counts 1); None if live or nothing is known."""
        if self.live:
            return None
        hints = [p.expected_length if isinstance(p, Source) else 1 for p in self.parts]
        known = [h for h in hints if h is not None]
        return sum(known) if known else None

    def read(self, index: int) -> Frame | FrameError | None:
        if not self.seekable:
            return super().read(index)
        if index < 0:
            return None
        for part in self.parts:
            size = _size(part)
            if index < size:
                return part if isinstance(part, FrameError) else part.read(index)
            index -= size
        return None

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


def _size(part: Source | FrameError) -> int:
    return 1 if isinstance(part, FrameError) else part.count or 0
