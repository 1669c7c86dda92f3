"""`visionkit batch` / `vk.batch`: the records of `predict --json`, made by worker processes,
resumable after a kill, losing only the input a crashing worker died on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import visionkit as vk
from visionkit.bundled import samples
from visionkit.cli import main
from visionkit.data.mot_folders import write_sequences
from visionkit.jobs.manifest import Shard, cut, shard_size_for
from visionkit.jobs.shard import _recover

ROOT = Path(__file__).resolve().parent.parent
CRASH = [("crash", "tests.batch_plugins")]


def comparable(records):
    """Records without their timings (the only field that differs between two runs), sorted."""
    out = []
    for record in records:
        record = dict(record)
        record.pop("timings_ms")
        out.append(json.dumps(record, sort_keys=True))
    return sorted(out)


def lines(path_glob: Path):
    return [json.loads(line) for p in sorted(path_glob.parent.glob(path_glob.name)) for line in open(p)]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i, path in enumerate(samples()[:4]):
        shutil.copy(path, (folder / "sub" if i == 3 else folder) / path.name)
    (folder / "broken.jpg").write_bytes(b"<html>not a picture</html>")
    (folder / "notes.txt").write_text("not an input")  # neither image nor video: left out
    return folder


@pytest.fixture
def named(tmp_path):
    """Pictures whose names tell the crash plugin what to do."""
    folder = tmp_path / "named"
    folder.mkdir()
    for name in ["a", "b", "exit1", "c", "d", "segv2", "e", "f"]:
        shutil.copy(samples()[0], folder / f"{name}.png")
    return folder


def test_records_are_those_of_predict_json_and_failures_are_listed(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = "photos/missing.png"
    assert main(["batch", "photos", missing, "--recursive", "--tasks", "classify,detect", "--out", "run",
                 "--workers", "2", "--quiet", "--topk", "3"]) == 1
    err = capsys.readouterr().err
    assert "error: photos/broken.jpg: not an image" in err and "missing.png: no such file" in err
    assert "6 input(s), 2 failed, 6 records" in err
    assert main(["predict", "photos", missing, "--recursive", "--task", "classify,detect", "--json",
                 "--topk", "3"]) == 1
    predicted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records = lines(tmp_path / "run" / "jsonl" / "part-*.jsonl")
    assert comparable(records) == comparable(predicted)
    assert [r["source"] for r in records] == [r["source"] for r in predicted]  # the inputs' order
    assert len(records[1]["results"]["classify"]["labels"]) == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["inputs"] == 6 and len(summary["failed"]) == 2 and summary["workers"] == 2
    assert not (tmp_path / "run" / "work").exists()  # nothing is left half-done


def test_parquet_parts_hold_the_same_records(photos, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    report = vk.batch([str(photos)], "classify", out=tmp_path / "run", workers=2)
    table = pq.read_table(tmp_path / "run" / "parquet")
    assert table.num_rows == report.records == 4
    rows = sorted(table.to_pylist(), key=lambda r: r["source"])
    records = sorted(report, key=lambda r: r["source"])
    for row, record in zip(rows, records):
        assert row["source"] == record["source"] and row["error"] == record.get("error")
        assert json.loads(row["results"]) == record["results"]


def test_the_python_api_iterates_the_records_of_a_temporary_folder(photos):
    report = vk.batch(str(photos), "classify", workers=1)
    sources = [r["source"] for r in report]
    assert len(sources) == 4 and report.inputs == 4 and not report.ok  # sub/ not searched
    assert [Path(s).name for s, _ in report.failed] == ["broken.jpg"]
    folder = report.out
    del report
    assert not folder.exists()  # the temporary folder goes with the report


@pytest.mark.parametrize("batch", [1, 3])
def test_a_worker_that_dies_loses_only_the_input_it_died_on(named, tmp_path, batch):
    report = vk.batch([str(named)], "crash", out=tmp_path / "run", workers=2, shard_size=4,
                      batch=batch, plugins=CRASH)
    failed = {Path(s).name: e for s, e in report.failed}
    assert set(failed) == {"exit1.png", "segv2.png"}
    assert "the worker stopped while running on this input" in failed["exit1.png"]
    done = {Path(r["source"]).name for r in report if r.get("error") is None}
    assert done == {f"{n}.png" for n in "abcdef"}
    assert report.records == 8


def test_a_killed_run_resumed_repeats_little_and_equals_an_uninterrupted_one(named, tmp_path):
    for i in range(22):
        shutil.copy(samples()[1], named / f"more{i:02d}.png")
    log = tmp_path / "runs.log"
    env = dict(os.environ, CRASH_LOG=str(log), CRASH_DELAY="0.15", PYTHONPATH=str(ROOT))
    script = ("import sys, visionkit as vk; vk.batch([sys.argv[1]], 'crash', out=sys.argv[2], workers=2, "
              f"shard_size=3, plugins={CRASH!r})")
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", script, str(named), str(run)], env=env,
                            start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not (run / "shards.jsonl").exists()
                                           or len((run / "shards.jsonl").read_text().splitlines()) < 4):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, at once
    proc.wait()
    first = len(log.read_text().splitlines())
    assert 0 < first < 30, "the run was to be killed part-way"

    os.environ.update(CRASH_LOG=str(log))
    try:
        report = vk.batch([str(named)], "crash", out=run, workers=2, shard_size=3, plugins=CRASH)
    finally:
        del os.environ["CRASH_LOG"]
    ran = log.read_text().splitlines()
    assert report.resumed >= 12 and report.inputs == 30
    assert 30 - first <= report.ran <= 30 - first + 4  # what the killed run had not finished
    # every input ran once, but for those a worker was in the middle of when killed (one each),
    # and the two that kill their worker, which are run a second time only to be blamed
    assert len(ran) - 30 <= 2 + 2
    whole = vk.batch([str(named)], "crash", out=tmp_path / "whole", workers=2, shard_size=3, plugins=CRASH)
    assert comparable(report) == comparable(whole)
    assert [s for s, _ in report.failed] == [s for s, _ in whole.failed]


def test_videos_are_a_shard_each_and_a_tracker_sees_them_whole(tmp_path, capsys):
    write_sequences(tmp_path / "clips", 2, 10, 77, size=192, fps=10, progress=False)
    videos = sorted(str(p) for p in (tmp_path / "clips").glob("*/*.mp4"))
    report = vk.batch(videos, "track", out=tmp_path / "run", workers=2, save=tmp_path / "saved")
    assert report.inputs == 2 and report.records == 20 and report.ok
    for video in videos:  # the annotated video and its MOT file, below the sequence's folder
        seq = Path(video).parent.name
        assert {p.name for p in (tmp_path / "saved" / seq).iterdir()} == {f"{seq}.mp4", f"{seq}.txt"}
    assert main(["predict", *videos, "--task", "track", "--json"]) == 0
    predicted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert comparable(report) == comparable(predicted)
    manifest = (tmp_path / "run" / "manifest.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in manifest] == ["0", "1"]


def test_a_list_of_paths_and_saved_pictures_under_a_mirrored_tree(photos, tmp_path, monkeypatch):
    listing = photos / "inputs.txt"
    first, fourth = samples()[0].name, samples()[3].name
    listing.write_text(f"# the photos to run\n{first}\n\nsub/{fourth}\nnone.png\n")
    monkeypatch.chdir(tmp_path)
    report = vk.batch([f"@{listing}"], "detect", out="run", workers=1, save="saved")
    assert [Path(s).name for s, _ in report.failed] == ["none.png"]
    assert (tmp_path / "saved" / first).exists() and (tmp_path / "saved" / "sub" / fourth).exists()


def test_another_job_in_the_same_folder_is_refused_and_the_same_one_resumes(photos, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["batch", str(photos), "--out", out, "-t", "classify", "-q", "--save"]) == 1
    assert sorted(p.name for p in (tmp_path / "run" / "saved").iterdir()) == sorted(
        p.name for p in photos.iterdir() if p.suffix == ".png")  # OUT/saved by default
    assert main(["batch", str(photos), "--out", out, "-t", "detect", "-q", "--save"]) == 2
    assert "holds another job (tasks differ)" in capsys.readouterr().err
    assert main(["batch", str(photos), "--out", out, "-t", "classify", "-q", "--save"]) == 1
    assert "4 input(s) (4 done by an earlier run)" in capsys.readouterr().err


def test_bad_requests_are_one_line_and_write_nothing(photos, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("someone's file")
    cases = [
        (["0"], [], "a camera or stream has no end"),
        ([str(photos)], ["--save", "--save-as", "coco", "-t", "detect"], "gathers a whole run in one file"),
        ([str(photos)], ["-t", "nosuchtask"], "no plugin provides task 'nosuchtask'"),
        ([str(photos)], ["--workers", "0"], "--workers must be at least 1"),
        ([str(tmp_path / "*.none")], [], "no images or videos match"),
        ([str(photos)], ["--save", str(photos / "notes.txt")], "exists and is not a folder"),
    ]
    for sources, flags, message in cases:
        out = tmp_path / "out"
        assert main(["batch", *sources, "--out", str(out), "-q", *flags]) in (1, 2)
        assert message in capsys.readouterr().err
        assert not out.exists() or not any(out.iterdir()), message
    assert main(["batch", str(photos), "--out", str(tmp_path / "full"), "-q"]) == 2
    assert "holds files but no batch job" in capsys.readouterr().err


def test_shards_cut_stills_in_runs_and_each_video_alone():
    shards = list(cut(["a.png", "b.png", "c.mp4", "d.png", "e.png", "f.png"], 2))
    assert [s.paths for s in shards] == [("a.png", "b.png"), ("c.mp4",), ("d.png", "e.png"), ("f.png",)]
    assert [s.index for s in shards] == [0, 1, 2, 3]
    assert shard_size_for(10, 2) == 1 and shard_size_for(1_000_000, 4) == 256 and shard_size_for(160, 2) == 10


def test_a_progress_log_says_where_to_go_on_and_whom_to_blame(tmp_path):
    log = tmp_path / "p.progress"
    assert _recover(log, "run2") == (0, 0, None, False, 0)
    log.write_text("begin 0 run1 1\ndone 0 120\nbegin 1 run1 1\n")
    assert _recover(log, "run2") == (1, 120, None, False, 1)  # killed from outside: go on at 1
    assert _recover(log, "run1") == (1, 120, 1, True, 0)  # this run's worker died on input 1, after running 0
    log.write_text("begin 0 run1 4\n")
    assert _recover(log, "run1") == (0, 0, None, True, 0)  # a batch died: one at a time, no blame yet
    log.write_text("begin 0 run1 1\ndone 0 120\nbegin 1 run2 1\ndone 1 240\nbegin 2 run2 1\n")
    assert _recover(log, "run2") == (2, 240, 2, True, 1)  # input 0 was the killed run's, 1 this one's
    assert Shard(7, ("x",)).name == "part-000007"


def test_the_ray_engine_gives_the_local_engines_records(named, tmp_path):
    pytest.importorskip("ray")
    ray_run = vk.batch([str(named)], "crash", out=tmp_path / "ray", engine="ray", workers=2, shard_size=4,
                       plugins=CRASH)
    local = vk.batch([str(named)], "crash", out=tmp_path / "local", workers=2, shard_size=4, plugins=CRASH)
    # under Ray a worker's SIGSEGV is caught by Ray's own handler; os._exit is a death either way
    assert "exit1.png" in {Path(s).name for s, _ in ray_run.failed}
    same = lambda report: [r for r in comparable(report) if "segv2" not in r]
    assert same(ray_run) == same(local) and ray_run.records == 8


def test_the_ray_engine_without_ray_says_which_extra_installs_it(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    assert main(["batch", str(photos), "--out", str(tmp_path / "run"), "--engine", "ray", "-q"]) == 1
    assert "pip install 'visionkit[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_script_without_a_main_guard_and_one_from_stdin_both_run(photos, tmp_path):
    """Workers are fresh interpreters: the user's script is not imported again in them."""
    code = (f"import visionkit as vk\nr = vk.batch([{str(photos)!r}], 'classify', "
            f"out={str(tmp_path / 'a')!r}, workers=2)\nprint(r.inputs, len(r.failed))\n")
    script = tmp_path / "job.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          timeout=120).stdout.split() == ["4", "1"]
    piped = subprocess.run([sys.executable, "-"], input=code.replace("'a'", "'b'").replace("/a'", "/b'"),
                           capture_output=True, text=True, env=env, timeout=120)
    assert piped.stdout.split() == ["4", "1"], piped.stderr[-500:]
