"""Frames handed in as numpy arrays (the Python API's images)."""

from __future__ import annotations

from typing import Iterator, Sequence, Union

import numpy as np

from ..errors import InputError
from ..imageio import to_rgb8
from .base import Frame, FrameError, Source

ArrayInput = Union[np.ndarray, Sequence[np.ndarray]]


def _check(array: object, where: str) -> None:
    if not isinstance(array, np.ndarray):
        raise InputError(f"{where}: expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise InputError(f"{where}: expected uint8 pixels (0-255), got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))):
        raise InputError(f"{where}: expected an HxWx3 RGB image (or HxW grey, HxWx4 RGBA), "
                         f"got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{where}: empty image of shape {array.shape}")


class ArraySource(Source):
    """RGB uint8 arrays (HxWx3; HxW grey and HxWx4 RGBA are accepted and converted, alpha over
    white). Takes one array, an N x H x W x C stack, or a list of arrays; all are checked here,
    converted one at a time when read. ``name`` is the frames' source (a pasted picture's
    ``"clipboard"``)."""

    seekable = True
    kind = "stills"

    def __init__(self, arrays: ArrayInput, name: str = "array") -> None:
        self.name = name
        if isinstance(arrays, np.ndarray):
            items = list(arrays) if arrays.ndim == 4 else [arrays]
        elif isinstance(arrays, (list, tuple)):
            items = list(arrays)
        else:
            raise InputError(f"{name}: expected a numpy array or a list of them, got {type(arrays).__name__}")
        if not items:
            raise InputError(f"{name}: no images given")
        for i, item in enumerate(items):
            _check(item, name if len(items) == 1 else f"{name}[{i}]")
        self._items = items

    @property
    def count(self) -> int:
        return len(self._items)

    @property
    def expected_length(self) -> int:
        return len(self._items)

    def read(self, index: int) -> Frame | None:
        if not 0 <= index < len(self._items):
            return None
        return Frame(to_rgb8(self._items[index], bgr=False, source=self.name), self.name, index)

    def __iter__(self) -> Iterator[Frame | FrameError]:
        for i in range(len(self._items)):
            yield self.read(i)
