"""The status bar: per-stage latency, frames per second, the provider really used, model names.

The latency and model fields share the bar's width and shorten their text to fit (the tooltip
has it whole), so a long list of stages or model files never pushes a field out of the window.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStatusBar

from visionkit.runtime import short_provider

from .elide import ElidedLabel
from .worker import PipelineInfo, Shown


def timings_text(timings: dict[str, float]) -> str:
    """``decode 1.2 · preprocess 0.3 · backbone 2.0 · classify 0.1 → 3.6 ms``"""
    stages = " · ".join(f"{k} {v:.1f}" for k, v in timings.items() if k != "total")
    total = timings.get("total")
    return f"{stages} → {total:.1f} ms" if total is not None else stages


class StatusInfo:
    def __init__(self, bar: QStatusBar) -> None:
        # shortened in the middle: the first stages and the total stay in sight
        self.timings = ElidedLabel("–", tip="milliseconds per stage for the frame on show",
                                   mode=Qt.TextElideMode.ElideMiddle)
        self.fps = QLabel("")
        self.provider = QLabel("")
        self.provider.setToolTip("the onnxruntime execution provider the models really run on")
        self.models = ElidedLabel("", tip="the model file of each role")
        bar.addWidget(self.timings, 3)
        bar.addPermanentWidget(self.fps)
        bar.addPermanentWidget(self.provider)
        bar.addPermanentWidget(self.models, 2)
        self._arrivals: deque[float] = deque(maxlen=30)

    def show_result(self, shown: Shown) -> None:
        self.timings.setText(timings_text(dict(shown.result.timings_ms)))
        if shown.kind == "stills":
            self.fps.setText("")
            return
        self._arrivals.append(time.perf_counter())
        if len(self._arrivals) >= 2:
            span = self._arrivals[-1] - self._arrivals[0]
            self.fps.setText(f"{(len(self._arrivals) - 1) / span:.1f} FPS" if span > 0 else "")

    def reset(self) -> None:
        self._arrivals.clear()
        self.fps.setText("")

    def show_pipeline(self, info: PipelineInfo) -> None:
        # "none": the tasks on run no model of their own (a tracker over another's results)
        provider = {"": "no task on", "none": "no model"}.get(info.provider) or short_provider(info.provider)
        self.provider.setText(provider)
        self.models.setText(", ".join(f"{role}={name}" for role, name in info.models.items()))
