"""What sharing the backbone saves: all four built-in tasks together vs each alone.

    python benchmarks/bench_tasks.py [--rounds 15] [--threads N] [--video PATH]

1. On the same decoded pictures (ShapeWorld scenes and frames of the video), in one process,
   rounds interleaved so a noisy neighbour slows every variant alike: one pipeline running
   classify + detect + segment + pose, and four pipelines running one task each. Target:
   together <= 0.6 x the sum of the four alone. (Pose alone also runs the detector it needs:
   that is what "pose alone" costs a user.)
2. Per-stage milliseconds (backbone, each head and its post-processing) and frames per second
   of the four together over a whole video, decoding included
   (default ../shared/realworld/video/opencv_vtest_480x360.mp4).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("classify", "detect", "segment", "pose")
DEFAULT_VIDEO = ROOT.parent / "shared" / "realworld" / "video" / "opencv_vtest_480x360.mp4"


def pictures(video: Path, n_scenes: int = 6, n_frames: int = 6) -> list[np.ndarray]:
    from visionkit.data.scenes import scene_for
    from visionkit.data.shapeworld import render
    from visionkit.sources import open_builtin

    images = [render(scene_for(task, 424242, i)) for i in range(n_scenes) for task in ("detect", "pose")][
        :n_scenes
    ]
    if video.is_file():
        with open_builtin(str(video)) as src:
            for k, frame in enumerate(src):
                if k % 40 == 0:
                    images.append(frame.image)
                if len(images) >= n_scenes + n_frames:
                    break
    return images


def bench_sharing(images: list[np.ndarray], rounds: int, threads: int | None) -> dict[str, float]:
    import visionkit as vk

    pipes = {"together": vk.Pipeline(list(TASKS), device="cpu", threads=threads)}
    pipes.update({t: vk.Pipeline([t], device="cpu", threads=threads) for t in TASKS})
    frames = [vk.sources.Frame(image=img, source="bench", index=i) for i, img in enumerate(images)]

    def run(pipe) -> None:
        for f in frames:
            pipe.predict_frame(f)

    for pipe in pipes.values():  # warm-up: first runs allocate arenas
        run(pipe)
    samples: dict[str, list[float]] = {k: [] for k in pipes}
    for _ in range(rounds):
        for name, pipe in pipes.items():
            t = time.perf_counter()
            run(pipe)
            samples[name].append((time.perf_counter() - t) / len(frames) * 1e3)
    ms = {k: statistics.median(v) for k, v in samples.items()}
    alone = sum(ms[t] for t in TASKS)
    print(f"== sharing: {len(frames)} pictures x {rounds} rounds, ms per picture (medians)")
    for t in TASKS:
        print(f"  {t:<9} alone {ms[t]:7.2f}")
    print(f"  sum of the four alone  {alone:7.2f}")
    print(f"  all four together      {ms['together']:7.2f}")
    ratio = ms["together"] / alone
    print(f"  together / sum alone = {ratio:.2f}  (target <= 0.60: {'met' if ratio <= 0.6 else 'NOT met'})")
    return {**ms, "ratio": ratio}


def bench_video(video: Path, threads: int | None) -> None:
    import visionkit as vk

    if not video.is_file():
        print(f"== video: {video} not found, skipped")
        return
    pipe = vk.Pipeline(list(TASKS), device="cpu", threads=threads)
    stages: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    n = 0
    for result in pipe.stream(str(video)):
        n += 1
        for k, v in result.timings_ms.items():
            stages.setdefault(k, []).append(v)
        for t in ("detect", "pose"):
            if t in result.results:
                counts[t] = counts.get(t, 0) + len(result.results[t])
    seconds = time.perf_counter() - t0
    print(f"== video: {video.name}, {n} frames, all four tasks, provider {pipe.provider}")
    for k in ["decode", "preprocess", "backbone", *[s for t in TASKS for s in (t, f"{t}.post")], "total"]:
        if k in stages:
            mean, p95 = statistics.mean(stages[k]), np.percentile(stages[k], 95)
            print(f"  {k:<14} mean {mean:6.2f} ms   p95 {p95:6.2f} ms")
    heads = sum(statistics.mean(stages[k]) for k in stages if k.split(".")[0] in TASKS)
    print(f"  heads together {heads:6.2f} ms vs backbone {statistics.mean(stages['backbone']):.2f} ms")
    print(
        f"  {n / seconds:.1f} frames/s end to end (decode included); "
        f"{counts.get('detect', 0) / max(n, 1):.1f} detections and {counts.get('pose', 0) / max(n, 1):.1f} "
        "figures per frame"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    args = ap.parse_args(argv)
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, threads {args.threads or 'default'}")
    bench_sharing(pictures(args.video), args.rounds, args.threads)
    bench_video(args.video, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
