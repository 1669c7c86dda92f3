"""How much re-identification helps a tracker: the embed head's vectors measured on held-out
ShapeWorld sequences, by retrieval (rank-1, mAP of an object's crops across frames) and by the
IDF1 of the track plugin's tracker with and without them, on true boxes made detector-like.

It lives with the recipes because it joins two plugins (embed and track), which never import
each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from visionkit.data.sequences import sequence
from visionkit.plugins.embed.evaluate import HeadEmbedder, noisy, ranking


def _track_plugin():
    """The tracker and its metrics (a built-in plugin; None where it is not installed)."""
    try:
        from visionkit.plugins.track import metrics, tracker
    except ImportError:
        return None
    return tracker, metrics


#: the trackers measured: name -> (given the vectors?); both with the tracker's defaults
VARIANTS = {"no_reid": False, "reid": True}


def measure(embedder: HeadEmbedder, seed: int, n_sequences: int, frames: int = 150, *, gap: int = 10, size: int = 256,
            fps: float = 25.0, tracker_config: Mapping[str, Any] | None = None,
            log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Rank-1, mAP and IDF1 of the :data:`VARIANTS` over sequences ``0..n-1`` of ``seed``;
    ``tracker_config`` overrides fields of the tracker's ``TrackerConfig`` for all of them."""
    track = _track_plugin()
    queries = hits = 0
    ap = 0.0
    results: dict[str, list] = {name: [] for name in VARIANTS}
    for index in range(n_sequences):
        rng = np.random.default_rng([seed, index, 7])
        trackers = {name: track[0].ByteTracker(track[0].TrackerConfig(**dict(tracker_config or {})))
                    for name in VARIANTS} if track else {}
        gt, pred = {}, {name: {} for name in VARIANTS}
        vecs, ids, where = [], [], []
        for t, (image, found) in enumerate(sequence(seed, index, frames, size, fps)):
            seen = [b for b in found if b.consider]
            boxes = np.array([b.box for b in seen], np.float32).reshape(-1, 4)
            tid = np.array([b.track_id for b in seen], np.int64)
            prepared = embedder.features(image)  # one backbone pass for both uses of the frame
            if t % gap == 0 and len(seen):
                vecs.append(embedder.embed(image, boxes, prepared))
                ids.append(tid)
                where.append(np.full(len(seen), t))
            if not trackers:
                continue
            gt[t + 1] = (tid, np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1))
            vis = np.array([b.visibility for b in seen], np.float32)
            kept, det, scores = noisy(rng, boxes, vis)
            det, scores = det[kept], scores[kept]
            classes = np.array([b.class_id for b in seen], np.int64)[kept]
            emb = embedder.embed(image, det, prepared) if len(det) else None
            for name, tracker in trackers.items():
                out = tracker.update(det, scores, classes, emb if VARIANTS[name] else None,
                                     timestamp_s=t / fps, fps=fps)
                b = np.asarray(out.boxes, np.float64).reshape(-1, 4)
                pred[name][t + 1] = (np.asarray(out.ids), np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1))
        if vecs:
            q, h, a = ranking(np.concatenate(vecs), np.concatenate(ids), np.concatenate(where))
            queries, hits, ap = queries + q, hits + h, ap + a
        for name in trackers:
            results[name].append(track[1].evaluate_sequence(gt, pred[name], f"{seed}-{index}"))
    out = {"rank1": hits / max(queries, 1), "mAP": ap / max(queries, 1), "queries": queries,
           "test_seed": seed, "test_sequences": n_sequences, "test_frames": frames, "test_gap": gap}
    for name in (VARIANTS if track else ()):
        combined = track[1].combine(results[name])
        suffix = "" if name == "reid" else f"_{name}"
        out.update({f"idf1{suffix}": float(combined.idf1), f"id_switches{suffix}": int(combined.num_switches)})
    if log is not None:
        log("embed: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in out.items()))
    return out
