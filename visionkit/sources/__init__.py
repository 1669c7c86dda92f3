"""Frame sources: images, folders, globs, videos, cameras and arrays behind one interface.

    >>> with open_sources(["a.jpg", "clips/", "missing.png"]) as source:
    ...     for item in source:          # Frame, or FrameError for what cannot be read
    ...         ...

:func:`open_builtin` turns one spec into a :class:`Source` (or raises InputError);
:func:`open_sources` chains several, turning a spec that cannot be opened into a FrameError in
the stream so that the others still run. :func:`open_seekable` opens for an app that also goes
back, jumps and seeks (``Source.read(index)``), asking plugins' openers first.
"""

from __future__ import annotations

from .arrays import ArraySource
from .base import Frame, FrameError, Source
from .camera import CameraSource
from .chain import ChainSource
from .files import FolderSource, GlobSource, ImageSource, StillsSource, natural_key
from .seekable import open_seekable, open_with_plugins
from .specs import camera_index, open_builtin, open_sources
from .video import VideoSource

__all__ = [
    "ArraySource", "CameraSource", "ChainSource", "FolderSource", "Frame", "FrameError",
    "GlobSource", "ImageSource", "Source", "StillsSource", "VideoSource", "camera_index", "natural_key",
    "open_builtin", "open_seekable", "open_sources", "open_with_plugins",
]
