"""Style networks through the style task against bare onnxruntime calls, side by side.

    python benchmarks/bench_style.py [MODEL.onnx ...] [--image PHOTO] [--size 512] [--int8] [--rounds 6] [--threads 2]

Without models: the bundled arbitrary-style network. A fast style network needs its card
(``visionkit models card MODEL --task style --output image ...``) and runs at its card's size;
the arbitrary-style network (card output ``adain``) paints at ``--size`` on the long side. The
variants take turns round by round; printed per model: the pipeline's median per picture (resize
in, the network(s), the picture back at the frame's size), frames per second, the bare
``session.run`` calls on ready tensors (the backbone and the decoder for AdaIN), and their ratio
(what visionkit adds around the networks: for AdaIN the statistics and the renormalisation).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import cv2
import numpy as np

from visionkit.bundled import models_dir, sample_picture
from visionkit.imageio import read_image
from visionkit.pipeline import Pipeline
from visionkit.preprocess import preprocess


def bare_calls(pipe: Pipeline, image: np.ndarray, size: int):
    """The network calls the task makes on one picture, as (model, feeds) with tensors ready."""
    model = pipe.tasks["style"].model
    if model.card.is_head:  # the backbone at the painting size, then the decoder on its maps
        from visionkit.plugins.style.arbitrary import work_size

        h, w = work_size(*image.shape[:2], size)
        picture = cv2.resize(image, (w, h))
        spec = dataclasses.replace(pipe.backbone.card.input, size=(h, w))
        tensor, _ = preprocess(picture, spec)
        maps = dict(zip(pipe.backbone.outputs, pipe.backbone.run({pipe.backbone.inputs[0].name: tensor})))
        return [(pipe.backbone, {pipe.backbone.inputs[0].name: tensor}),
                (model, {i.name: maps[i.name] for i in model.inputs})]
    h, w = model.card.input.size  # a dynamic axis runs at the card's size, as the task does
    fixed = [1, 3, h, w] if model.card.input.layout == "NCHW" else [1, h, w, 3]
    shape = [d if isinstance(d, int) else f for d, f in zip(model.inputs[0].shape, fixed)]
    return [(model, {model.inputs[0].name: np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--image", default=None, help="a photo (default: the bundled 320x240 sample)")
    ap.add_argument("--size", type=int, default=512, help="the arbitrary-style network's painting side (default 512)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--int8", action="store_true", help="also run each backbone-reading model on the int8 backbone")
    args = ap.parse_args()
    image = read_image(args.image or sample_picture())
    models = args.models or [str(models_dir() / "style_adain.onnx")]
    pipes = {}
    for m in models:
        pipes[m] = Pipeline(["style"], models={"style": m}, device="cpu", threads=args.threads,
                            options={"style": {"size": args.size}})
        if args.int8 and pipes[m].backbone is not None:
            pipes[f"{m} int8"] = Pipeline(["style"], models={"style": m}, device="cpu", threads=args.threads,
                                          precision="int8", options={"style": {"size": args.size}})
    bare = {m: bare_calls(pipe, image, args.size) for m, pipe in pipes.items()}
    seconds = {m: {"pipeline": [], "bare": []} for m in pipes}
    for round_ in range(args.rounds + 1):  # the first round warms up
        for model, pipe in pipes.items():
            # the first of the two calls finds the caches full of the previous model's weights:
            # which goes first alternates, so neither always pays for it
            order = ("pipeline", "bare") if round_ % 2 else ("bare", "pipeline")
            for variant in order:
                start = time.perf_counter()
                if variant == "pipeline":
                    result = pipe(image)
                else:
                    for onnx_model, feeds in bare[model]:
                        onnx_model.run(feeds)
                if round_:
                    seconds[model][variant].append(time.perf_counter() - start)
            if not round_ and not result.ok:
                raise SystemExit(result.error)
    print(f"{image.shape[1]}x{image.shape[0]} picture, {args.threads} threads, median of {args.rounds} rounds")
    print(f"{'model':<28} {'paints at':>10} {'pipeline s':>10} {'frames/s':>9} {'bare s':>8} {'pipeline/bare':>14}")
    for model, times in seconds.items():
        p, b = statistics.median(times["pipeline"]), statistics.median(times["bare"])
        net = pipes[model](image)["style"].info["network_size"]
        print(f"{model.rsplit('/', 1)[-1]:<28} {net[0]:>4}x{net[1]:<5} {p:10.3f} {1 / p:9.1f} {b:8.3f} {p / b:14.2f}")


if __name__ == "__main__":
    main()
