"""Background QThreads of the app: started in one place, so none is ever left running.

Tests call :func:`running_threads` after each test and fail when one is still alive.
"""

from __future__ import annotations

import weakref
from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread

from visionkit.errors import VisionkitError

_threads: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def start_in_thread(obj: QObject, name: str, run: Callable[[], None] | None = None) -> QThread:
    """Move ``obj`` into a new, started QThread (tracked, so tests can find leftovers); ``run``
    (a slot of ``obj``) is called in that thread once it starts."""
    thread = QThread()
    thread.setObjectName(name)
    obj.moveToThread(thread)
    _threads.add(thread)
    if run is not None:
        thread.started.connect(run)
    thread.start()
    return thread


def running_threads() -> list[str]:
    """Names of this app's QThreads still running."""
    out = []
    for thread in list(_threads):
        try:
            if thread.isRunning():
                out.append(thread.objectName())
        except RuntimeError:  # the C++ side is already gone
            pass
    return out


def leave_thread(obj: QObject) -> None:
    """From inside a worker thread: hand ``obj`` back to the main thread and end the thread."""
    app = QCoreApplication.instance()
    if app is not None:
        obj.moveToThread(app.thread())
    QThread.currentThread().quit()


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, VisionkitError) else f"internal error: {type(exc).__name__}: {text}"
