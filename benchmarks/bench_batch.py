"""`visionkit batch`: workers against one worker, Ray against local, a kill and resume, memory.

    python benchmarks/bench_batch.py [--images N] [--rounds 2] [--tasks classify,detect] [--ray]
                                     [--resume] [--memory 100000]

The job is a folder of N pictures (the sample images and the real-world photos, copied round)
run with the given tasks. The variants take turns round by round; each prints inputs per second
of the whole run (starting the workers included) and their ratios:

* ``[1]`` the local engine with 2 workers against 1 worker (target >= 1.7x on two cores), the
  one worker with every core's thread (the default) and with one thread (a worker's share);
* ``[2]`` with ``--ray``: the Ray engine with 2 actors against the local engine with 2 workers
  (target within 15 %; Ray's own start-up is timed apart and left out);
* ``[3]`` with ``--resume``: a run killed when half its inputs are done, then resumed: the work
  repeated (target <= 5 %), and whether its records equal an uninterrupted run's;
* ``[4]`` with ``--memory N``: one small picture listed N times; each worker's resident memory
  after its first shard, at 10 %, 50 % and at the end (flat: the same within a few MB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import visionkit as vk
from visionkit.bundled import samples

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "images"


def make_folder(root: Path, n: int) -> Path:
    pictures = list(samples()) + sorted(p for p in REALWORLD.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    folder = root / "pictures"
    folder.mkdir()
    for i in range(n):
        source = pictures[i % len(pictures)]
        shutil.copy(source, folder / f"{i:05d}{source.suffix}")
    return folder


def timed(folder: Path, out: Path, tasks: str, **kwargs) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    report = vk.batch([str(folder)], tasks, out=out, **kwargs)
    seconds = time.perf_counter() - t0
    assert report.ran == report.inputs
    return report.inputs / seconds


def compare(name_a: str, a: list[float], name_b: str, b: list[float], target: str) -> None:
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"  {name_a:<22} {ma:7.1f} inputs/s   ({', '.join(f'{x:.1f}' for x in a)})")
    print(f"  {name_b:<22} {mb:7.1f} inputs/s   ({', '.join(f'{x:.1f}' for x in b)})")
    print(f"  {name_a} / {name_b} = {ma / mb:.2f}x   {target}")


def comparable(records) -> list[str]:
    return sorted(json.dumps({k: v for k, v in r.items() if k != "timings_ms"}, sort_keys=True) for r in records)


def done_so_far(out: Path) -> int:
    """Inputs a stopped run had finished: its published shards and its logs' done lines."""
    from visionkit.jobs.manifest import read_shards
    from visionkit.jobs.shard import WORK, is_complete

    done = 0
    for shard in read_shards(out):
        if is_complete(out, shard):
            done += len(shard.paths)
            continue
        log = out / WORK / f"{shard.name}.progress"
        if log.exists():
            done += sum(1 for line in log.read_text().splitlines() if line.startswith("done "))
    return done


def resume(folder: Path, root: Path, tasks: str, inputs: int) -> None:
    out = root / "killed"
    script = (f"import visionkit as vk; vk.batch([{str(folder)!r}], {tasks!r}, out={str(out)!r}, workers=2)")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.1)
        if (out / "manifest.tsv").exists() and done_so_far(out) >= inputs // 2:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = done_so_far(out)
    report = vk.batch([str(folder)], tasks, out=out, workers=2)
    repeated = (before + report.ran) - report.inputs
    print(f"  killed with {before}/{report.inputs} inputs done; the resumed run ran {report.ran}: "
          f"{repeated} repeated = {100 * repeated / report.inputs:.1f} % of the work   target <= 5 %")
    whole = vk.batch([str(folder)], tasks, out=root / "whole", workers=2)
    same = comparable(report) == comparable(whole)
    print(f"  records equal to an uninterrupted run's, record for record (timings aside): {same}")


def memory(root: Path, tasks: str, n: int) -> None:
    picture = samples()[0]
    listing = root / "many.txt"
    listing.write_text(f"{picture}\n" * n)
    t0 = time.perf_counter()
    report = vk.batch([f"@{listing}"], tasks, out=root / "memory", workers=2)
    seconds = time.perf_counter() - t0
    print(f"  {report.inputs} inputs in {seconds:.0f} s ({report.inputs / seconds:.0f} inputs/s), "
          f"{len(report.failed)} failed")
    for pid, series in report.memory_mb.items():
        k = len(series)
        marks = [series[0], series[k // 10], series[k // 2], series[-1]]
        print(f"  worker {pid}: {k} shards; resident MB after the first {marks[0]:.1f}, at 10 % {marks[1]:.1f}, "
              f"at 50 % {marks[2]:.1f}, at the end {marks[3]:.1f} (growth {marks[3] - marks[0]:+.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tasks", default="classify,detect")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--memory", type=int, default=0, metavar="N")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; tasks {args.tasks}; {args.images} pictures")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_folder(root, args.images)
        one, one_thread, two, ray = [], [], [], []
        if args.ray:
            import ray as ray_module

            t0 = time.perf_counter()
            ray_module.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            print(f"  Ray started in {time.perf_counter() - t0:.1f} s (not counted below)")
        for _ in range(args.rounds):
            one.append(timed(folder, root / "one", args.tasks, workers=1))
            one_thread.append(timed(folder, root / "one1", args.tasks, workers=1, threads=1))
            two.append(timed(folder, root / "two", args.tasks, workers=2))
            if args.ray:
                ray.append(timed(folder, root / "ray", args.tasks, workers=2, engine="ray"))
        print("[1] local engine")
        compare("2 workers", two, "1 worker", one, "target >= 1.7x")
        compare("2 workers", two, "1 worker, 1 thread", one_thread, "(each of the 2 workers has 1 thread)")
        if args.ray:
            print("[2] Ray engine on this machine")
            compare("ray, 2 actors", ray, "local, 2 workers", two, "target >= 0.85x")
        if args.resume:
            print("[3] kill at half-way and resume")
            resume(folder, root, args.tasks, args.images)
        if args.memory:
            print(f"[4] memory per worker over {args.memory} inputs")
            memory(root, args.tasks, args.memory)


if __name__ == "__main__":
    main()
