"""Style networks through the style task against a bare onnxruntime call, side by side.

    python benchmarks/bench_style.py MODEL.onnx [MODEL.onnx ...] [--image PHOTO] [--rounds 5] [--threads 2]

Each model needs its card (``visionkit models card MODEL --task style --output image ...``).
The variants take turns round by round; printed per model: the pipeline's median per picture
(resize in, the network, the picture back at the frame's size), frames per second, the bare
``session.run`` on a ready tensor, and their ratio (what visionkit adds around the network).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from visionkit.bundled import sample_picture
from visionkit.imageio import read_image
from visionkit.pipeline import Pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--image", default=None, help="a photo (default: the bundled 320x240 sample)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    image = read_image(args.image or sample_picture())
    pipes = {m: Pipeline(["style"], models={"style": m}, device="cpu", threads=args.threads) for m in args.models}
    bare = {}
    for model, pipe in pipes.items():
        onnx_model = pipe.tasks["style"].model
        h, w = onnx_model.card.input.size  # a dynamic axis runs at the card's size, as the task does
        fixed = [1, 3, h, w] if onnx_model.card.input.layout == "NCHW" else [1, h, w, 3]
        shape = [d if isinstance(d, int) else f for d, f in zip(onnx_model.inputs[0].shape, fixed)]
        bare[model] = (onnx_model, {onnx_model.inputs[0].name: np.random.default_rng(0).uniform(0, 255, shape)
                                    .astype(np.float32)})
    seconds = {m: {"pipeline": [], "bare": []} for m in args.models}
    for round_ in range(args.rounds + 1):  # the first round warms up
        for model, pipe in pipes.items():
            start = time.perf_counter()
            pipe(image)
            mid = time.perf_counter()
            onnx_model, feeds = bare[model]
            onnx_model.run(feeds)
            end = time.perf_counter()
            if round_:
                seconds[model]["pipeline"].append(mid - start)
                seconds[model]["bare"].append(end - mid)
    print(f"{image.shape[1]}x{image.shape[0]} picture, {args.threads} threads, median of {args.rounds} rounds")
    print(f"{'model':<28} {'pipeline s':>10} {'frames/s':>9} {'bare s':>8} {'pipeline/bare':>14}")
    for model, times in seconds.items():
        p, b = statistics.median(times["pipeline"]), statistics.median(times["bare"])
        print(f"{model.rsplit('/', 1)[-1]:<28} {p:10.3f} {1 / p:9.1f} {b:8.3f} {p / b:14.2f}")


if __name__ == "__main__":
    main()
