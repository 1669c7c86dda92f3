"""The system libraries Qt's X11 platform plugin (xcb) loads, checked before Qt starts.

PySide6's wheels carry Qt, not the X11 libraries under it. When one is missing, Qt aborts the
process (exit 134) and names only the first; a plain Debian machine with nothing but Xvfb misses
several. This check names every missing one and the Debian/Ubuntu packages that provide them,
in one command to run. It imports no Qt, so it runs before anything could abort.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable, Mapping

from visionkit.errors import DependencyError

#: what ``ldd`` lists for PySide6's ``plugins/platforms/libqxcb.so`` (and the ``libQt6XcbQpa``
#: it links), outside Qt itself: soname -> the Debian/Ubuntu package that installs it
XCB_LIBRARIES: Mapping[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}

#: ``finder(soname) -> bool``: whether the library loads
Finder = Callable[[str], bool]


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will open its windows through X11 (xcb) here (default: this process's
    environment and OS): on Linux, when ``QT_QPA_PLATFORM`` says xcb, or says nothing while an X
    display (and no Wayland one) is set. Other platforms (offscreen, wayland, eglfs, vnc, ...)
    need none of these libraries."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip().lower()
    if chosen:
        return chosen == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def _qt_lib_dir() -> Path | None:
    """PySide6's own ``Qt/lib`` (libraries the wheel carries), found without importing it."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        lib = Path(folder) / "Qt" / "lib"
        if lib.is_dir():
            return lib
    return None


def loads(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (as Qt's plugin will), or PySide6 carries it."""
    qt_lib = _qt_lib_dir()
    if qt_lib is not None and (qt_lib / soname).exists():
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(finder: Finder | None = None) -> dict[str, str]:
    """The libraries of :data:`XCB_LIBRARIES` that do not load (``finder``, default
    :func:`loads`, says): soname -> package."""
    finder = finder or loads
    return {soname: package for soname, package in XCB_LIBRARIES.items() if not finder(soname)}


def check_platform_libraries(environ: Mapping[str, str] | None = None, platform: str | None = None,
                             finder: Finder | None = None) -> None:
    """Raise DependencyError, naming every missing library and the one command that installs
    them, where Qt's xcb plugin would abort for want of them; else do nothing."""
    if not uses_xcb(environ, platform):
        return
    missing = missing_libraries(finder)
    if missing:
        packages = " ".join(dict.fromkeys(missing.values()))
        raise DependencyError(
            f"the desktop app cannot open a window: Qt's X11 platform plugin needs libraries that are "
            f"not installed ({', '.join(missing)}); on Debian/Ubuntu: sudo apt-get install {packages} "
            f"(or QT_QPA_PLATFORM=offscreen with --screenshot)")
