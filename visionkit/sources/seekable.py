"""Opening sources for an app, which goes back, jumps and seeks as well as plays.

The CLI streams a source front to back; an app reads it by index (:meth:`Source.read`), and
asks what it is (``kind``, ``count``, ``seekable``, ``fps``) to offer the right controls. What
opens is what the CLI opens: a plugin's opener first (``rtsp://`` ...), then the built-in ones.
A source that cannot seek (a camera, most plugins' streams) is read in order.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import InputError, PluginError, VisionkitError, describe_failure
from .base import FrameError, Source
from .camera import CameraSource
from .specs import camera_index, open_builtin, open_sources


def open_with_plugins(spec: Any, **options: Any) -> Source:
    """The Source for one spec: the opener of the plugin whose prefix the spec starts with,
    else the built-in ones; InputError when it cannot be opened."""
    if isinstance(spec, str):
        from ..plugin_manager import get_plugins  # plugins load on first use, not on import
        from ..registry import load_object

        entry = get_plugins().sources.match(spec)
        if entry is not None:
            opener = load_object(entry.opener)
            try:
                source = opener(spec, **options)
            except (VisionkitError, KeyboardInterrupt):
                raise
            except BaseException as exc:  # the plugin's bug: this input fails, the rest still run
                raise InputError(f"{spec}: source plugin {entry.plugin!r} raised {describe_failure(exc)}") from exc
            if not isinstance(source, Source):
                raise PluginError(f"plugin {entry.plugin!r}: source opener {entry.opener} returned "
                                  f"{type(source).__name__}, not a visionkit.sources.Source")
            return source
    return open_builtin(spec, **options)


def open_seekable(spec: Any, *, recursive: bool = False,
                  camera_factory: Callable[[int], Any] | None = None) -> Source:
    """A Source for an app: a path, a folder, a glob, a video, a camera, an RGB array, a
    plugin's spec, a Source, or a list of any of these (a list of stills is seekable as one).

    :param camera_factory: makes a camera's capture from its index (tests pass a fake).
    :raises InputError: the one-line reason, when nothing opens (one bad entry in a list
        becomes a FrameError at its place instead).
    """
    if isinstance(spec, (list, tuple)) and not all(isinstance(a, np.ndarray) for a in spec):
        if len(spec) == 1:
            return open_seekable(spec[0], recursive=recursive, camera_factory=camera_factory)
        opener = _opener(camera_factory)
        chain = open_sources(list(spec), recursive=recursive, opener=opener)
        if all(isinstance(p, FrameError) for p in chain.parts):
            raise InputError(str(chain.parts[0]))
        return chain
    return _opener(camera_factory)(spec, recursive=recursive)


def _opener(camera_factory: Callable[[int], Any] | None) -> Callable[..., Source]:
    if camera_factory is None:
        return open_with_plugins

    def open_one(spec: Any, **options: Any) -> Source:
        index = None if isinstance(spec, Source) else camera_index(spec)
        if index is not None:
            return CameraSource(index, capture_factory=camera_factory)
        return open_with_plugins(spec, **options)

    return open_one
