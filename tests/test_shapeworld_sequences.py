"""ShapeWorld tracking sequences: deterministic, ids follow objects, staged events show in the
ground truth, boxes match pixels, MOTChallenge folders read back, the CLI writes and refuses."""

from __future__ import annotations

import configparser
from dataclasses import replace

import cv2
import numpy as np
import pytest

from visionkit.cli import main
from visionkit.data import mot_folders
from visionkit.data.mot_folders import write_sequences
from visionkit.data.scenes import CATEGORIES, annotate
from visionkit.data.sequences import MIN_PIXELS, MIN_VISIBLE, frame_scene, script, sequence
from visionkit.data.shapeworld import render
from visionkit.errors import InputError

SEED, N, T, SIZE = 5, 4, 60, 128  # the short default set every staged event must show in


@pytest.fixture(scope="module")
def made():
    """index -> (script, [(image, boxes)] per frame)."""
    return {i: (script(SEED, i, T, SIZE), list(sequence(SEED, i, T, SIZE))) for i in range(N)}


def _tracks(frames) -> dict[int, list[tuple[int, object]]]:
    out: dict[int, list] = {}
    for t, (_, boxes) in enumerate(frames):
        for b in boxes:
            out.setdefault(b.track_id, []).append((t, b))
    return out


def _at_border(box, size=SIZE) -> bool:
    return bool(box[0] <= 0 or box[1] <= 0 or box[2] >= size or box[3] >= size)


def test_same_seed_same_sequence_and_others_differ():
    a, b = list(sequence(SEED, 1, 8, SIZE)), list(sequence(SEED, 1, 8, SIZE))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert [[(o.track_id, o.box.tolist(), o.visibility) for o in x[1]] for x in a] == \
           [[(o.track_id, o.box.tolist(), o.visibility) for o in y[1]] for y in b]
    other = next(sequence(SEED, 2, 8, SIZE))[0]
    assert not np.array_equal(a[0][0], other)


def test_ids_stay_with_their_objects_and_are_never_reused(made):
    for sc, frames in made.values():
        ids = [tr.item.track_id for tr in sc.tracks]
        assert sorted(ids) == list(range(1, len(ids) + 1))  # one id per object
        for t, (_, boxes) in enumerate(frames):
            assert [b.track_id for b in boxes] == sorted({b.track_id for b in boxes})
            placed = {o.track_id: o for o in frame_scene(sc, t).objects}
            for b in boxes:  # the box lies on the object that carries the id
                obj = placed[b.track_id]
                x, y, w, h = cv2.boundingRect(obj.mask(SIZE, SIZE).view(np.uint8))
                assert x <= b.box[0] and y <= b.box[1] and b.box[2] <= x + w and b.box[3] <= y + h
                assert b.class_id == obj.class_id
        for rows in _tracks(frames).values():
            assert len({b.class_id for _, b in rows}) == 1


def test_staged_events_show_in_the_ground_truth(made):
    found = set()
    for sc, frames in made.values():
        assert {"crossing", "occlusion", "entry", "exit", "similar"} <= {e[0] for e in sc.events}
        tracks = _tracks(frames)
        for rows in tracks.values():
            (t0, first), (t1, last) = rows[0], rows[-1]
            if t0 > 0 and _at_border(first.box):
                found.add("entry")
            if t1 < T - 1 and _at_border(last.box):
                found.add("exit")
            hidden = [t for t, b in rows if b.visibility <= 0.05 and not _at_border(b.box)]
            seen = [t for t, b in rows if b.visibility >= 0.8]
            if seen and any(min(seen) < t < max(seen) for t in hidden):  # seen, gone, seen again
                found.add("occlusion")
        for _, boxes in frames:  # crossing: centres meet, the one behind loses pixels
            for a in boxes:
                for b in boxes:
                    ca, cb = (a.box[:2] + a.box[2:]) / 2, (b.box[:2] + b.box[2:]) / 2
                    near = np.linalg.norm(ca - cb) < 0.35 * min(a.box[2] - a.box[0], a.box[3] - a.box[1])
                    if near and 0.05 < a.visibility < 0.8 and b.visibility > 0.9:
                        found.add("crossing")
    assert found == {"entry", "exit", "occlusion", "crossing"}


