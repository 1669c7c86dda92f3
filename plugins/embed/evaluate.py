"""How well embeddings tell objects apart, on ShapeWorld sequences no training saw (numpy only).

* **Retrieval across frames** (the Market-1501 protocol of Zheng et al. 2015, within one
  sequence): the true box of every considered object in frames ``gap`` apart is embedded;
  each box queries the boxes of the sequence's *other* sampled frames. Rank-1 is the share of
  queries whose most similar box is the same object, mAP the mean over queries of the average
  precision of the ranking. Negatives are the sequence's other objects, look-alikes included
  (every sequence stages two objects of one class and colour side by side).

Measuring a tracker with these vectors joins this plugin with the track plugin, so it lives
with the recipes (:mod:`visionkit.nn.recipes.embed_measure`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionkit.preprocess import preprocess
from visionkit.results import Detections
from visionkit.runtime import load_model
from visionkit.tasks import TaskInputs

from .runtime import EmbedTask

#: detector-like noise on true boxes: centre shift and log-size (in box sides), standard deviations
SHIFT, SCALE = 0.04, 0.06


class HeadEmbedder:
    """``embed(image, boxes) -> (N, D)`` through the run-time task: backbone, then the head on
    the boxes, as a pipeline runs them (without a detector: the boxes are given)."""

    def __init__(self, backbone: str | Path, head: str | Path, threads: int | None = None):
        self.backbone = load_model(backbone, device="cpu", threads=threads)
        self.task = EmbedTask(load_model(head, device="cpu", threads=threads), score=0.0, max_instances=10_000)

    def features(self, image: np.ndarray):
        tensor, transform = preprocess(image, self.backbone.card.input)
        maps = self.backbone.run({self.backbone.inputs[0].name: tensor})
        return dict(zip(self.backbone.outputs, maps)), transform

    def embed(self, image: np.ndarray, boxes: np.ndarray, prepared=None) -> np.ndarray:
        """(N, D) vectors of ``boxes`` (image pixels); ``prepared`` is :meth:`features` of the
        image, when the caller embeds several sets of boxes of one frame."""
        features, transform = prepared or self.features(image)
        n = len(boxes)
        dets = Detections(np.asarray(boxes, np.float32).reshape(-1, 4), np.ones(n, np.float32),
                          np.zeros(n, np.int64), ("object",) * n)
        inputs = TaskInputs(image, features, None, transform, self.backbone.card.input.size, {"detect": dets})
        return self.task.decode(self.task.forward(inputs), inputs).vectors


def ranking(vectors: np.ndarray, ids: np.ndarray, frames: np.ndarray) -> tuple[int, int, float]:
    """(queries, rank-1 hits, summed average precision) of every box against the boxes of other frames."""
    sim = vectors @ vectors.T
    queries = hits = 0
    ap = 0.0
    for q in range(len(ids)):
        other = frames != frames[q]
        same = ids[other] == ids[q]
        if not same.any():
            continue  # seen in one sampled frame only: nothing to retrieve
        order = np.argsort(-sim[q, other], kind="stable")
        match = same[order]
        queries += 1
        hits += bool(match[0])
        ranks = np.flatnonzero(match) + 1
        ap += float(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    return queries, hits, ap


def noisy(rng: np.random.Generator, boxes: np.ndarray, visibility: np.ndarray):
    """Detector-like boxes from true ones: kept ones, their boxes and scores."""
    kept = rng.random(len(boxes)) >= 0.05 + 0.3 * (1 - visibility)  # occluded objects are missed more
    size = boxes[:, 2:] - boxes[:, :2]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + rng.normal(0, SHIFT, size.shape) * size
    size = size * np.exp(rng.normal(0, SCALE, size.shape))
    out = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = np.clip(0.3 + 0.65 * visibility + rng.normal(0, 0.08, len(boxes)), 0.05, 1.0)
    return kept, out.astype(np.float32), scores.astype(np.float32)
