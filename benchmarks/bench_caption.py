"""The caption task after the backbone: milliseconds per picture at several beam widths.

    python benchmarks/bench_caption.py [--model asset:shapeworld_caption.onnx] [--n 40] [--rounds 5] [--threads 2]

Held-out ShapeWorld caption scenes (seed 10000) are run through one pipeline; the widths take
turns picture by picture (interleaved, so a busy machine slows them alike), and the pipeline's
own per-task timings are read: ``backbone`` and ``caption`` (the encoder graph, the word loop in
numpy and the step graph once per word). Printed: the median of each width, its ratio to the
backbone's median, to greedy decoding's, and to the 20 ms target for beam width 3.
"""

from __future__ import annotations

import argparse
import statistics

from visionkit.data.captions import scene_captions
from visionkit.data.shapeworld import render
from visionkit.pipeline import Pipeline

TARGET_MS = 20.0
WIDTHS = (1, 3, 5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="asset:shapeworld_caption.onnx")
    ap.add_argument("--n", type=int, default=40, help="pictures per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    pipe = Pipeline(["caption"], models={"caption": args.model}, device="cpu", threads=args.threads)
    images = [render(scene_captions(10000, i)[0].scene) for i in range(args.n)]
    pipe(images[0])  # warm-up: sessions made, first-run allocations done
    caption = {w: [] for w in WIDTHS}
    backbone, words = [], {w: [] for w in WIDTHS}
    for _ in range(args.rounds):
        for image in images:
            for width in WIDTHS:
                pipe.set_options("caption", beam=width, captions=1)
                result = pipe(image)
                caption[width].append(result.timings_ms["caption"])
                backbone.append(result.timings_ms["backbone"])
                words[width].append(len(result["caption"].words[0]) if result["caption"].words else 0)
    b = statistics.median(backbone)
    greedy = statistics.median(caption[1])
    print(f"backbone: median {b:.2f} ms over {len(backbone)} runs ({pipe.provider}, {args.threads} threads)")
    for width in WIDTHS:
        m = statistics.median(caption[width])
        line = (f"beam {width}: caption median {m:.2f} ms (min {min(caption[width]):.2f}, max "
                f"{max(caption[width]):.2f}), {m / b:.2f}x the backbone, {m / greedy:.2f}x greedy, "
                f"{statistics.mean(words[width]):.1f} words")
        if width == 3:
            line += f"; {m / TARGET_MS:.2f}x the {TARGET_MS:g} ms target"
        print(line)


if __name__ == "__main__":
    main()
