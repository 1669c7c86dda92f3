"""The track task end to end: a ShapeWorld sequence in, ids across frames, the annotated video
and MOTChallenge files out, and ``visionkit eval track`` over both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main
from visionkit.data.mot import read_mot
from visionkit.data.mot_folders import write_sequences
from visionkit.results import Detections, Tracks
from visionkit.testing import assert_task

SEED = 4242  # no other test or training set uses it
MOT_TUD = Path(__file__).resolve().parents[1].parent / "shared" / "realworld" / "metrics" / "mot_tud"


@pytest.fixture(scope="module")
def sequences(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mot")
    write_sequences(out, 2, 30, SEED, size=256, fps=10, progress=False)
    return out


def video(sequences: Path, k: int = 0) -> str:
    return str(sorted(sequences.glob("*/*.mp4"))[k])


def test_tracks_keep_their_ids_and_the_detector_is_not_drawn_twice(sequences):
    pipe = vk.Pipeline(["track"], device="cpu")
    assert pipe.added == {"detect": "track"} and pipe.drawn == ("track",)
    results = list(pipe.stream(video(sequences)))
    assert len(results) == 30 and all(r.ok for r in results)
    tracks = [r["track"] for r in results]
    assert all(isinstance(t, Tracks) for t in tracks)
    assert sum(len(t) for t in tracks) > 30  # the detector finds the shapes, the tracker keeps them
    for t in tracks:
        assert len(set(t.ids.tolist())) == len(t)  # one id per object in a frame
        assert t.boxes.shape == (len(t), 4) and t.trails.shape[:1] == (len(t),)
    ids = [set(t.ids.tolist()) for t in tracks]
    kept = sum(len(a & b) for a, b in zip(ids, ids[1:])) / max(1, sum(len(a) for a in ids[:-1]))
    assert kept > 0.8  # from frame to frame, most ids go on
    row = json.loads(results[-1].to_json())["results"]["track"]
    assert set(row) == {"ids", "boxes", "scores", "class_ids", "labels", "ages"}
    assert results[-1].plot().shape == (256, 256, 3)



def test_a_detector_brought_in_for_tracking_keeps_the_weak_boxes_a_detector_asked_for_does_not():
    assert vk.Pipeline(["track"], device="cpu").tasks["detect"].options["score"] == 0.1  # track.low
    low = vk.Pipeline(["track"], device="cpu", options={"track": {"low": 0.2}})
    assert low.tasks["detect"].options["score"] == 0.2
    mine = vk.Pipeline(["track"], device="cpu", options={"detect": {"score": 0.4}})
    assert mine.tasks["detect"].options["score"] == 0.4  # the user's own option wins
    asked = vk.Pipeline(["detect", "track"], device="cpu")
    assert asked.tasks["detect"].options["score"] == 0.3  # asked for: detect's defaults


def test_evaluating_with_a_model_for_a_task_nothing_needs_is_one_line(sequences, capsys):
    code = main(["eval", "track", "--data", str(sequences), "--model", "segment=asset:shapeworld_segment.onnx"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "segment" in err and "not among the tasks" in err and "\n" not in err


def test_a_new_source_starts_its_ids_again(sequences):
    pipe = vk.Pipeline(["track"], device="cpu")
    first = [r["track"] for r in pipe.stream(video(sequences, 0))]
    second = [r["track"] for r in pipe.stream(video(sequences, 1))]
    seen = [int(i) for t in second for i in t.ids]
    assert seen and min(seen) == 1
    assert max(int(i) for t in first for i in t.ids) >= 1


def test_the_track_task_keeps_the_contract(sequences):
    assert_task("track", video=video(sequences), frames=8)


def test_classes_limit_what_is_tracked_and_unknown_ones_are_named(sequences):
    pipe = vk.Pipeline(["track"], device="cpu", options={"track": {"classes": "figure,zebra"}})
    results = list(pipe.stream(video(sequences)))
    labels = {lab for r in results for lab in r["track"].labels}
    assert labels <= {"figure"}
    assert any("zebra" in n for n in pipe.tasks["track"].notes)


def test_bad_detections_are_left_out_with_a_note():
    from visionkit.plugins.track.runtime import TrackTask

    from visionkit.preprocess import Transform
    from visionkit.tasks import FrameInfo, TaskInputs

    task = TrackTask()
    boxes = np.array([[10, 10, 50, 50], [np.nan, 0, 5, 5], [30, 30, 20, 20]], np.float32)
    dets = Detections(boxes, np.array([0.9, 0.9, 0.9], np.float32), np.zeros(3, np.int64), ("a", "a", "a"))
    for i in range(3):
        inputs = TaskInputs(np.zeros((64, 64, 3), np.uint8), None, None, Transform(1.0, 1.0, 0.0, 0.0),
                            results={"detect": dets}, frame=FrameInfo("x", i))
        out = task.decode([], inputs)
    assert len(out) == 1 and out.labels == ("a",)
    assert any("2 detection(s)" in n for n in task.notes)
    assert any("no frame rate" in n for n in task.notes)


def test_predict_saves_the_video_and_mot_files_that_eval_scores(sequences, tmp_path, capsys):
    clip = video(sequences)
    out = tmp_path / "out"
    assert main(["predict", clip, "--task", "track", "--save", str(out)]) == 0
    name = Path(clip).stem
    assert (out / f"{name}.mp4").is_file() and (out / f"{name}.txt").is_file()
    assert read_mot(out / f"{name}.txt").num_boxes > 0
    capsys.readouterr()
    gt = Path(clip).parent
    assert main(["eval", "track", "--gt", str(gt), "--pred", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 < report["MOTA"] <= 1 and 0 < report["HOTA"] <= 1 and report["sequences"] == 1
    assert main(["eval", "track", "--data", str(sequences), "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["sequences"] == 2 and set(both["per_sequence"]) == {p.name for p in sequences.iterdir()}


def test_eval_track_matches_py_motmetrics_on_the_tud_sequences(tmp_path, capsys):
    if not MOT_TUD.is_dir():
        pytest.skip(f"{MOT_TUD} is not on this machine")
    expected = json.loads((MOT_TUD / "expected_motmetrics.json").read_text())
    pred = tmp_path / "pred"
    pred.mkdir()
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        (pred / f"{seq}.txt").write_text((MOT_TUD / seq / "test.txt").read_text())
    assert main(["eval", "track", "--gt", str(MOT_TUD), "--pred", str(pred), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    columns = expected["columns"]
    overall = dict(zip(columns, expected["OVERALL"]))
    assert report["MOTA"] == pytest.approx(overall["mota"], abs=1e-6)
    assert report["IDF1"] == pytest.approx(overall["idf1"], abs=1e-6)
    assert report["ID switches"] == overall["num_switches"]
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        want = dict(zip(columns, expected[seq]))
        assert report["per_sequence"][seq]["MOTA"] == pytest.approx(want["mota"], abs=1e-6)


def test_eval_track_refuses_what_it_cannot_score_in_one_line(tmp_path, capsys):
    assert main(["eval", "track", "--gt", str(tmp_path), "--pred", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no MOTChallenge ground truth" in err and "Traceback" not in err


def test_a_prediction_on_ignored_ground_truth_is_neither_hit_nor_false_positive():
    from visionkit.plugins.track.evaluate import without_distractors

    from visionkit.data.mot import MotSequence, make_frame

    truth = MotSequence({1: make_frame([1, 2], [[0, 0, 10, 10], [50, 50, 10, 10]], conf=[1, 0])})
    pred = {1: make_frame([7, 8, 9], [[0, 0, 10, 10], [51, 50, 10, 10], [90, 90, 5, 5]])}
    gt, kept, removed = without_distractors(truth, pred, 0.5)
    assert removed == 1 and gt[1].ids.tolist() == [1] and kept[1].ids.tolist() == [7, 9]


def test_frames_of_changing_size_and_long_empty_stretches_do_not_break_tracking():
    pipe = vk.Pipeline(["track"], device="cpu")
    rng = np.random.default_rng(0)
    sizes = [(240, 320), (480, 640), (200, 200)]
    for i in range(60):  # blank frames of three sizes: nothing to detect, nothing to track
        h, w = sizes[i % 3]
        r = pipe(rng.integers(100, 110, (h, w, 3), dtype=np.uint8))
        assert r.ok and len(r["track"]) == 0


def test_changing_an_option_mid_stream_keeps_the_tracks_and_never_reuses_an_id(sequences):
    pipe = vk.Pipeline(["track"], device="cpu")
    before: set[int] = set()
    after: set[int] = set()
    for i, r in enumerate(pipe.stream(video(sequences))):
        if i == 15:
            pipe.set_options("track", min_hits=2, buffer_s=2.0)
        (before if i < 15 else after).update(r["track"].ids.tolist())
    assert before and after & before  # tracks went on through the change
    assert all(i in before or i > max(before) for i in after)  # no id given twice
    assert pipe.tasks["track"]._tracker.config.min_hits == 2


def test_turning_reid_on_mid_stream_adds_the_embed_task_and_off_leaves_it_out(sequences):
    pipe = vk.Pipeline(["track"], device="cpu")
    assert list(pipe.tasks) == ["detect", "track"]
    frames = list(pipe.stream(video(sequences)))[:1]
    pipe.set_options("track", reid=True)  # the bundled detector and embed head share one backbone
    assert list(pipe.tasks) == ["detect", "embed", "track"] and pipe.added["embed"] == "track"
    assert pipe.drawn == ("track",)
    r = pipe(frames[0].image)
    assert r.ok and len(r["embed"]) == len(r["detect"])
    pipe.set_options("track", reid=False)
    assert list(pipe.tasks) == ["detect", "track"] and pipe(frames[0].image).ok


def test_an_option_whose_task_cannot_be_built_is_put_back(monkeypatch):
    import dataclasses

    import visionkit.assembly as assembly_module
    from visionkit.errors import VisionkitError

    pipe = vk.Pipeline(["track"], device="cpu")
    real = assembly_module.require_task
    monkeypatch.setattr(assembly_module, "require_task", lambda name: dataclasses.replace(
        real(name), default_model="asset:no_such_model.onnx") if name == "embed" else real(name))
    with pytest.raises(VisionkitError, match="no_such_model"):
        pipe.set_options("track", reid=True)
    assert pipe.tasks["track"].options["reid"] is False and list(pipe.tasks) == ["detect", "track"]