def test_pans_look_alikes_and_figures_are_staged(made):
    for i, (sc, _) in made.items():
        moved = np.abs(sc.camera - sc.camera[0]).max()
        assert (moved > 3) == (i % 4 != 3) and any(e[0] == "pan" for e in sc.events) == (i % 4 != 3)
        assert any(tr.item.label == "figure" for tr in sc.tracks)
        (_, _, (a, b)), = [e for e in sc.events if e[0] == "similar"]
        ta, tb = sc.tracks[a - 1], sc.tracks[b - 1]
        assert (ta.item.class_id, ta.item.colour) == (tb.item.class_id, tb.item.colour)
        gap = np.linalg.norm(ta.path - tb.path, axis=1).min()
        assert gap < 2 * (ta.hi[0] - ta.lo[0])


def test_boxes_are_the_visible_pixels(made):
    sc, frames = made[0]
    checked = 0
    for t in range(0, T, 6):
        scene, (image, boxes) = frame_scene(sc, t), frames[t]
        assert np.array_equal(render(scene), image)
        by_id = {b.track_id: b for b in boxes}
        for obj, ann in zip(scene.objects, annotate(scene)):  # the same boxes as annotate's
            if ann.mask.any():
                assert by_id[obj.track_id].box.tolist() == ann.box.tolist()
                assert by_id[obj.track_id].pixels == ann.mask.sum()
        for b in boxes:
            if not b.consider:
                continue
            without = replace(scene, items=[it for it in scene.items if getattr(it, "track_id", 0) != b.track_id])
            change = np.abs(render(without).astype(int) - image).max(-1)
            ys, xs = np.nonzero(change > 3)  # every pixel the object shows in, even faintly
            got = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            own = next(it for it in scene.items if getattr(it, "track_id", 0) == b.track_id).alpha(SIZE, SIZE) > 0
            alone = not any((it.alpha(SIZE, SIZE)[own] > 0).any() for it in without.items)
            if alone:  # the box of its pixels, give or take the antialiased rim (and blur)
                assert np.abs(got - b.box).max() <= 2, (t, b)
            else:  # covered in part: its visible pixels are in the box, and where it shows
                # strongly is the box, but for the rim beside the edges above it (a few pixels
                # more where the edges of two covering items meet)
                assert (got[:2] <= b.box[:2] + 1).all() and (got[2:] >= b.box[2:] - 1).all(), (t, b)
                x1, y1, x2, y2 = b.box.astype(int)
                strong = change > 30
                assert strong.sum() - strong[max(0, y1 - 2):y2 + 2, max(0, x1 - 2):x2 + 2].sum() <= 3, (t, b)
            checked += alone

    assert checked >= 5


def test_visibility_rule(made):
    for _, frames in made.values():
        for _, boxes in frames:
            for b in boxes:
                assert 0.0 <= b.visibility <= 1.0
                assert b.consider == (b.visibility >= MIN_VISIBLE and b.pixels >= MIN_PIXELS)
                assert b.box[2] > b.box[0] and b.box[3] > b.box[1]  # hidden ones keep their place
        full = [max(b.visibility for _, b in rows) for rows in _tracks(frames).values()]
        assert np.median(full) > 0.9  # whole objects count as whole


