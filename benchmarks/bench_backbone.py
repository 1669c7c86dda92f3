"""The two bundled backbones side by side, and what the feature cache buys head training.

    python benchmarks/bench_backbone.py [--rounds 9] [--threads N] [--sizes 224,256,320]

1. Speed: EfficientNet-Lite0 (ImageNet) and the ShapeWorld ResNet, each in fp32 and int8, at
   every size, at batch 1 on the same uint8 picture. Variants run in interleaved rounds (the
   order turns each round) and are summarised by their medians, so a noisy neighbour slows all
   of them alike. Printed: ms per picture, GFLOP per picture (the Conv/Gemm multiply-adds x 2,
   from the fp32 graph), GFLOP/s, and each variant's time relative to the ShapeWorld fp32
   backbone at the same size.
2. Head training per epoch, with and without the feature cache: one epoch of ``visionkit
   train heads`` is ``steps`` batches of 16. With the cache a step reads the cached maps and
   trains the heads; without it, a step would first have to render its 16 pictures and run the
   backbone on them, which is exactly what filling the cache does. Both are measured here on a
   small set (a cache filled in a temporary folder, then training steps on it), and scaled to
   the recipe's epoch.

An int8 copy that does not exist yet is made first, in a temporary folder (the quantizer that
``visionkit models quantize`` runs). The ShapeWorld ResNet (``resnet_mini``, what ``visionkit
train shapeworld`` trains) is no longer bundled: it is exported here with seeded random
weights, which cost exactly what trained ones do (needs the ``train`` extra).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
MODELS = ROOT / "assets" / "models"
BACKBONES = {"lite0": "efficientnet_lite0_backbone.onnx", "shapeworld": "shapeworld_backbone.onnx"}


def shapeworld_backbone(tmp: Path) -> Path:
    """The ShapeWorld ResNet as ``visionkit train shapeworld`` exports it, random weights."""
    import torch

    from visionkit.nn.backbones import Backbone, resnet_mini
    from visionkit.nn.export import PixelInput, export_backbone
    from visionkit.nn.recipes.export import FEATURES
    from visionkit.nn.recipes.shapeworld import INPUT, MEAN, STD

    path = tmp / BACKBONES["shapeworld"]
    torch.manual_seed(0)
    module = PixelInput(Backbone(resnet_mini(), FEATURES), mean=MEAN, std=STD).eval()
    export_backbone(module, path, name="shapeworld_backbone", input=INPUT)
    return path


def int8_file(fp32: Path, tmp: Path) -> Path:
    from visionkit.quantize import int8_path, quantize_backbone

    beside = int8_path(fp32)
    if beside.is_file():
        return beside
    made = quantize_backbone(fp32, tmp / beside.name)
    print(f"(made {beside.name} in a temporary folder: {made.seconds:.0f} s)")
    return made.path


def speed(rounds: int, threads: int | None, sizes: list[int], tmp: Path) -> None:
    from bench_predict import conv_flops

    from visionkit.runtime import open_session

    files = {}
    for key, name in BACKBONES.items():
        fp32 = MODELS / name if (MODELS / name).is_file() else shapeworld_backbone(tmp)
        files[f"{key} fp32"] = (fp32, fp32)
        files[f"{key} int8"] = (int8_file(fp32, tmp), fp32)
    # spinning off, as visionkit opens sessions: spinning pools of the idle variants would
    # fight the one being timed
    sessions = {k: open_session(p, ["CPUExecutionProvider"], threads, spinning=False)
                for k, (p, _) in files.items()}
    feed = {k: s.get_inputs()[0].name for k, s in sessions.items()}
    rng = np.random.default_rng(0)
    print(f"== backbone speed, batch 1, threads {threads or 'default'}, {rounds} interleaved rounds, medians")
    print(f"  {'variant':<16}{'size':>6}{'ms':>9}{'GFLOP':>8}{'GFLOP/s':>9}{'x shapeworld fp32':>19}")
    for size in sizes:
        picture = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
        for key, s in sessions.items():  # warm-up: arenas, packed weights, this size's shapes
            for _ in range(3):
                s.run(None, {feed[key]: picture})
        samples: dict[str, list[float]] = {k: [] for k in sessions}
        for r in range(rounds):
            keys = list(sessions)
            keys = keys[r % len(keys):] + keys[: r % len(keys)]
            for key in keys:
                t = time.perf_counter()
                for _ in range(5):
                    sessions[key].run(None, {feed[key]: picture})
                samples[key].append((time.perf_counter() - t) / 5)
        ms = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        for key in sessions:
            gflop = conv_flops(files[key][1], size, size) / 1e9
            print(f"  {key:<16}{size:>6}{ms[key]:>9.2f}{gflop:>8.3f}{gflop / ms[key] * 1e3:>9.1f}"
                  f"{ms[key] / ms['shapeworld fp32']:>18.2f}x")


def heads_epoch(threads: int | None, tmp: Path, per_kind: int = 32, steps: int = 6) -> None:
    import torch

    from visionkit.nn.feature_cache import feature_cache
    from visionkit.nn.recipes.frozen import CachedBatches, HeadsModel, HeadsRecipe, make_step

    recipe = HeadsRecipe()
    backbone = MODELS / BACKBONES["lite0"]
    if threads:
        torch.set_num_threads(threads)
    parts = [("detect", per_kind, 91_000), ("pose", per_kind, 91_000), ("classify", per_kind, 91_000)]
    t = time.perf_counter()
    cache = feature_cache(backbone, parts, tmp / "cache", copies=1, progress=False, log=lambda _: None)
    fill = (time.perf_counter() - t) / len(cache)
    torch.manual_seed(0)
    model = HeadsModel({k: s[1] for k, s in cache.feature_shapes.items()})
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step = make_step(lambda _train: cache)
    batches = CachedBatches(len(cache), 1, recipe.batch_size, True)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(2):  # warm-up epochs excluded: the first steps allocate
        for item in batches.batches(0, generator):
            t = time.perf_counter()
            loss, _ = step(model.train(), item, generator, True)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            times.append(time.perf_counter() - t)
    per_step = statistics.median(times[-steps:])
    epoch_steps = sum(n for _, n, _ in recipe.train_parts()) // recipe.batch_size
    cached = epoch_steps * per_step
    uncached = epoch_steps * (per_step + recipe.batch_size * fill)
    print(f"== head training, one epoch of the bundled recipe ({epoch_steps} steps of {recipe.batch_size}), "
          f"{BACKBONES['lite0']}, threads {threads or 'default'}")
    print(f"  a step on cached features: {per_step * 1e3:.0f} ms; rendering a picture and running the "
          f"backbone on it: {fill * 1e3:.1f} ms")
    print(f"  with the cache {cached:.0f} s per epoch; without it {uncached:.0f} s per epoch "
          f"({uncached / cached:.1f}x); the cache costs one fill, {fill * 2 * sum(n for _, n, _ in recipe.train_parts()):.0f} s "
          f"for the recipe's {recipe.copies} copies")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime and torch threads (default: all cores)")
    ap.add_argument("--sizes", default="224,256,320", help="square input sides, comma-separated")
    ap.add_argument("--skip-training", action="store_true", help="the backbone speed table only")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="visionkit-bench-backbone-") as tmp:
        speed(args.rounds, args.threads, sizes, Path(tmp))
        if not args.skip_training:
            heads_epoch(args.threads, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
