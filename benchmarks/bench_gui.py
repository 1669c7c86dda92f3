"""Desktop-app benchmark: how soon the window shows, and how responsive the UI stays.

    python benchmarks/bench_gui.py [--runs 5] [--seconds 6] [--video PATH]

1. Start-up: wall time from launching ``visionkit gui`` (a fresh process) to the window's first
   Expose event (the app prints the moment with ``VISIONKIT_GUI_STARTUP=exit`` and quits).
   Aim <= 1.5 s.
2. Event-loop latency while a video plays with every installed task on: a QTimer that should
   fire every 10 ms records how late each tick comes (median, p95, max). Measured at the
   video's own frame rate and at "max" speed (inference back to back, the worst case for the
   UI thread). Aim <= 50 ms.

Without a display the offscreen Qt platform is used. Models: each task's default; where a
default is missing (the bundled ShapeWorld model before it is trained) the benchmark falls back
to the third-party MobileNetV2 of ../shared/realworld with a card written to a temp folder.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = Path(os.environ.get("VISIONKIT_REALWORLD", ROOT.parent / "shared" / "realworld"))
TICK_MS = 10


def visionkit_command() -> list[str]:
    script = Path(sys.executable).with_name("visionkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "visionkit"]


def bench_startup(runs: int, tmp: Path) -> None:
    env = {**os.environ, "VISIONKIT_GUI_STARTUP": "exit", "VISIONKIT_GUI_SETTINGS": str(tmp / "startup.ini")}
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    shown, total = [], []
    for _ in range(runs):
        t0 = time.time()
        proc = subprocess.run(visionkit_command() + ["gui", "--tasks", "classify"], env=env,
                              capture_output=True, text=True, timeout=60)
        t_end = time.time()
        stamps = [float(line.split()[-1]) for line in proc.stderr.splitlines()
                  if line.startswith("visionkit-gui shown")]
        if proc.returncode != 0 or not stamps:
            print(f"  start-up run failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
            return
        shown.append(stamps[0] - t0)
        total.append(t_end - t0)
    print(f"1. start-up, `visionkit gui` to window exposed ({runs} runs, platform "
          f"{env.get('QT_QPA_PLATFORM', 'native')}):")
    print(f"   median {statistics.median(shown) * 1e3:.0f} ms, min {min(shown) * 1e3:.0f} ms, "
          f"max {max(shown) * 1e3:.0f} ms   (aim <= 1500 ms; whole process incl. quit: "
          f"median {statistics.median(total) * 1e3:.0f} ms)")


def find_video(arg: str | None, tmp: Path) -> Path:
    if arg:
        return Path(arg)
    real = REALWORLD / "video" / "opencv_vtest_480x360.mp4"
    if real.exists():
        return real
    import cv2
    import numpy as np

    path = tmp / "generated_480x360.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (480, 360))
    rng = np.random.default_rng(0)
    for i in range(250):
        frame = rng.integers(0, 255, (360, 480, 3), dtype=np.uint8)
        cv2.circle(frame, (40 + i, 180), 40, (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    return path


VOC = ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse "
       "motorbike person pottedplant sheep sofa train tvmonitor").split()
#: third-party stand-ins for tasks whose default model is missing: (model, `models card` args)
STAND_INS = {
    "classify": ("classification/mobilenetv2-12-int8.onnx",
                 ["--labels", "classification/synset.txt", "--resize", "256", "--crop", "224",
                  "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]),
    "detect": ("detection/yolox_nano_416x416.onnx",
               ["--labels", "detection/coco.names", "--channel-order", "bgr", "--scale", "1",
                "--letterbox", "topleft", "--output", "yolox"]),
    "segment": ("segmentation/deeplab_v3_1_default_1.onnx",
                ["--labels", "VOC", "--scale", "0.00784313725", "--mean", "1,1,1", "--output", "deeplab"]),
}


def task_models(tmp: Path) -> dict[str, str]:
    """Each installed task's model: its default, else a third-party stand-in where one exists
    (linked into ``tmp`` with a card beside it; nothing is copied into the project)."""
    from visionkit import cli
    from visionkit.bundled import resolve_model
    from visionkit.errors import VisionkitError
    from visionkit.plugin_manager import get_plugins

    (tmp / "voc.txt").write_text("\n".join(VOC))
    models = {}
    for spec in get_plugins().tasks:
        try:
            if spec.default_model and resolve_model(spec.default_model).is_file():
                continue
        except VisionkitError:
            pass
        if spec.name not in STAND_INS or not (REALWORLD / "models" / STAND_INS[spec.name][0]).exists():
            continue
        source, args = STAND_INS[spec.name]
        model = tmp / Path(source).name
        model.symlink_to(REALWORLD / "models" / source)
        args = [str(tmp / "voc.txt") if a == "VOC" else str(REALWORLD / "models" / a) if "/" in a else a
                for a in args]
        cli.main(["models", "card", str(model), "--task", spec.name, *args])
        models[spec.name] = str(model)
    return models


def bench_latency(video: Path, seconds: float, tmp: Path) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    from visionkit.gui.app import application
    from visionkit.gui.main_window import MainWindow
    from visionkit.gui.settings import Settings
    from visionkit.plugin_manager import get_plugins

    app = application()
    models = task_models(tmp)
    tasks = [t.name for t in get_plugins().tasks]
    window = MainWindow(tasks=tasks, models=models, device="auto",
                        settings=Settings(str(tmp / "latency.ini"), persist=False))
    window.resize(1280, 800)
    window.show()
    print(f"2. event-loop latency, {video.name}, tasks {','.join(tasks)} "
          f"({', '.join(f'{t}={Path(m).name}' for t, m in models.items()) or 'default models'}):")
    for label, speed in (("video's own rate", 1.0), ("max speed", 0.0)):
        ticks: list[float] = []
        frames: list[float] = []
        totals: list[float] = []
        measuring = {"on": False}
        ran: set[str] = set()

        def on_result(shown) -> None:
            if measuring["on"]:
                ran.update(shown.result.results)
                frames.append(time.perf_counter())
                totals.append(shown.result.timings_ms.get("total", 0.0))

        def on_playing(on: bool) -> None:
            if not on and measuring["on"]:
                window.worker.play(True)  # the end: start over

        window.result_shown.connect(on_result)
        window.playing_changed.connect(on_playing)
        window.worker.set_speed(speed)
        window.open_source(str(video))
        loop = QEventLoop()
        QTimer.singleShot(1500, loop.quit)  # open, build the pipeline, first frame
        loop.exec()
        if window.shown is None:
            print(f"   {label}: no frame shown ({window.messages.history[-1:] or 'no message'})")
            continue
        timer = QTimer()
        timer.setInterval(TICK_MS)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        measuring["on"] = True
        window.worker.play(True)
        timer.start()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        measuring["on"] = False
        timer.stop()
        window.worker.play(False)
        window.result_shown.disconnect(on_result)
        window.playing_changed.disconnect(on_playing)
        late = sorted(max(0.0, (b - a) * 1e3 - TICK_MS) for a, b in zip(ticks, ticks[1:]))
        if not late:
            print(f"   {label}: no timer ticks")
            continue
        p95 = late[min(len(late) - 1, int(0.95 * len(late)))]
        fps = (len(frames) - 1) / (frames[-1] - frames[0]) if len(frames) > 1 else 0.0
        print(f"   {label:>16}: lateness median {statistics.median(late):.1f} ms, p95 {p95:.1f} ms, "
              f"max {late[-1]:.1f} ms over {len(late)} ticks; {fps:.1f} FPS shown, "
              f"pipeline {statistics.median(totals) if totals else 0:.1f} ms/frame with results from "
              f"{','.join(sorted(ran)) or 'no task'} (aim: lateness <= 50 ms)")
    window.close()
    app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="start-up runs")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of playback per speed")
    parser.add_argument("--video", help="video to play (default: vtest from ../shared/realworld, else generated)")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        bench_startup(args.runs, Path(tmp))
        bench_latency(find_video(args.video, Path(tmp)), args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
