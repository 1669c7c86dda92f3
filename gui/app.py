"""Starting the desktop app: ``visionkit gui [SOURCE] [--tasks a,b] [--screenshot OUT.png]``.

:func:`main` shows the window at once and lets the worker build the pipeline meanwhile. With
``screenshot`` it waits for the first result (or the first error), saves a picture of the whole
window and returns 0 on a result, 1 on an error, without touching the saved settings.

``VISIONKIT_GUI_STARTUP=print`` prints ``visionkit-gui shown <unix time>`` to stderr when the
window is first exposed; ``=exit`` also quits then (``benchmarks/bench_gui.py`` uses it).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from PySide6.QtCore import QEvent, QEventLoop, QObject, QtMsgType, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from visionkit.errors import InputError

from .compat import check_pyside
from .main_window import MainWindow
from .settings import APPLICATION, ORGANISATION, Settings
from .system_libs import check_platform_libraries

STARTUP_ENV = "VISIONKIT_GUI_STARTUP"


class _FirstExpose(QObject):
    """Notes when the window first appears on screen (an Expose event), once."""

    def __init__(self, window: MainWindow, mode: str) -> None:
        super().__init__(window)
        self.window, self.mode = window, mode
        window.winId()  # create the native window now, so its first Expose is not missed
        window.windowHandle().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Expose and obj.isExposed() and self.window.shown_at is None:
            self.window.shown_at = time.time()
            obj.removeEventFilter(self)
            if self.mode in ("print", "exit"):
                print(f"visionkit-gui shown {self.window.shown_at:.6f}", file=sys.stderr, flush=True)
            if self.mode == "exit":
                QTimer.singleShot(0, self.window.close)
        return False


def _qt_messages(mode: QtMsgType, context: object, message: str) -> None:
    if "propagateSizeHints" not in message:  # the offscreen platform's harmless note
        print(message, file=sys.stderr)


def choose_platform(screenshot: bool) -> None:
    """Without a display (Linux, no DISPLAY/WAYLAND_DISPLAY, no QT_QPA_PLATFORM) a screenshot
    run draws offscreen; a window that nobody could see is refused with a one-line reason
    instead of Qt's abort."""
    if (not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM")
            or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or QApplication.instance() is not None):
        return
    if not screenshot:
        raise InputError("no display to open a window on (DISPLAY is not set); "
                         "use --screenshot OUT.png, or set QT_QPA_PLATFORM=offscreen")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


def application() -> QApplication:
    check_pyside()
    app = QApplication.instance()
    if app is None:  # ours: embedding code and test runners keep their own message handler
        qInstallMessageHandler(_qt_messages)
        app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("visionkit")
    return app  # type: ignore[return-value]


def main(source: Any = None, tasks: Sequence[str] | None = None, models: Mapping[str, str] | None = None,
         device: str | None = None, screenshot: str | Path | None = None, *,
         camera_factory: Callable[[int], Any] | None = None, timeout_s: float = 120.0) -> int:
    """Run the app; returns the exit code. ``source`` is anything ``open_source`` takes."""
    choose_platform(screenshot is not None)
    check_platform_libraries()  # Qt's X11 plugin aborts the process where one is missing
    app = application()
    window = MainWindow(tasks=tasks, models=models, device=device,
                        settings=Settings(persist=screenshot is None), camera_factory=camera_factory)
    _FirstExpose(window, os.environ.get(STARTUP_ENV, ""))
    if screenshot is not None:
        window.resize(1280, 800)
    window.show()
    if source is not None:
        window.open_source(source)
    if screenshot is None:
        code = app.exec()
        window.shutdown()
        return code
    try:
        return take_screenshot(window, Path(screenshot), timeout_s)
    finally:
        window.close()
        window.deleteLater()


def take_screenshot(window: MainWindow, out: Path, timeout_s: float) -> int:
    """Wait for the first result (or error), let the window settle, save it; 0 ok, 1 error."""
    loop = QEventLoop()
    errors: list[str] = []
    state = {"result": False}

    def finish_soon(delay_ms: int) -> None:
        QTimer.singleShot(delay_ms, loop.quit)

    def on_result(shown) -> None:
        if not state["result"]:
            state["result"] = True
            if shown.result.error:
                errors.append(shown.result.error)
            finish_soon(250)  # panels and status bar repaint first

    def on_message(text: str) -> None:
        if text not in errors:
            errors.append(text)
        if not state["result"]:
            finish_soon(3000)  # a result may still come (an image without its task)

    window.result_shown.connect(on_result)
    window.message_shown.connect(on_message)
    errors += [t for t in window.messages.history]  # raised while the window was built
    timeout = QTimer()
    timeout.setSingleShot(True)
    timeout.timeout.connect(loop.quit)
    timeout.start(int(timeout_s * 1000))
    loop.exec()
    if not state["result"] and not errors:
        errors.append(f"no result within {timeout_s:g} s")
        window.show_error(errors[-1])
    QApplication.processEvents()
    if not window.grab().save(str(out)):
        errors.append(f"{out}: cannot write the screenshot")
    for text in errors:
        print(f"visionkit: error: {text}", file=sys.stderr)
    return 1 if errors or not state["result"] else 0
