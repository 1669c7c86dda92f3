"""Predict-path benchmark: ratios measured side by side in one run (absolute times vary).

    python benchmarks/bench_predict.py [--rounds 30] [--threads N]

1. End-to-end ``Pipeline(path)`` per image vs bare ``session.run`` of the same sessions on the
   same preprocessed tensor (target <= 1.15x).
2. Cold ``visionkit predict`` on one image vs ``python -c "import onnxruntime"`` (aim <= 3x).
3. The bundled backbone's achieved GFLOP/s vs this machine's fp32 matmul ceiling, both
   measured here (aim >= 60 %).
4. Spinning (onnxruntime's idle workers busy-waiting) on vs off: one session alone (the
   backbone's bare ``session.run``, the case spinning is made for) and the classify pipeline
   (two sessions) on an RGB array. Pipelines turn it off; ``Pipeline(spinning=True)`` turns
   it back on.
5. A standalone model through its card (YOLOX-nano from ../shared/realworld, 416x416 NCHW
   float, BGR, letterboxed): ``Pipeline(array)`` against bare ``session.run`` on the tensor
   visionkit's preprocessing made, and against the tensor made by one OpenCV call
   (``cv2.dnn.blobFromImage`` on the letterboxed picture), at 640x480 and 2560x1920
   (target <= 1.10x).
6. Batches: ``stream(folder, batch=8)`` against ``batch=1`` on 32 generated 256x256 scenes
   (decoded once, kept in memory), classify alone and classify+detect+segment; throughput
   ratio (target >= 1.4x).

Variants are interleaved round by round and summarised by their medians, so a noisy
neighbour slows every variant alike instead of biasing one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def interleaved(fns: dict, rounds: int, inner: int) -> dict[str, float]:
    """Median seconds per call of each function, calling them in alternation."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up: first runs allocate arenas
        for _ in range(3):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - t) / inner)
    return {k: statistics.median(v) for k, v in samples.items()}


def bench_overhead(images: list[Path], rounds: int, threads: int | None) -> None:
    import visionkit as vk
    from visionkit.imageio import read_image
    from visionkit.preprocess import preprocess

    pipe = vk.Pipeline(["classify"], device="cpu", threads=threads)
    backbone, head = pipe.backbone, pipe.tasks["classify"].model
    bb_sess, head_sess = backbone.session, head.session
    bb_in = backbone.inputs[0].name
    head_inputs = [i.name for i in head.inputs]
    bb_outputs = backbone.outputs
    for image in images:
        array = read_image(image)
        tensor, _ = preprocess(array, backbone.card.input)

        def bare():
            feats = dict(zip(bb_outputs, bb_sess.run(None, {bb_in: tensor})))
            head_sess.run(None, {n: feats[n] for n in head_inputs})

        t = interleaved({"bare": bare, "array": lambda: pipe(array), "path": lambda: pipe(image)},
                        rounds, inner=20)
        h, w = array.shape[:2]
        print(f"[1] {image.name} ({w}x{h}): bare session.run {t['bare']*1e3:.3f} ms | "
              f"Pipeline(array) {t['array']*1e3:.3f} ms | Pipeline(path) {t['path']*1e3:.3f} ms")
        print(f"    end-to-end / bare = {t['array']/t['bare']:.3f}x on the RGB array (target <= 1.15x); "
              f"{t['path']/t['bare']:.3f}x with PNG decoding")


def bench_cold_start(image: Path, rounds: int) -> None:
    def timed(cmd: list[str]) -> float:
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t

    cli = [sys.executable, "-m", "visionkit", "predict", str(image), "--task", "classify", "--json"]
    ort = [sys.executable, "-c", "import onnxruntime"]
    timed(cli), timed(ort)  # warm the file cache
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(cli))
        b.append(timed(ort))
    print(f"[2] cold start: visionkit predict {median_ms(a):.0f} ms | import onnxruntime {median_ms(b):.0f} ms "
          f"| ratio {statistics.median(a)/statistics.median(b):.2f}x   aim <= 3x")


