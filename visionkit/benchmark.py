"""What visionkit costs on this machine, measured side by side in one run (``visionkit bench``).

Machines are noisy, so the variants take turns round by round (each runs every frame once a
round) and each number is the median over the rounds: a busy neighbour slows every variant
alike instead of biasing one. What is measured:

* **each task alone**: ms per frame, frames per second, and *framework / bare*, the whole
  pipeline call against the time spent inside onnxruntime's ``session.run`` during it (what
  visionkit adds: preprocessing, the glue between graphs, decoding);
* **the tasks together**: ms per frame and its ratio to the sum of the tasks alone (the
  backbone runs once for all of them), with the time of each stage;
* **fp32 against int8** backbones, when the int8 copy is beside the fp32 one;
* **batch 1 against batch N** over the frames (``Pipeline.stream(..., batch=N)``);
* the provider the sessions really got.

Frames are the given images or generated ShapeWorld scenes. Nothing here needs torch or Qt.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .runtime import OnnxModel


@dataclass
class TaskTiming:
    ms: float  # per frame, median over rounds
    bare_ms: float  # of which inside onnxruntime's session.run

    @property
    def fps(self) -> float:
        return 1e3 / self.ms if self.ms else 0.0

    @property
    def overhead(self) -> float:
        """framework / bare."""
        return self.ms / self.bare_ms if self.bare_ms else float("nan")


@dataclass
class BenchReport:
    provider: str
    frames: int
    rounds: int
    alone: dict[str, TaskTiming]
    together: TaskTiming
    stages: dict[str, float]  # ms per frame of each stage, tasks together
    int8: dict[str, float] = field(default_factory=dict)  # {"fp32": ms, "int8": ms} of the backbone
    batch: dict[str, float] = field(default_factory=dict)  # {"1": frames/s, "N": frames/s}
    batch_size: int = 1

    @property
    def sharing(self) -> float:
        """Together / sum of alone: below 1, the shared backbone pass pays."""
        return self.together.ms / sum(t.ms for t in self.alone.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alone"] = {k: {"ms": v.ms, "bare_ms": v.bare_ms, "fps": v.fps, "overhead": v.overhead}
                        for k, v in self.alone.items()}
        out["together"] = {"ms": self.together.ms, "bare_ms": self.together.bare_ms, "fps": self.together.fps,
                           "overhead": self.together.overhead, "sharing": self.sharing}
        return out


@contextmanager
def onnxruntime_clock() -> Iterator[list[float]]:
    """Seconds spent in :meth:`OnnxModel.run` while the block runs (every graph visionkit runs
    goes through it), added up in the one-element list it yields."""
    spent = [0.0]
    real = OnnxModel.run

    def timed(self: OnnxModel, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        t = time.perf_counter()
        try:
            return real(self, feeds)
        finally:
            spent[0] += time.perf_counter() - t

    OnnxModel.run = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        OnnxModel.run = real  # type: ignore[method-assign]


def scenes(n: int, seed: int = 6060) -> list[np.ndarray]:
    """``n`` generated multi-object ShapeWorld scenes (256x256 RGB)."""
    from .data.scenes import scene_for
    from .data.shapeworld import render

    return [render(scene_for("detect", seed, i)) for i in range(n)]


def _interleaved(variants: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Each variant's (seconds, seconds in onnxruntime) per round, the variants taking turns."""
    for fn in variants.values():  # warm-up: first runs allocate arenas and pack weights
        fn()
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for r in range(rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for key in order:
            with onnxruntime_clock() as spent:
                t = time.perf_counter()
                variants[key]()
                samples[key].append((time.perf_counter() - t, spent[0]))
    return samples


def _timing(samples: list[tuple[float, float]], frames: int) -> TaskTiming:
    return TaskTiming(statistics.median(s for s, _ in samples) / frames * 1e3,
                      statistics.median(o for _, o in samples) / frames * 1e3)


def run_bench(
    tasks: Sequence[str], frames: Sequence[np.ndarray], *, models: Mapping[str, str] | None = None,
    device: str = "auto", threads: int | None = None, rounds: int = 10, batch: int = 8,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Measure ``tasks`` alone and together on ``frames`` (RGB arrays); see the module."""
    from .pipeline import Pipeline
    from .preprocess import preprocess
    from .quantize import int8_path

    say = progress or (lambda line: None)
    models = dict(models or {})

    def pipeline(names: Sequence[str], **extra: Any) -> Pipeline:
        return Pipeline(list(names), models={k: v for k, v in models.items() if k in names} or None,
                        device=device, threads=threads, **extra)

    together = pipeline(tasks)
    alone = {name: pipeline([name]) for name in tasks} if len(tasks) > 1 else {tasks[0]: together}
    n = len(frames)

    def over(pipe: Pipeline) -> Callable[[], float]:
        return lambda: [pipe(frame) for frame in frames]

    say(f"timing {', '.join(tasks)} alone and together: {rounds} rounds of {n} frames")
    variants = {f"alone:{k}": over(p) for k, p in alone.items()}
    if len(tasks) > 1:
        variants["together"] = over(together)
    samples = _interleaved(variants, rounds)
    alone_t = {k: _timing(samples[f"alone:{k}"], n) for k in alone}
    together_t = _timing(samples["together"], n) if len(tasks) > 1 else alone_t[tasks[0]]

    stage_samples: dict[str, list[float]] = {}
    for frame in frames:
        for stage, ms in together(frame).timings_ms.items():
            stage_samples.setdefault(stage, []).append(ms)
    stages = {k: statistics.median(v) for k, v in stage_samples.items() if k != "total"}

    report = BenchReport(together.provider, n, rounds, alone_t, together_t, stages, batch_size=batch)
    backbone = together.backbone
    if backbone is not None and int8_path(backbone.path).is_file():
        say("timing the backbone in fp32 and int8")
        int8 = pipeline(tasks, precision="int8").backbone
        name = backbone.inputs[0].name
        tensor = preprocess(frames[0], backbone.card.input)[0]
        runs = {"fp32": lambda: backbone.run({name: tensor}), "int8": lambda: int8.run({name: tensor})}
        per = _interleaved({k: (lambda f=f: [f() for _ in range(5)]) for k, f in runs.items()}, rounds)
        report.int8 = {k: statistics.median(s for s, _ in v) / 5 * 1e3 for k, v in per.items()}
    if batch > 1 and backbone is not None:
        say(f"timing batch 1 against batch {batch}")
        per = _interleaved({str(b): (lambda b=b: list(together.stream(list(frames), batch=b))) for b in (1, batch)},
                           max(3, rounds // 2))
        report.batch = {k: n / statistics.median(s for s, _ in v) for k, v in per.items()}
    return report


def format_report(report: BenchReport) -> list[str]:
    """The report as the lines ``visionkit bench`` prints."""
    lines = [f"provider {report.provider}; {report.frames} frames x {report.rounds} rounds, medians",
             f"{'task':<14}{'ms/frame':>10}{'frames/s':>10}{'in onnxruntime':>16}{'framework/bare':>16}"]
    rows = list(report.alone.items())
    if len(rows) > 1:
        rows.append(("together", report.together))
    for name, t in rows:
        lines.append(f"{name:<14}{t.ms:>10.2f}{t.fps:>10.1f}{t.bare_ms:>13.2f} ms{t.overhead:>15.2f}x")
    if len(report.alone) > 1:
        lines.append(f"together / sum alone = {report.sharing:.2f} (one backbone pass for every task)")
    lines.append("stages together (ms/frame): " + ", ".join(f"{k} {v:.2f}" for k, v in report.stages.items()))
    if report.int8:
        fp32, int8 = report.int8["fp32"], report.int8["int8"]
        lines.append(f"backbone fp32 {fp32:.2f} ms | int8 {int8:.2f} ms = {fp32 / int8:.2f}x faster")
    if report.batch:
        one, many = report.batch["1"], report.batch[str(report.batch_size)]
        lines.append(f"batch 1 {one:.1f} frames/s | batch {report.batch_size} {many:.1f} frames/s = {many / one:.2f}x")
    return lines
