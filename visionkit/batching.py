"""Frames in a batch: the shared backbone runs once on several frames, each frame then goes
through the tasks alone with its own slice of the features (:meth:`Pipeline.predict_batch`,
``Pipeline.stream(..., batch=N)``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .cards import InputSpec
from .errors import VisionkitError
from .preprocess import preprocess
from .runtime import OnnxModel
from .sources import Frame


@dataclass(frozen=True)
class Ahead:
    """One frame's part of a batch: its preprocessed tensors, its slice of the backbone's
    features, and its share of the batch's preprocessing and backbone time."""

    prepared: dict
    features: dict
    preprocess_ms: float
    backbone_ms: float


def batch_ahead(backbone: OnnxModel | None, specs: Sequence[InputSpec], frames: Sequence[Frame],
                min_side: int) -> list[Ahead | None]:
    """Each frame's tensors for ``specs`` and its backbone features from one batched run.
    None for a frame that runs on its own instead (smaller than ``min_side``, or its
    preprocessing fails: its own run then reports why), and for all of them when nothing
    would be gained (fewer than two frames, a fixed batch axis) or the batched run fails (a
    graph whose batch axis is named but fixed inside)."""
    none: list[Ahead | None] = [None] * len(frames)
    if len(frames) < 2 or backbone is None or isinstance(backbone.inputs[0].shape[0], int):
        return none
    clock = time.perf_counter
    t = clock()
    ok, prepared = [], []
    for f in frames:
        if min(f.image.shape[:2]) < min_side:
            continue
        try:
            prepared.append({s: preprocess(f.image, s) for s in specs})
            ok.append(f)
        except VisionkitError:
            continue
    if len(ok) < 2:
        return none
    preprocess_ms = (clock() - t) * 1e3 / len(ok)
    spec = backbone.card.input
    t = clock()
    try:
        outs = backbone.run({backbone.inputs[0].name: np.concatenate([p[spec][0] for p in prepared])})
    except VisionkitError:
        return none
    backbone_ms = (clock() - t) * 1e3 / len(ok)
    share = {id(f): Ahead(p, {k: v[i:i + 1] for k, v in zip(backbone.outputs, outs)}, preprocess_ms, backbone_ms)
             for i, (f, p) in enumerate(zip(ok, prepared))}
    return [share.get(id(f)) for f in frames]