def conv_flops(model_path: Path, height: int, width: int) -> float:
    """FLOPs (2 x MACs) of Conv/Gemm/MatMul nodes at batch 1 and the given input size."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(model_path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    nhwc = dims[3].dim_value == 3
    for d, v in zip(dims, (1, height, width, 3) if nhwc else (1, 3, height, width)):
        d.ClearField("dim_param")
        d.dim_value = v
    model = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    flops = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out = shapes[node.output[0]]
            w = shapes[node.input[1]]
            flops += 2.0 * np.prod(out) * np.prod(w[1:])
        elif node.op_type in ("Gemm", "MatMul"):
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            flops += 2.0 * np.prod(a) * b[-1]
    return flops


def matmul_ceiling(threads: int | None, rounds: int) -> float:
    """fp32 GFLOP/s of a 1024^3 matmul: onnxruntime (weights pre-packed, as a convolution's
    are) and numpy's BLAS, the higher of the two. Median of its own block: interleaving with
    other sessions lets their idle threads spin on the cores and understates it."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
                              initializer=[numpy_helper.from_array(a, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    mm = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    t_ort = interleaved({"ort": lambda: mm.run(None, {"a": a})}, rounds, inner=1)["ort"]
    t_np = interleaved({"numpy": lambda: a @ a}, rounds, inner=1)["numpy"]
    return 2.0 * n**3 / min(t_ort, t_np) / 1e9


def bench_efficiency(rounds: int, threads: int | None) -> None:
    import visionkit as vk

    pipe = vk.Pipeline(["classify"], device="cpu", threads=threads)
    backbone = pipe.backbone
    h, w = backbone.card.input.size
    flops = conv_flops(backbone.path, h, w)
    shape = (h, w, 3) if backbone.card.input.layout == "NHWC" else (3, h, w)
    dtype = np.uint8 if backbone.card.input.dtype == "uint8" else np.float32
    x1 = np.random.default_rng(1).integers(0, 256, (1, *shape)).astype(dtype)
    x8 = np.random.default_rng(1).integers(0, 256, (8, *shape)).astype(dtype)
    name = backbone.inputs[0].name

    before = matmul_ceiling(threads, rounds)
    t = interleaved({"b1": lambda: backbone.session.run(None, {name: x1}),
                     "b8": lambda: backbone.session.run(None, {name: x8})}, rounds, inner=5)
    ceiling = max(before, matmul_ceiling(threads, rounds))  # the higher: the stricter ratio
    g1 = flops / t["b1"] / 1e9
    g8 = 8 * flops / t["b8"] / 1e9
    print(f"[3] backbone {backbone.path.name}: {flops/1e9:.3f} GFLOP/image at {h}x{w}; "
          f"fp32 matmul ceiling {ceiling:.0f} GFLOP/s (measured before and after)")
    print(f"    batch 1: {t['b1']*1e3:.2f} ms = {g1:.0f} GFLOP/s = {100*g1/ceiling:.0f}% of ceiling; "
          f"batch 8: {t['b8']*1e3/8:.2f} ms/image = {g8:.0f} GFLOP/s = {100*g8/ceiling:.0f}%   aim >= 60%")


def bench_spinning(image: Path, rounds: int, threads: int | None) -> None:
    import visionkit as vk
    from visionkit.imageio import read_image

    pipes = {s: vk.Pipeline(["classify"], device="cpu", threads=threads, spinning=s) for s in (True, False)}
    backbone = pipes[True].backbone
    h, w = backbone.card.input.size
    shape = (h, w, 3) if backbone.card.input.layout == "NHWC" else (3, h, w)
    dtype = np.uint8 if backbone.card.input.dtype == "uint8" else np.float32
    x = np.random.default_rng(1).integers(0, 256, (1, *shape)).astype(dtype)
    name = backbone.inputs[0].name
    array = read_image(image)
    fns = {}
    for spinning, pipe in pipes.items():
        flag = "on" if spinning else "off"
        fns[f"session {flag}"] = lambda b=pipe.backbone.session: b.run(None, {name: x})
        fns[f"pipeline {flag}"] = lambda p=pipe: p(array)
    t = interleaved(fns, rounds, inner=20)
    print(f"[4] spinning on vs off: one session alone (backbone batch 1) {t['session on']*1e3:.3f} ms on | "
          f"{t['session off']*1e3:.3f} ms off = {t['session off']/t['session on']:.2f}x")
    print(f"    classify pipeline (2 sessions) on {image.name}: {t['pipeline on']*1e3:.3f} ms on | "
          f"{t['pipeline off']*1e3:.3f} ms off = {t['pipeline off']/t['pipeline on']:.2f}x   "
          "(off / on; < 1: off is faster)")


def bench_standalone(rounds: int, threads: int | None) -> None:
    import tempfile

    import cv2

    import visionkit as vk
    from visionkit.cli import main as cli
    from visionkit.preprocess import preprocess

    realworld = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "models" / "detection"
    source = realworld / "yolox_nano_416x416.onnx"
    if not source.is_file():
        print(f"[5] standalone model: {source} not found, skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / source.name
        model.symlink_to(source)
        card = ["models", "card", str(model), "--task", "detect", "--labels", str(realworld / "coco.names"),
                "--channel-order", "bgr", "--scale", "1", "--letterbox", "topleft", "--output", "yolox"]
        assert cli(card) == 0
        pipe = vk.Pipeline(["detect"], model=model, device="cpu", threads=threads)
        task = pipe.tasks["detect"]
        session, spec = task.model.session, task.model.card.input
        name = task.model.inputs[0].name
        rng = np.random.default_rng(5)
        for w, h in ((640, 480), (2560, 1920)):
            array = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            tensor, _ = preprocess(array, spec)
            s = min(spec.size[0] / h, spec.size[1] / w)
            canvas = np.full((*spec.size, 3), 114, np.uint8)

            def opencv_only() -> None:  # the least a letterboxed BGR float tensor can cost
                small = cv2.resize(array, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
                canvas[: small.shape[0], : small.shape[1]] = small
                session.run(None, {name: cv2.dnn.blobFromImage(canvas, 1.0, swapRB=True)})

            t = interleaved({"bare": lambda: session.run(None, {name: tensor}), "opencv": opencv_only,
                             "pipeline": lambda: pipe(array)}, rounds, inner=5)
            print(f"[5] {source.name} on a {w}x{h} array: bare session.run {t['bare']*1e3:.2f} ms | "
                  f"OpenCV-only preprocessing + run {t['opencv']*1e3:.2f} ms | "
                  f"Pipeline {t['pipeline']*1e3:.2f} ms")
            print(f"    Pipeline / bare = {t['pipeline']/t['bare']:.3f}x (target <= 1.10x); "
                  f"Pipeline / OpenCV-only = {t['pipeline']/t['opencv']:.3f}x")


def bench_batches(rounds: int, threads: int | None) -> None:
    import visionkit as vk
    from visionkit.data.scenes import scene_for
    from visionkit.data.shapeworld import render

    frames = [render(scene_for("detect", 6060, i)) for i in range(32)]
    for tasks in (["classify"], ["classify", "detect", "segment"]):
        pipe = vk.Pipeline(tasks, device="cpu", threads=threads)
        t = interleaved({f"b{n}": lambda n=n: list(pipe.stream(frames, batch=n)) for n in (1, 8)},
                        max(3, rounds // 6), inner=1)
        print(f"[6] {'+'.join(tasks)} on {len(frames)} frames: "
              f"batch 1 {len(frames) / t['b1']:.1f} frames/s | batch 8 {len(frames) / t['b8']:.1f} frames/s = {t['b1'] / t['b8']:.2f}x (target >= 1.4x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--image", type=Path, action="append", default=None,
                        help="image(s) to time (default: a 128x128 and a 320x240 bundled sample)")
    parser.add_argument("--part", type=int, action="append", choices=(1, 2, 3, 4, 5, 6), default=None,
                        help="run only these parts (default: all)")
    args = parser.parse_args()
    parts = set(args.part or (1, 2, 3, 4, 5, 6))
    from visionkit.bundled import samples

    bundled = samples()
    images = args.image or [next(p for p in bundled if p.stem.startswith("shapes_") and p.stem.count("_") == 1),
                            next(p for p in bundled if "320x240" in p.name)]
    print(f"threads: {args.threads or 'onnxruntime default'}")
    if 1 in parts:
        bench_overhead(images, args.rounds, args.threads)
    if 2 in parts:
        bench_cold_start(images[0], max(5, args.rounds // 3))
    if 3 in parts:
        bench_efficiency(args.rounds, args.threads)
    if 4 in parts:
        bench_spinning(images[-1], args.rounds, args.threads)
    if 5 in parts:
        bench_standalone(args.rounds, args.threads)
    if 6 in parts:
        bench_batches(args.rounds, args.threads)


if __name__ == "__main__":
    main()
