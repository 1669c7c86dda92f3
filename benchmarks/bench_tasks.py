"""What sharing the backbone saves: all four built-in tasks together vs each alone.

    python benchmarks/bench_tasks.py [--rounds 15] [--threads N] [--video PATH] [--video-tasks T,T]

Both parts run every pipeline twice, side by side: with visionkit's thread-pool policy
(``Pipeline(spinning=None)``: idle onnxruntime workers sleep) and with spinning forced on
(``spinning=True``, onnxruntime's own default).

1. On the same decoded pictures (ShapeWorld scenes and frames of the video), in one process,
   rounds interleaved so a noisy neighbour slows every variant alike: one pipeline running
   classify + detect + segment + pose, and four pipelines running one task each. Target:
   together <= 0.6 x the sum of the four alone. (Pose alone also runs the detector it needs:
   that is what "pose alone" costs a user.)
2. Frames per second of the four together (or ``--video-tasks``) over a whole video through
   ``Pipeline.stream``, decoding included, the variants taking turns every 20 frames; then the
   policy's per-stage milliseconds (backbone, each head and its post-processing)
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
#: the thread-pool settings compared: Pipeline(spinning=...)
VARIANTS = {"policy": None, "spinning on": True}
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


def bench_sharing(images: list[np.ndarray], rounds: int, threads: int | None) -> dict[str, dict[str, float]]:
    import visionkit as vk

    pipes: dict[tuple[str, str], vk.Pipeline] = {}
    for variant, spinning in VARIANTS.items():
        for name, tasks in (("together", list(TASKS)), *((t, [t]) for t in TASKS)):
            pipes[variant, name] = vk.Pipeline(tasks, device="cpu", threads=threads, spinning=spinning)
    frames = [vk.sources.Frame(image=img, source="bench", index=i) for i, img in enumerate(images)]

    def run(pipe) -> None:
        for f in frames:
            pipe.predict_frame(f)

    for pipe in pipes.values():  # warm-up: first runs allocate arenas
        run(pipe)
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in pipes}
    for _ in range(rounds):
        for key, pipe in pipes.items():
            t = time.perf_counter()
            run(pipe)
            samples[key].append((time.perf_counter() - t) / len(frames) * 1e3)
    out: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        ms = {name: statistics.median(samples[variant, name]) for name in ("together", *TASKS)}
        ms["alone"] = sum(ms[t] for t in TASKS)
        ms["ratio"] = ms["together"] / ms["alone"]
        out[variant] = ms
    names = list(VARIANTS)
    print(f"== sharing: {len(frames)} pictures x {rounds} rounds, ms per picture (medians); "
          f"spinning with the policy: {_spinning_of(pipes[names[0], 'together'])}")
    rows = [(f"{t} alone", t) for t in TASKS] + [("sum of the four alone", "alone"),
                                                  ("all four together", "together")]
    print(f"  {'':<22}" + "".join(f"{n:>13}" for n in names))
    for label, key in rows:
        print(f"  {label:<22}" + "".join(f"{out[n][key]:13.2f}" for n in names))
    for n in names:
        ratio = out[n]["ratio"]
        print(f"  {n:<12} together / sum alone = {ratio:.2f}  "
              f"(target <= 0.60: {'met' if ratio <= 0.6 else 'NOT met'})")
    return out


def _spinning_of(pipe) -> str:
    """What the pipeline's sessions really got: on, off, or mixed."""
    got = {m.spinning for m in pipe.models().values()}
    got |= {p.spinning for t in pipe.tasks.values() for p in getattr(t, "parts", {}).values()}
    return "mixed" if len(got) > 1 else ("on" if got == {True} else "off")


def bench_video(video: Path, threads: int | None, tasks: list[str], chunk: int = 20) -> dict[str, float]:
    import visionkit as vk

    if not video.is_file():
        print(f"== video: {video} not found, skipped")
        return {}
    pipes = {v: vk.Pipeline(tasks, device="cpu", threads=threads, spinning=s) for v, s in VARIANTS.items()}
    streams = {v: p.stream(str(video)) for v, p in pipes.items()}
    seconds = dict.fromkeys(pipes, 0.0)
    frames = dict.fromkeys(pipes, 0)
    stages: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    policy = next(iter(VARIANTS))
    while streams:
        for v in list(streams):  # the variants take turns, `chunk` frames each
            t = time.perf_counter()
            got = []
            for result in streams[v]:
                got.append(result)
                if len(got) == chunk:
                    break
            seconds[v] += time.perf_counter() - t
            frames[v] += len(got)
            if len(got) < chunk:
                del streams[v]
            if v != policy:
                continue
            for result in got:
                for k, x in result.timings_ms.items():
                    stages.setdefault(k, []).append(x)
                for name in ("detect", "pose"):
                    if name in result.results:
                        counts[name] = counts.get(name, 0) + len(result.results[name])
    fps = {v: frames[v] / seconds[v] for v in pipes}
    n = frames[policy]
    print(f"== video: {video.name}, {n} frames, tasks {','.join(tasks)}, provider {pipes[policy].provider}, "
          f"variants taking turns every {chunk} frames")
    for v, pipe in pipes.items():
        print(f"  {v:<12} {fps[v]:6.1f} frames/s end to end (decode included); spinning {_spinning_of(pipe)}")
    names = list(pipes)
    print(f"  {names[0]} / {names[1]} = {fps[names[0]] / fps[names[1]]:.2f}x the frames per second")
    print(f"  per stage, {policy}:")
    for k in ["decode", "preprocess", "backbone", *[s for t in TASKS for s in (t, f"{t}.post")], "total"]:
        if k in stages:
            mean, p95 = statistics.mean(stages[k]), np.percentile(stages[k], 95)
            print(f"  {k:<14} mean {mean:6.2f} ms   p95 {p95:6.2f} ms")
    heads = sum(statistics.mean(stages[k]) for k in stages if k.split(".")[0] in TASKS)
    print(f"  heads together {heads:6.2f} ms vs backbone {statistics.mean(stages['backbone']):.2f} ms")
    per_frame = {name: counts.get(name, 0) / max(n, 1) for name in ("detect", "pose")}
    print(f"  {per_frame['detect']:.1f} detections and {per_frame['pose']:.1f} figures per frame")
    return fps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--video-tasks", default=",".join(TASKS),
                    help="the tasks run on the video (default: all four)")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, threads {args.threads or 'default'}")
    bench_sharing(pictures(args.video), args.rounds, args.threads)
    bench_video(args.video, args.threads, [t for t in args.video_tasks.split(",") if t])
    return 0


if __name__ == "__main__":
    sys.exit(main())
