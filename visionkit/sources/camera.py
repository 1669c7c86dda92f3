"""A webcam, read by a background thread that keeps only the newest frame.

A camera does not wait for its consumer. If frames were queued, a consumer slower than the
camera would fall further behind with every frame; keeping one slot means the consumer always
gets the most recent picture, and ``Frame.index`` (the camera's frame counter) shows the gaps.
This module is the one place that pattern lives: the CLI iterates a CameraSource, and an app's
``read()`` (not seekable: the newest frame each call) goes through the same grabber.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import cv2

from ..errors import InputError
from ..imageio import opencv_quiet, to_rgb8
from .base import Frame, FrameError, Source

_CLOSED = "closed"


def open_network(url: str) -> Any:
    """A capture of a network stream through OpenCV's FFmpeg backend."""
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG)


class CameraSource(Source):
    """Camera number ``index``, or a network stream (``rtsp://``, ``http(s)://`` video) given
    as its URL: both are live, the newest frame wins. Grabbing starts on first iteration and
    stops on :meth:`close`.

    :param capture_factory: makes the capture object from the index or URL (tests pass a fake
        with ``isOpened()``, ``read()``, ``release()`` and ``set()``).
    :param stall_timeout_s: end the stream (with a FrameError) when no frame has arrived for
        this long, e.g. a camera unplugged while in use.
    """

    live = True

    def __init__(self, index: int | str, *, capture_factory: Callable[[Any], Any] | None = None,
                 stall_timeout_s: float = 5.0) -> None:
        url = index if isinstance(index, str) else None
        self.index = -1 if url is not None else int(index)
        self.name = url if url is not None else f"webcam:{self.index}"
        self.stall_timeout_s = stall_timeout_s
        if capture_factory is None:
            capture_factory = open_network if url is not None else cv2.VideoCapture
        with opencv_quiet():  # a missing camera makes every backend log its own complaint
            try:
                capture = capture_factory(url if url is not None else self.index)
            except cv2.error:
                capture = None
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            if url is not None:
                raise InputError(f"{url}: cannot open the stream ({_network_hint()})")
            raise InputError(f"{self.name}: no camera at index {self.index}")
        try:  # drivers queue a few frames by default: latency we do not want
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        except cv2.error:
            pass
        self.fps = _setting(capture, cv2.CAP_PROP_FPS)
        self._capture = capture
        self._ready = threading.Condition()
        self._latest: tuple[int, Any, float] | None = None  # (counter, BGR frame, ms)
        self._ended: str | None = None  # why the grabber stopped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._t0 = time.monotonic()

    def _grab(self) -> None:
        """Runs in the grabber thread; it alone touches the capture once started."""
        counter, last_ok, reason = 0, time.monotonic(), _CLOSED
        try:
            while not self._stop.is_set():
                with opencv_quiet():
                    ok, bgr = self._capture.read()
                now = time.monotonic()
                if ok and bgr is not None:
                    with self._ready:
                        self._latest = (counter, bgr, (now - self._t0) * 1000.0)
                        self._ready.notify_all()
                    counter, last_ok = counter + 1, now
                elif now - last_ok > self.stall_timeout_s:
                    reason = f"camera sent no frame for {self.stall_timeout_s:g} s"
                    break
                else:
                    time.sleep(0.005)  # a failing device returns at once: do not spin
        except Exception as exc:  # a driver error ends the stream; the consumer is told why
            reason = f"camera failed: {' '.join(str(exc).split())}"
        finally:
            self._capture.release()
            with self._ready:
                self._ended = reason
                self._ready.notify_all()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._grab, name=f"visionkit {self.name}", daemon=True)
                self._thread.start()

    def __iter__(self) -> Iterator[Frame | FrameError]:
        self._start()  # now, not at the first next(): the camera warms up meanwhile
        return self._frames()

    def _frames(self) -> Iterator[Frame | FrameError]:
        seen = -1
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._stop.is_set() or self._ended is not None
                                     or (self._latest is not None and self._latest[0] > seen))
                if self._stop.is_set():
                    return
                latest = self._latest
                fresh = latest is not None and latest[0] > seen
                ended = self._ended
            if fresh:
                seen, bgr, stamp = latest
                # converted here, not in the grabber: frames that get skipped cost nothing
                yield Frame(to_rgb8(bgr, source=self.name), self.name, seen, stamp, self.fps)
            else:
                if ended != _CLOSED:
                    yield FrameError(self.name, None, ended)
                return

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the grabber and wait for it; the capture is released by the grabber itself
        (a capture must not be released while another thread is inside its read())."""
        with self._start_lock:
            self._stop.set()
            thread = self._thread
            if thread is None and self._ended is None:
                self._ended = _CLOSED
                self._capture.release()
        with self._ready:
            self._ready.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)


def _network_hint() -> str:
    """Why a stream URL may not open here: no FFmpeg backend, or FFmpeg without network."""
    if not cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
        return "this OpenCV has no FFmpeg backend, which network streams need"
    return "unreachable, refused, or not a video stream"


def _setting(capture: Any, prop: int) -> float | None:
    """A capture property that is set (positive), else None; fakes without ``get()`` give None."""
    get = getattr(capture, "get", None)
    try:
        value = float(get(prop)) if callable(get) else 0.0
    except (cv2.error, TypeError, ValueError):
        return None
    return value if value > 0 else None
