"""What the int8 backbone buys and what it costs: speed against fp32, and agreement with it.

    python benchmarks/bench_int8.py [--backbone PATH] [--int8 PATH] [--rounds 15] [--threads N]

1. Speed: the fp32 and the int8 backbone on the same input, in one process, rounds interleaved
   (fp32 first in even rounds, int8 first in odd ones) so a noisy neighbour slows both alike;
   median ms per call and the fp32/int8 ratio of the medians. Target: >= 2x. Then where the time
   goes, from onnxruntime's profiler: the convolutions alone, the input normalisation (which
   must stay cheap: quantized, it once made the whole backbone slower), the int8 conversions.
2. Agreement: ImageNet top-1 (``imagenet_classify.onnx`` on ``c5``) of int8 vs fp32 on the real
   photos in ../shared/realworld/images, on frames of its videos, and on held-out ShapeWorld
   pictures (seeds unlike the calibration's), with the feature maps' cosine similarity; and the
   ShapeWorld classifier's top-1 (``shapeworld_classify.onnx``, trained on these features) on
   held-out single-shape pictures. Targets: >= 99 % on the photos and with the ShapeWorld
   classifier. ImageNet classes on ShapeWorld shapes are guesses between near-equal logits, so
   the disagreements there are listed with fp32's own top-1 probability.

An int8 file that does not exist yet is made first, in a temporary folder (the same
``quantize_backbone`` that ``visionkit models quantize`` runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = ROOT / "assets" / "models"
REALWORLD = ROOT.parent / "shared" / "realworld"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
#: held out: the calibration pictures use seed 0, the quantizer's own check seed 1
SEED = 20_240
FRAME_STEP = 40  # every 40th frame of each video


# --- pictures -----------------------------------------------------------------------------------

def photos(folder: Path) -> list[tuple[str, np.ndarray]]:
    from visionkit.imageio import read_image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    return [(str(p.relative_to(folder)), read_image(p)) for p in files]


def video_frames(folder: Path) -> list[tuple[str, np.ndarray]]:
    from visionkit.sources import open_builtin

    frames = []
    for video in sorted(folder.glob("*.mp4")):  # the .avi files re-encode the same clips
        with open_builtin(str(video)) as src:
            for frame in src:
                if getattr(frame, "index", 0) % FRAME_STEP == 0 and getattr(frame, "image", None) is not None:
                    frames.append((f"{video.name}#{frame.index}", frame.image))
    return frames


def shapeworld(n: int) -> list[tuple[str, np.ndarray]]:
    from visionkit.data.scenes import scene_for
    from visionkit.data.shapeworld import iter_classify, render

    half = n // 2
    singles = iter_classify(half, seed=SEED, size=128)
    pictures = [(f"single#{i}", image) for i, (image, _) in enumerate(singles)]
    for i in range(n - half):
        pictures.append((f"scene#{i}", render(scene_for("detect" if i % 2 else "pose", SEED, i))))
    return pictures


# --- speed --------------------------------------------------------------------------------------

def speed(sessions: dict, tensor: np.ndarray, rounds: int, calls: int = 10) -> dict[str, float]:
    name = next(iter(sessions.values())).get_inputs()[0].name
    for s in sessions.values():  # warm-up: first runs allocate arenas and pack weights
        for _ in range(5):
            s.run(None, {name: tensor})
    samples: dict[str, list[float]] = {k: [] for k in sessions}
    for r in range(rounds):
        order = list(sessions) if r % 2 == 0 else list(reversed(sessions))
        for key in order:
            t = time.perf_counter()
            for _ in range(calls):
                sessions[key].run(None, {name: tensor})
            samples[key].append((time.perf_counter() - t) / calls * 1e3)
    return {k: statistics.median(v) for k, v in samples.items()}


def _group(op: str) -> str:
    if "Conv" in op:
        return "convolutions"
    if op in ("QuantizeLinear", "DequantizeLinear"):
        return "int8 <-> float"
    if op in ("Cast", "Mul", "Sub", "Div", "Transpose"):
        return "input normalisation"
    if op in ("Add", "QLinearAdd"):
        return "residual sums (+ normalisation Add)"
    return "other"


def profile(path: Path, tensor: np.ndarray, threads: int | None, runs: int = 40) -> Counter:
    """Median ms per call of each op group, from onnxruntime's profiler (after 10 warm-up runs)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "visionkit-bench-int8")
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for _ in range(runs + 10):
        session.run(None, {name: tensor})
    trace = session.end_profiling()
    with open(trace, encoding="utf-8") as fh:
        events = json.load(fh)
    os.remove(trace)
    per_node: dict[tuple[str, str], list[float]] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node.setdefault((e["name"], e["args"]["op_name"]), []).append(e["dur"] / 1e3)
    groups: Counter = Counter()
    for (_, op), durations in per_node.items():
        groups[_group(op)] += statistics.median(durations[10:] or durations)
    return groups


# --- agreement ----------------------------------------------------------------------------------

