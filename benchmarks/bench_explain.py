"""The explain methods on one picture: seconds per explanation, and ratios measured side by side.

    python benchmarks/bench_explain.py [--image PHOTO] [--rounds 5] [--threads 2]

The methods take turns round by round (interleaved, so a busy machine slows them alike); each
time is a whole frame through the pipeline (backbone, classifier, explanation). Printed: the
median of each, its ratio to one plain classification of the frame, and to the targets:
occlusion of the 224-px input with a 32-px square at stride 16 (169 copies) under 2 s, batched
against one copy per onnxruntime call; Grad-CAM under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from visionkit.bundled import sample_picture
from visionkit.imageio import read_image
from visionkit.pipeline import Pipeline
from visionkit.plugins.explain import scorer

TARGETS_S = {"occlusion": 2.0, "gradcam": 0.5}
METHODS = {
    "classify only": None,
    "occlusion": {"method": "occlusion", "patch": 32, "stride": 16},
    "occlusion, 1 copy per call": {"method": "occlusion", "patch": 32, "stride": 16},
    "gradcam": {"method": "gradcam"},
    "saliency": {"method": "saliency"},
    "fgsm": {"method": "fgsm", "eps": 2.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=None, help="a photo (default: the bundled 320x240 sample)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    image = read_image(args.image or sample_picture())
    plain = Pipeline(["classify"], device="cpu", threads=args.threads)
    pipe = Pipeline(["explain"], device="cpu", threads=args.threads)
    chunk = scorer.CHUNK
    seconds: dict[str, list[float]] = {name: [] for name in METHODS}
    for round_ in range(args.rounds + 1):  # the first round warms sessions and torch up
        for name, options in METHODS.items():
            scorer.CHUNK = 1 if "1 copy" in name else chunk
            target = plain if options is None else pipe
            if options is not None:
                pipe.set_options("explain", **options)
            start = time.perf_counter()
            result = target.predict_batch([image])[0]
            elapsed = time.perf_counter() - start
            if not result.ok:
                raise SystemExit(result.error)
            if round_:
                seconds[name].append(elapsed)
    scorer.CHUNK = chunk
    median = {name: statistics.median(v) for name, v in seconds.items()}
    base = median["classify only"]
    print(f"{image.shape[1]}x{image.shape[0]} picture, {args.threads} threads, median of {args.rounds} rounds")
    print(f"{'method':<28} {'seconds':>8} {'x classify':>11}  target")
    for name, s in median.items():
        target = TARGETS_S.get(name)
        verdict = f"<= {target:g} s: {'met' if s <= target else 'MISSED'} ({s / target:.2f} of it)" if target else ""
        print(f"{name:<28} {s:8.3f} {s / base:11.1f}  {verdict}")
    print(f"occlusion batched / one copy per call: {median['occlusion'] / median['occlusion, 1 copy per call']:.2f}")


if __name__ == "__main__":
    main()
