"""Refuse PySide6 builds known to crash the app, with the one line that says what to install.

PySide6-Essentials 6.12.0 on CPython < 3.12 drops one reference to ``None`` per call of a
method returning ``void`` and one to ``True`` per ``Signal.emit()``; after a few hundred calls
the count reaches zero and the interpreter aborts ("Fatal Python error: bool_dealloc").
Python 3.12+ never frees these singletons, so the bug is invisible there, and 6.11 does not
have it. The ``gui`` extra pins ``<6.12`` on Python < 3.12; this check catches an environment
that installed 6.12 anyway, before it crashes mid-session.
"""

from __future__ import annotations

import sys

from visionkit.errors import DependencyError

_PROBES = 64
_checked = False


def _leaks() -> bool:
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        ping = Signal()

    probe = Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.setObjectName("")  # returns void
        probe.ping.emit()  # returns True
    return (sys.getrefcount(None) < none_before - _PROBES // 2
            or sys.getrefcount(True) < true_before - _PROBES // 2)


def check_pyside() -> None:
    """Raise DependencyError where this PySide6 leaks references (checked once per process)."""
    global _checked
    if _checked:
        return
    _checked = True
    if sys.implementation.name == "cpython" and sys.version_info < (3, 12) and _leaks():
        import PySide6

        raise DependencyError(
            f"PySide6 {PySide6.__version__} crashes on Python {sys.version_info.major}."
            f"{sys.version_info.minor} (reference-count bug); pip install 'PySide6-Essentials<6.12'"
        )
