"""A dependency-free progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``with Progress(total, "predict") as bar: bar.update(1, note="loss 0.3")``."""

    def __init__(self, total: int | None, desc: str = "", *, stream: TextIO | None = None,
                 enabled: bool | None = None, min_interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.desc, self.count, self.note = total, desc, 0, ""
        self._start = time.perf_counter()
        self._last = 0.0
        self._interval = min_interval

    def update(self, n: int = 1, note: str | None = None) -> None:
        self.count += n
        if note is not None:
            self.note = note
        now = time.perf_counter()
        if self.enabled and (now - self._last >= self._interval or self.count == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, self.count / self.total)
            bar = "#" * int(frac * 24)
            eta = (self.total - self.count) / rate if rate > 0 else 0.0
            line = f"{self.desc} [{bar:<24}] {self.count}/{self.total} {rate:.1f}/s eta {eta:.0f}s"
        else:
            line = f"{self.desc} {self.count} {rate:.1f}/s"
        if self.note:
            line += f"  {self.note}"
        self.stream.write("\r" + line[:160].ljust(80))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.count:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
