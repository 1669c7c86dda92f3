"""A dependency-free progress bar on stderr, drawn only when stderr is a terminal.

Used by long CLI work (predict over many inputs, training epochs, data generation). On a
non-terminal no bar is drawn, so logs and CI output stay clean; work that runs longer than a
minute writes one plain line a minute there instead (a training epoch redirected to a file
takes half an hour, and silence reads as a hang); ``close(line)`` still prints its closing line.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Progress:
    """``with Progress(total, "predict") as bar: bar.update(1, loss=0.3)``.

    ``total`` may be None (unknown length: a count and a rate are shown). ``enabled=False``
    silences everything, the closing line included.
    """

    def __init__(self, total: int | None, desc: str = "", *, enabled: bool = True,
                 stream: TextIO | None = None, min_interval: float = 0.2,
                 log_interval: float = 60.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.desc, self.count = total, desc, 0
        self._start = time.monotonic()
        self._last = 0.0
        self._interval = min_interval
        self._log_interval = log_interval
        self._last_log = self._start

    def update(self, n: int = 1, **info: Any) -> None:
        """Advance by ``n``; ``info`` (e.g. ``loss=0.31``) is shown after the bar."""
        self.count += n
        now = time.monotonic()
        extra = lambda: " ".join(f"{k} {_fmt(v)}" for k, v in info.items())  # noqa: E731
        if self.tty and (now - self._last >= self._interval or self.count == self.total):
            self._last = now
            self._draw(now, extra())
        elif self.enabled and not self.tty and now - self._last_log >= self._log_interval:
            self._last_log = now
            self.stream.write(self._line(now, extra()) + "\n")
            self.stream.flush()

    def _line(self, now: float, extra: str, bar: bool = False) -> str:
        elapsed = now - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            done = int(24 * min(1.0, self.count / self.total))
            eta = (self.total - self.count) / rate if rate > 0 else 0.0
            drawn = f" [{'#' * done}{'.' * (24 - done)}]" if bar else ""
            line = f"{self.desc}{drawn} {self.count}/{self.total} {elapsed:.0f}s eta {eta:.0f}s"
        else:
            line = f"{self.desc} {self.count} done, {rate:.1f}/s"
        return f"{line} {extra}".rstrip()

    def _draw(self, now: float, extra: str) -> None:
        self.stream.write(f"\r{self._line(now, extra, bar=True)}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar so that a message can be printed on a clean line."""
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def close(self, line: str = "") -> None:
        if not self.enabled:
            return
        self.clear()
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