def test_written_folders_read_back(tmp_path):
    summary = write_sequences(tmp_path, 2, 12, SEED, size=96, fps=10, progress=False, frames_as="png")
    names = ["shapeworld-5-01", "shapeworld-5-02"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names == summary["sequences"]
    total = 0
    for k, name in enumerate(names):
        seq = tmp_path / name
        frames = list(sequence(SEED, k, 12, 96, fps=10))
        gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        want = [(t + 1, b.track_id, *b.box[:2], *(b.box[2:] - b.box[:2]), int(b.consider), b.class_id + 1,
                 round(b.visibility, 3)) for t, (_, boxes) in enumerate(frames) for b in boxes]
        assert gt.shape == (len(want), 9) and np.allclose(gt, np.array(want, np.float64), atol=5e-4)
        assert set(gt[:, 6]) <= {0, 1} and gt[:, 7].min() >= 1 and gt[:, 7].max() <= len(CATEGORIES)
        total += len(gt)
        info = configparser.ConfigParser()
        info.read(seq / "seqinfo.ini")
        s = info["Sequence"]
        assert (s["name"], s["imDir"], s["frameRate"], s["seqLength"], s["imWidth"], s["imHeight"],
                s["imExt"]) == (name, "img1", "10", "12", "96", "96", ".png")
        capture = cv2.VideoCapture(str(seq / f"{name}.mp4"))
        count = 0
        while capture.read()[0]:
            count += 1
        capture.release()
        assert count == 12
        stills = sorted((seq / "img1").iterdir())
        assert [p.name for p in stills] == [f"{i:06d}.png" for i in range(1, 13)]
        assert np.array_equal(cv2.imread(str(stills[0]))[..., ::-1], frames[0][0])  # PNG: lossless
    assert summary["num_boxes"] == total


def test_a_stopped_write_leaves_no_half_folder(tmp_path, monkeypatch):
    real = mot_folders.sequence

    def stops(*args, **kw):
        for t, frame in enumerate(real(*args, **kw)):
            if t == 3:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(mot_folders, "sequence", stops)
    with pytest.raises(KeyboardInterrupt):
        write_sequences(tmp_path / "out", 1, 8, SEED, size=64, progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_existing_sequence_is_replaced_only_when_asked(tmp_path):
    write_sequences(tmp_path, 1, 2, SEED, size=64, progress=False)
    with pytest.raises(InputError, match="already exists"):
        write_sequences(tmp_path, 1, 2, SEED, size=64, progress=False)
    write_sequences(tmp_path, 1, 3, SEED, size=64, progress=False, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["shapeworld-5-01"]
    assert "seqLength=3" in (tmp_path / "shapeworld-5-01" / "seqinfo.ini").read_text()


def test_cli_writes_a_track_set(tmp_path, capsys):
    out = tmp_path / "mot"
    rc = main(["data", "shapeworld", "--task", "track", "--n", "2", "--frames", "5", "--seed", "3",
               "--size", "64", "--out", str(out), "-q"])
    printed = capsys.readouterr().out
    assert rc == 0 and printed.count("\n") == 1 and "2 sequences of 5 64x64 frames" in printed
    for name in ("shapeworld-3-01", "shapeworld-3-02"):
        assert {p.name for p in (out / name).iterdir()} == {"gt", "seqinfo.ini", f"{name}.mp4"}


@pytest.mark.parametrize("bad", [
    ["--frames", "0"], ["--fps", "0"], ["--size", "16"], ["--seed", "-1"], ["--format", "coco"],
])
def test_cli_rejects_bad_values(tmp_path, capsys, bad):
    rc = main(["data", "shapeworld", "--task", "track", "--n", "1", "--out", str(tmp_path / "x"), "-q", *bad])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("visionkit: error:") and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_cli_track_options_need_the_track_task(tmp_path, capsys):
    rc = main(["data", "shapeworld", "--task", "detect", "--n", "1", "--frames", "5", "--out", str(tmp_path)])
    assert rc == 2 and "--frames is for --task track" in capsys.readouterr().err



def test_training_frames_are_sequence_frames_without_what_the_ground_truth_ignores():
    from visionkit.cards import InputSpec
    from visionkit.data import sequences
    from visionkit.data.scene_arrays import make_scene_arrays

    k = sequences.FRAMES_PER_SEQUENCE
    sc, partly = script(SEED, 1, 100), 0
    truth = [b for t, (_, b) in enumerate(sequence(SEED, 1, 100)) if t % (100 // k) == 0]  # its phase: 0
    for i in range(k):  # frames of sequence 1
        scene = sequences.training_frame(SEED, i)
        assert np.array_equal(render(scene), render(sequences.training_frame(SEED, i)))  # pure
        kept = {b.track_id for b in truth[i] if b.consider}
        assert {o.track_id for o in scene.objects} == kept  # the rest are not painted either
        boxes = sequences._annotations(sc, scene)
        assert all(b.consider for b in boxes)
        partly += sum(b.visibility < 0.6 for b in boxes)  # what multi-object scenes would drop
    assert partly > 0
    arrays = make_scene_arrays([("track", 3, SEED)], InputSpec((224, 224), "NHWC", "uint8"), workers=1)
    assert arrays.images.shape == (3, 224, 224, 3) and (arrays.image_labels == -1).all()
    assert all(len(b) == len(c) > 0 for b, c in zip(arrays.boxes, arrays.classes))
    assert all(s.max() > 0 for s in arrays.semantic)
