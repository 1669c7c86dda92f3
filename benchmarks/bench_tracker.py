"""The ByteTrack tracker alone: frames per second at 50 moving objects, with and without embeddings.

    python benchmarks/bench_tracker.py [--objects 50] [--frames 600] [--rounds 7] [--dim 128]

Detections are generated beforehand (so only ``ByteTracker.update`` is timed): objects move at
constant velocity with pixel noise on every box, scores spread over the high and the low band,
5 % of boxes missing in any frame, and 3 clutter boxes per frame. Each round runs a fresh tracker
over the same frames; the median over rounds is printed with its ratio to the 1,000 fps target.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from visionkit.plugins.track.tracker import ByteTracker

TARGET_FPS = 1000.0


def make_frames(n_objects: int, n_frames: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(100, 1800, (n_objects, 2))
    vel = rng.normal(0, 3, (n_objects, 2))
    wh = rng.uniform(20, 80, (n_objects, 2))
    ident = rng.normal(size=(n_objects, dim)).astype(np.float32)
    frames = []
    for _ in range(n_frames):
        pos += vel
        vel[(pos < 0) | (pos > 1920)] *= -1  # bounce inside a 1920-px wide scene
        keep = rng.random(n_objects) > 0.05
        c = pos[keep] + rng.normal(0, 1.5, (keep.sum(), 2))
        s = wh[keep] * rng.normal(1, 0.03, (keep.sum(), 2))
        boxes = np.concatenate([c - s / 2, c + s / 2], 1)
        scores = np.clip(rng.normal(0.75, 0.15, keep.sum()), 0.05, 1.0)
        emb = ident[keep] + 0.3 * rng.normal(size=(keep.sum(), dim)).astype(np.float32)
        clutter = rng.uniform(0, 1800, (3, 2))
        boxes = np.concatenate([boxes, np.concatenate([clutter, clutter + 40], 1)])
        scores = np.concatenate([scores, rng.uniform(0.1, 0.55, 3)])
        emb = np.concatenate([emb, rng.normal(size=(3, dim)).astype(np.float32)])
        frames.append((boxes, scores, emb))
    return frames


def run(frames, with_emb: bool) -> tuple[float, int]:
    tracker = ByteTracker()
    t0 = time.perf_counter()
    for boxes, scores, emb in frames:
        out = tracker.update(boxes, scores, None, emb if with_emb else None, fps=30.0)
    return len(frames) / (time.perf_counter() - t0), len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=50)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dim", type=int, default=128)
    args = ap.parse_args()
    frames = make_frames(args.objects, args.frames, args.dim)
    run(frames[:50], True)  # warm up imports and caches
    for with_emb in (False, True):
        # rounds interleave nothing else, so report the median: robust to a noisy neighbour
        results = [run(frames, with_emb) for _ in range(args.rounds)]
        fps = [r[0] for r in results]
        med = statistics.median(fps)
        label = f"embeddings D={args.dim}" if with_emb else "IoU only"
        print(f"{label:>18}: {args.objects} objects, {args.frames} frames x {args.rounds} rounds: "
              f"median {med:,.0f} fps (min {min(fps):,.0f}, max {max(fps):,.0f}), "
              f"{1000.0 / med:.3f} ms/frame, {med / TARGET_FPS:.2f}x the {TARGET_FPS:,.0f} fps target, "
              f"{results[-1][1]} tracks out in the last frame")


if __name__ == "__main__":
    main()