def agreement(pictures, fp32, int8, head, spec) -> dict:
    from visionkit.preprocess import preprocess
    from visionkit.quantize import cosine

    name = fp32.get_inputs()[0].name
    outputs = [o.name for o in fp32.get_outputs()]
    same, cosines, misses = 0, {o: [] for o in outputs}, []
    for label, image in pictures:
        tensor = preprocess(image, spec)[0]
        a, b = fp32.run(None, {name: tensor}), int8.run(None, {name: tensor})
        for o, x, y in zip(outputs, a, b):
            cosines[o].append(cosine(x, y))
        reads = [i.name for i in head.get_inputs()]  # the maps the head reads, by name
        la = head.run(None, {k: a[outputs.index(k)] for k in reads})[0][0]
        lb = head.run(None, {k: b[outputs.index(k)] for k in reads})[0][0]
        if la.argmax() == lb.argmax():
            same += 1
        else:
            p = np.exp(la - la.max())
            misses.append((label, float(p.max() / p.sum())))
    return {"n": len(pictures), "same": same, "misses": misses,
            "cos_mean": {o: float(np.mean(v)) for o, v in cosines.items()},
            "cos_min": {o: float(np.min(v)) for o, v in cosines.items()}}


def report(title: str, r: dict, target: float | None = None) -> None:
    if not r["n"]:
        print(f"  {title:<24} none found")
        return
    share = r["same"] / r["n"]
    met = target is not None and share >= target
    verdict = "" if target is None else f"  (target >= {target:.0%}: {'met' if met else 'NOT met'})"
    print(f"  {title:<24} top-1 agreement {r['same']}/{r['n']} = {share:.1%}{verdict}")
    print(f"  {'':<24} feature cosine mean " + ", ".join(f"{k} {v:.4f}" for k, v in r["cos_mean"].items())
          + "; lowest " + ", ".join(f"{k} {v:.4f}" for k, v in r["cos_min"].items()))
    if r["misses"]:
        shown = ", ".join(f"{label} (fp32 top-1 p={p:.2f})" for label, p in r["misses"][:12])
        print(f"  {'':<24} differ on: {shown}" + (" ..." if len(r["misses"]) > 12 else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbone", type=Path, default=MODELS / "efficientnet_lite0_backbone.onnx")
    ap.add_argument("--int8", type=Path, default=None, help="default: BACKBONE_int8.onnx beside it")
    ap.add_argument("--head", type=Path, default=MODELS / "imagenet_classify.onnx")
    ap.add_argument("--shapeworld-head", type=Path, default=MODELS / "shapeworld_classify.onnx")
    ap.add_argument("--realworld", type=Path, default=REALWORLD)
    ap.add_argument("--shapeworld", type=int, default=100, help="held-out ShapeWorld pictures")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    args = ap.parse_args()

    from visionkit.quantize import int8_path, quantize_backbone
    from visionkit.runtime import load_model, open_session

    int8_file = args.int8 or int8_path(args.backbone)
    tmp = None
    if not int8_file.is_file():
        tmp = tempfile.TemporaryDirectory(prefix="visionkit-bench-int8-")
        made = quantize_backbone(args.backbone, Path(tmp.name) / int8_path(args.backbone).name)
        int8_file = made.path
        print(f"(made {int8_file.name} in a temporary folder: {made.seconds:.0f} s, "
              f"{made.generated} calibration pictures)")
    fp32_model = load_model(args.backbone, device="cpu", threads=args.threads)
    int8_model = load_model(int8_file, device="cpu", threads=args.threads)
    spec = fp32_model.card.input
    assert int8_model.card.hash == fp32_model.card.hash, "the int8 copy must keep the fp32 hash"
    head = open_session(args.head, ["CPUExecutionProvider"], args.threads)

    real = photos(args.realworld / "images")
    frames = video_frames(args.realworld / "video")
    generated = shapeworld(args.shapeworld)
    from visionkit.preprocess import preprocess

    tensor = preprocess((real or generated)[0][1], spec)[0]
    sessions = {"fp32": fp32_model.session, "int8": int8_model.session}
    print(f"== speed: {args.backbone.name} ({args.backbone.stat().st_size / 1e6:.2f} MB) vs "
          f"{int8_file.name} ({int8_file.stat().st_size / 1e6:.2f} MB), {spec.size[0]}x{spec.size[1]}, "
          f"threads {args.threads or 'default'}, {args.rounds} interleaved rounds of 10 calls, medians")
    ms = speed(sessions, tensor, args.rounds)
    ratio = ms["fp32"] / ms["int8"]
    print(f"  fp32 {ms['fp32']:6.2f} ms   int8 {ms['int8']:6.2f} ms   fp32/int8 = {ratio:.2f}x "
          f"(target >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    groups = [profile(p, tensor, args.threads) for p in (args.backbone, int8_file)]
    print("  where the time goes (onnxruntime profiler, median ms per call):")
    for key in sorted(set(groups[0]) | set(groups[1]), key=lambda k: -(groups[0][k] + groups[1][k])):
        a, b = groups[0][key], groups[1][key]
        rel = f"{a / b:5.2f}x" if a and b else "     "
        print(f"    {key:<38} fp32 {a:6.2f}   int8 {b:6.2f}   {rel}")

    print("== agreement: int8 vs fp32, ImageNet top-1 and feature maps")
    fp32_s, int8_s = fp32_model.session, int8_model.session
    report("real photos", agreement(real, fp32_s, int8_s, head, spec), target=0.99)
    report(f"video frames (1/{FRAME_STEP})", agreement(frames, fp32_s, int8_s, head, spec))
    report("ShapeWorld (held out)", agreement(generated, fp32_s, int8_s, head, spec))
    if args.shapeworld_head.is_file():
        print("== agreement: int8 vs fp32, the ShapeWorld classifier's top-1")
        singles = [(k, v) for k, v in generated if k.startswith("single#")]
        shapes_head = open_session(args.shapeworld_head, ["CPUExecutionProvider"], args.threads)
        report("ShapeWorld (held out)", agreement(singles, fp32_s, int8_s, shapes_head, spec), target=0.99)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
