"""Still images from a file, a folder or a glob pattern (a pattern may also match videos).

Stills are seekable: ``read(i)`` decodes the i-th file, so an app pages back and forth through
a folder without holding more than the picture on show.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Iterator

from ..errors import InputError
from ..imageio import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, read_image
from .base import Frame, FrameError, Source
from .video import VideoSource


def natural_key(path: str) -> tuple:
    """Sort key: folder by folder, numbers by value (``img2`` before ``img10``), case-blind."""
    parts = re.split(r"[\\/]", path)
    return tuple(
        tuple(int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", part)) for part in parts
    ), path


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def read_frame(path: str) -> Frame | FrameError:
    """One still image as a Frame, or the reason it cannot be read."""
    try:
        return Frame(read_image(path), path, 0)
    except InputError as exc:
        return FrameError.from_exception(exc, path)


def check_file(path: str) -> None:
    """Raise the InputError a user should see when ``path`` is not a readable file."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a file")


class StillsSource(Source):
    """Still image files, ``paths``, read one at a time in order or by index."""

    seekable = True
    kind = "stills"
    paths: list[str]

    @property
    def count(self) -> int:
        return len(self.paths)

    @property
    def expected_length(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> Frame | FrameError | None:
        return read_frame(self.paths[index]) if 0 <= index < len(self.paths) else None

    def __iter__(self) -> Iterator[Frame | FrameError]:
        for path in self.paths:
            yield read_frame(path)


class ImageSource(StillsSource):
    """One image file. Decoded when read, so a bad file becomes a FrameError like any other."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.name = os.fspath(path)
        check_file(self.name)
        self.paths = [self.name]


def _list_images(root: str, recursive: bool) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        # hidden entries are skipped: macOS "._photo.jpg" files are not images at all
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        found += [os.path.join(folder, f) for f in files
                  if not f.startswith(".") and _extension(f) in IMAGE_EXTENSIONS]
    return sorted(found, key=natural_key)


class FolderSource(StillsSource):
    """The image files of a folder (by extension), in natural order; subfolders if recursive."""

    def __init__(self, path: str | os.PathLike, recursive: bool = False) -> None:
        self.name = os.fspath(path)
        if not os.path.isdir(self.name):
            check_file(self.name)
            raise InputError(f"{self.name}: not a folder")
        if not os.access(self.name, os.R_OK | os.X_OK):
            raise InputError(f"{self.name}: permission denied")
        self.paths = _list_images(self.name, recursive)
        if not self.paths:
            hint = ""
            if not recursive and any(e.is_dir() and not e.name.startswith(".") for e in os.scandir(self.name)):
                hint = " (subfolders not searched; use recursive)"
            raise InputError(f"{self.name}: no images in folder{hint}")


class GlobSource(Source):
    """Files matching a pattern (``**`` reaches into subfolders), in natural order. Images are
    read as stills and videos frame by frame; files of other kinds are left out. Seekable when
    it matched only images; with a video among them it plays as one stream, in order."""

    def __init__(self, pattern: str | os.PathLike) -> None:
        self.name = os.fspath(pattern)
        matches = [p for p in glob.glob(self.name, recursive=True) if os.path.isfile(p)]
        if not matches:
            raise InputError(f"{self.name}: no files match")
        media = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
        self.paths = sorted((p for p in matches if _extension(p) in media), key=natural_key)
        if not self.paths:
            raise InputError(f"{self.name}: {len(matches)} files match, none an image or video")
        self._length: int | None = None
        self.seekable = not any(_extension(p) in VIDEO_EXTENSIONS for p in self.paths)

    @property
    def kind(self) -> str:
        return "stills" if self.seekable else "stream"

    @property
    def count(self) -> int | None:
        return len(self.paths) if self.seekable else None

    def read(self, index: int) -> Frame | FrameError | None:
        if not self.seekable:
            return super().read(index)  # videos among the files: one stream, in order
        return read_frame(self.paths[index]) if 0 <= index < len(self.paths) else None

    @property
    def expected_length(self) -> int | None:
        if self._length is None:  # probing videos costs an open each: only when asked
            total = 0
            for path in self.paths:
                if _extension(path) in VIDEO_EXTENSIONS:
                    try:
                        total += VideoSource(path).expected_length or 0
                    except InputError:
                        total += 1
                else:
                    total += 1
            self._length = total
        return self._length

    def __iter__(self) -> Iterator[Frame | FrameError]:
        for path in self.paths:
            if _extension(path) not in VIDEO_EXTENSIONS:
                yield read_frame(path)
                continue
            try:
                video = VideoSource(path)
            except InputError as exc:
                yield FrameError.from_exception(exc, path)
                continue
            with video:
                yield from video
