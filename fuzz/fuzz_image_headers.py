"""Fuzz the image header reader: any bytes give an answer, never an exception or a hang.

``sniff_format``, ``image_size`` and the full header walk that ``read_image`` runs before
decoding (``_header(..., to_end=True)``) must return for any input: a format or None, a
plausible size or None, an EXIF orientation 1..8 or None, and a one-line problem or None.
See fuzz/README.md for how to run it.
"""

import atheris
from _harness import fuzz

with atheris.instrument_imports():
    from visionkit import imageheaders
    from visionkit.errors import VisionkitError


def _check_size(size, what: str) -> None:
    if size is None:
        return
    if (not isinstance(size, tuple) or len(size) != 2
            or not all(isinstance(v, int) and v >= 0 for v in size)):
        raise AssertionError(f"{what} gave size {size!r}, not (width, height)")


def test_one_input(data: bytes) -> None:
    try:
        fmt = imageheaders.sniff_format(data[:64])
        start = imageheaders.describe_start(data)
        if "\n" in start or "\r" in start:
            raise AssertionError(f"describe_start is not one line: {start!r}")
        _check_size(imageheaders.image_size(data), "image_size")
        if fmt is None:
            return
        size, orientation, problem = imageheaders._header(fmt, data, to_end=True)
    except VisionkitError as exc:
        if "\n" in str(exc):
            raise AssertionError(f"refusal is not one line: {exc!s}") from exc
        return
    _check_size(size, f"the {fmt} header walk")
    if orientation is not None and orientation not in range(1, 9):
        raise AssertionError(f"EXIF orientation {orientation!r} is not 1..8")
    if problem is not None and (not isinstance(problem, str) or "\n" in problem):
        raise AssertionError(f"problem is not one line: {problem!r}")


if __name__ == "__main__":
    fuzz(test_one_input, "images")
