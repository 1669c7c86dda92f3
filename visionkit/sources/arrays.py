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
    converted one at a time while iterating."""

    name = "array"

    def __init__(self, arrays: ArrayInput) -> None:
        if isinstance(arrays, np.ndarray):
            items = list(arrays) if arrays.ndim == 4 else [arrays]
        elif isinstance(arrays, (list, tuple)):
            items = list(arrays)
        else:
            raise InputError(f"array: expected a numpy array or a list of them, got {type(arrays).__name__}")
        if not items:
            raise InputError("array: no images given")
        for i, item in enumerate(items):
            _check(item, "array" if len(items) == 1 else f"array[{i}]")
        self._items = items

    @property
    def expected_length(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Frame | FrameError]:
        for i, item in enumerate(self._items):
            yield Frame(to_rgb8(item, bgr=False, source=self.name), self.name, i)
