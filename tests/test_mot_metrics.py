"""Tracking metrics and MOTChallenge files (plugins/track/metrics.py, visionkit/data/mot.py).

CLEAR MOT and IDF1 must reproduce py-motmetrics' published values on the TUD sequences; HOTA
is checked on cases small enough to work out by hand from Luiten et al.'s definition (each
derivation is in the test's comments), and pinned on TUD; then file round trips, malformed
lines and edge cases."""

import json
import time

import numpy as np
import pytest

from visionkit.errors import InputError
from visionkit.plugins.track.metrics import ALPHAS, combine, evaluate, evaluate_sequence, format_table
from visionkit.data.mot import (MotSequence, SeqInfo, make_frame, read_mot, read_seqinfo,
                                            write_mot, write_seqinfo)

from .conftest import realworld

SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
COUNTS = {"num_unique_objects", "mostly_tracked", "partially_tracked", "mostly_lost",
          "num_false_positives", "num_misses", "num_switches", "num_fragmentations"}

TRACKEVAL_HOTA = {"TUD-Campus": (0.391397, 0.418047, 0.369121, 0.770052),
                  "TUD-Stadtmitte": (0.397849, 0.392268, 0.408841, 0.737521),
                  "OVERALL": (0.399957, 0.397683, 0.412450, 0.732480)}


@pytest.fixture(scope="module")
def tud():
    folder = realworld("metrics", "mot_tud")
    expected = json.loads((folder / "expected_motmetrics.json").read_text())
    seqs = {name: (read_mot(folder / name / "gt.txt", gt=True), read_mot(folder / name / "test.txt"))
            for name in SEQUENCES}
    return expected, {r.name: r for r in evaluate(seqs)}


@pytest.mark.parametrize("name", SEQUENCES + ("OVERALL",))
def test_clear_and_identity_reproduce_py_motmetrics(tud, name):
    expected, results = tud
    got = results[name].to_dict()
    for column, value in zip(expected["columns"], expected[name]):
        if column in COUNTS:
            assert got[column] == value, column
        else:  # the reference is printed to 6 decimals
            assert got[column] == pytest.approx(value, abs=1e-6), column
    if name != "OVERALL":
        assert got["num_objects"] == expected["num_objects"][name]
        assert got["num_frames"] == expected["num_frames"][name]
    # MOTChallenge's MOTP is the mean IoU of the matches, py-motmetrics' the mean distance
    assert got["motp_iou"] == pytest.approx(1 - got["motp"])
    # HOTA has no reference file here: these are TrackEval 1.3.0's HOTA class (eval_sequence,
    # combine_sequences) run on the same boxes when this module was written, kept as a pin
    for key, value in zip(("hota", "deta", "assa", "loca"), TRACKEVAL_HOTA[name]):
        assert got[key] == pytest.approx(value, abs=1e-6), key


def test_table_lists_every_sequence_and_the_combined_row(tud):
    table = format_table(list(tud[1].values())).splitlines()
    assert [line.split()[0] for line in table] == ["Sequence", *SEQUENCES, "OVERALL"]
    assert table[-1].split()[5] == "55.5"  # MOTA of OVERALL, in percent


def boxes_track(n, x=0.0, start=1):
    """A 10x10 box standing still at (x, 0) in frames start .. start + n - 1."""
    return {f: np.array([[x, 0.0, 10.0, 10.0]]) for f in range(start, start + n)}


def seq(*tracks):
    """{frame: (ids, boxes)} from (id, {frame: box}) tracks."""
    out = {}
    for tid, frames in tracks:
        for f, box in frames.items():
            ids, boxes = out.get(f, (np.zeros(0, int), np.zeros((0, 4))))
            out[f] = (np.r_[ids, tid], np.r_[boxes, box])
    return out


def test_hota_of_perfect_tracking_is_one():
    # Every gt box has a prediction of IoU 1 with a consistent id: at every alpha TP = all,
    # FN = FP = 0, so DetA = 1, and each pair of tracks has TPA = its length, FNA = FPA = 0,
    # so AssA = 1; HOTA = sqrt(1 * 1) = 1 and LocA = mean IoU = 1.
    gt = seq((1, boxes_track(10, 0)), (2, boxes_track(10, 50)))
    pred = seq((7, boxes_track(10, 0)), (9, boxes_track(10, 50)))
    r = evaluate_sequence(gt, pred)
    for key in ("hota", "deta", "assa", "loca", "detre", "detpr", "assre", "asspr", "idf1", "mota"):
        assert getattr(r, key) == pytest.approx(1.0), key
    assert r.motp == 0 and r.num_switches == 0


def test_hota_of_one_id_switch_halfway():
    # One object over 10 frames, predicted exactly, as id 1 in frames 1-5 and id 2 in 6-10.
    # Detection is perfect at every alpha: DetA = 1. Each TP of the pair (gt, 1) has TPA = 5,
    # FNA = 10 - 5 (the gt frames given to id 2), FPA = 5 - 5 = 0: A = 5/10; the same for
    # (gt, 2). AssA = 0.5, HOTA = sqrt(0.5). AssRe = 5/10 = 0.5, AssPr = 5/5 = 1.
    gt = seq((1, boxes_track(10)))
    pred = seq((1, boxes_track(5)), (2, boxes_track(5, start=6)))
    r = evaluate_sequence(gt, pred)
    assert r.deta == pytest.approx(1.0) and r.assa == pytest.approx(0.5)
    assert r.hota == pytest.approx(np.sqrt(0.5))
    assert r.assre == pytest.approx(0.5) and r.asspr == pytest.approx(1.0)
    # CLEAR: one switch, MOTA = 1 - 1/10; IDF1: the best track pair shares 5 of 10 + 10 boxes
    assert r.num_switches == 1 and r.mota == pytest.approx(0.9)
    assert r.idf1 == pytest.approx(2 * 5 / 20)


def test_hota_with_a_constant_offset_depends_on_alpha():
    # A 10x10 box predicted 2 px to the right in each of 4 frames: IoU = 8*10 / (200 - 80) = 2/3.
    # For the 13 alphas 0.05 .. 0.65 every pair is a TP: DetA = AssA = HOTA = 1 there. For the
    # 6 alphas 0.70 .. 0.95 there is no TP (FN = FP = 4): DetA = AssA = HOTA = 0. The means are
    # 13/19. LocA is 2/3 where TPs exist and, as TrackEval defines it, 1 where none do:
    # (13 * 2/3 + 6) / 19.
    gt = seq((1, boxes_track(4)))
    pred = seq((5, boxes_track(4, x=2.0)))
    r = evaluate_sequence(gt, pred)
    per_alpha = np.array(r.to_dict()["hota_alpha"])
    assert per_alpha.tolist() == [1.0] * 13 + [0.0] * 6 and ALPHAS[12] < 2 / 3 < ALPHAS[13]
    for key in ("hota", "deta", "assa", "detre", "detpr"):
        assert getattr(r, key) == pytest.approx(13 / 19), key
    assert r.loca == pytest.approx((13 * 2 / 3 + 6) / 19)
    # CLEAR matches at IoU >= 0.5: MOTP (distance) 1/3, MOTChallenge's MOTP 2/3
    assert r.motp == pytest.approx(1 / 3) and r.motp_iou == pytest.approx(2 / 3)


def test_hota_counts_false_positives_in_deta_only():
    # Perfect track of 10 frames plus a far-away predicted track of 10 frames: TP = 10, FP = 10,
    # FN = 0, so DetA = 10/20 = 0.5, DetRe = 1, DetPr = 0.5; the one matched pair is fully
    # associated (AssA = 1), so HOTA = sqrt(0.5).
    gt = seq((1, boxes_track(10)))
    pred = seq((1, boxes_track(10)), (2, boxes_track(10, x=500)))
    r = evaluate_sequence(gt, pred)
    assert (r.deta, r.detre, r.detpr, r.assa) == pytest.approx((0.5, 1.0, 0.5, 1.0))
    assert r.hota == pytest.approx(np.sqrt(0.5))


def test_fragmentation_and_track_ratios_follow_py_motmetrics():
    # Tracked in frames 1-3 and 6-8, missed in 4-5 and 9-10: one fragmentation (a trailing miss
    # is not resumed), ratio 6/10 -> partially tracked. A second object tracked in 2 of its 10
    # frames (ratio exactly 0.2) is partially tracked too: py-motmetrics' ML is ratio < 0.2.
    gt = seq((1, boxes_track(10)), (2, boxes_track(10, x=100)))
    hits = {f: b for f, b in boxes_track(10).items() if f in (1, 2, 3, 6, 7, 8)}
    pred = seq((1, hits), (2, boxes_track(2, x=100)))
    r = evaluate_sequence(gt, pred)
    assert r.num_fragmentations == 1
    assert (r.mostly_tracked, r.partially_tracked, r.mostly_lost) == (0, 2, 0)


def test_empty_ground_truth_and_empty_predictions():
    track = seq((1, boxes_track(5)))
    no_gt = evaluate_sequence({}, track)
    assert (no_gt.num_false_positives, no_gt.num_misses, no_gt.hota, no_gt.precision) == (5, 0, 0.0, 0.0)
    assert no_gt.to_dict()["mota"] is None and no_gt.to_dict()["recall"] is None  # undefined
    no_pred = evaluate_sequence(track, {})
    assert (no_pred.num_misses, no_pred.mota, no_pred.recall, no_pred.hota) == (5, 0.0, 0.0, 0.0)
    assert no_pred.loca == 1.0 and no_pred.to_dict()["precision"] is None
    nothing = evaluate_sequence({}, {}, "empty")
    assert nothing.num_frames == 0 and nothing.hota == 0.0
    json.dumps(nothing.to_dict())  # JSON-safe even where every ratio is undefined
    assert "empty" in format_table([nothing, combine([nothing])])


def test_frames_present_in_only_one_side():
    # gt in frames 1-10, predictions (exact boxes) in 6-15: 5 matches, 5 misses, 5 FPs.
    # MOTA = 1 - (5 + 5) / 10 = 0. HOTA: DetA = 5 / (5 + 5 + 5) = 1/3; the one track pair has
    # TPA = 5, FNA = 5, FPA = 5: AssA = 1/3; HOTA = 1/3.
    gt = seq((1, boxes_track(10)))
    pred = seq((3, boxes_track(10, start=6)))
    r = evaluate_sequence(gt, pred)
    assert (r.num_frames, r.num_detections, r.num_misses, r.num_false_positives) == (15, 5, 5, 5)
    assert r.mota == pytest.approx(0.0)
    assert (r.hota, r.deta, r.assa) == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_combined_sums_counts_and_recomputes_ratios():
    a = evaluate_sequence(seq((1, boxes_track(10))), seq((1, boxes_track(10))), "a")
    b = evaluate_sequence(seq((1, boxes_track(10))), {}, "b")
    both = combine([a, b])
    assert both.name == "OVERALL" and both.num_objects == 20 and both.recall == pytest.approx(0.5)
    # TrackEval: TP/FN/FP summed (DetA 10/20), AssA weighted by TP (= a's 1.0)
    assert (both.deta, both.assa) == pytest.approx((0.5, 1.0))


def test_a_long_sequence_evaluates_quickly():
    rng = np.random.default_rng(0)
    pos, size = rng.uniform(0, 2000, (50, 2)), rng.uniform(20, 80, (50, 2))
    gt = {f: (np.arange(50), np.c_[pos + f, size]) for f in range(1, 1001)}
    pred = {f: (np.arange(50) + 3, np.c_[pos + f + rng.normal(0, 2, (50, 2)), size]) for f in range(1, 1001)}
    start = time.perf_counter()
    r = evaluate_sequence(gt, pred)
    assert time.perf_counter() - start < 10  # about 0.5 s here; a generous bound for busy machines
    assert r.num_objects == 50_000 and r.idf1 > 0.9


def test_mot_round_trip(tmp_path):
    frames = {1: make_frame([3, 1], [[1.5, 2.25, 30.125, 40.0], [100, 200, 10, 20]], conf=[0.9, 1],
                            cls=[1, 2], vis=[0.5, 1.0]),
              7: make_frame([2], [[0.1, 0.2, 0.3, 0.4]])}
    path = tmp_path / "track.txt"
    write_mot(path, frames)
    assert path.read_text().splitlines()[0] == "1,1,100,200,10,20,1,2,1,-1"  # by frame, then id
    back = read_mot(path)
    assert sorted(back.frames) == [1, 7] and (back.dropped, back.ignored) == (0, 0)
    assert back.frames[1].ids.tolist() == [1, 3]
    np.testing.assert_array_equal(back.frames[1].boxes, [[100, 200, 10, 20], [1.5, 2.25, 30.125, 40]])
    np.testing.assert_array_equal(back.frames[1].conf, [1, 0.9])
    np.testing.assert_array_equal(back.frames[7].boxes, frames[7].boxes)  # exact, not rounded
    assert back.frames[7].cls.tolist() == [-1.0] and back.frames[7].vis.tolist() == [-1.0]


def test_gt_flags_short_rows_and_bad_boxes(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,0,0,10,10,1,1,0.8\n"  # full MOT16 row
                    "1,2,5,5,10,10,0,1,1\n"  # flagged 0: ignore
                    "2,1,0,0,10,10\n"  # no conf/class/visibility columns
                    "2,3,nan,0,10,10,1\n"  # NaN box: dropped
                    "3,1,0,0,-4,10,1\n"  # negative size: dropped
                    "\n")
    s = read_mot(path, gt=True)
    assert (s.ignored, s.dropped, s.num_boxes) == (1, 2, 2)
    assert s.frames[1].vis.tolist() == [0.8] and s.frames[2].conf.tolist() == [1.0]
    assert s.frames[2].cls.tolist() == [-1.0] and 3 not in s.frames
    assert read_mot(path).num_boxes == 3  # as tracker output, conf 0 is just a score


@pytest.mark.parametrize("line, reason", [
    ("1,2,3", "expected at least 6 values"),
    ("1,2,3,4,five,6", "'five' is not a number"),
    ("0,1,0,0,10,10", "not an integer >= 1"),
    ("1.5,1,0,0,10,10", "not an integer >= 1"),
    ("1,2.5,0,0,10,10", "id 2.5 is not an integer"),
    ("1,1,5,5,5,5", "id 1 appears twice in frame 1 (first on line 1)"),
])
def test_malformed_lines_name_file_and_line(tmp_path, line, reason):
    path = tmp_path / "bad.txt"
    path.write_text(f"1,1,0,0,10,10,1\n{line}\n")
    with pytest.raises(InputError) as err:
        read_mot(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2: ") and reason in message and "\n" not in message


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_mot(tmp_path / "missing.txt")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="not a text file"):
        read_mot(tmp_path / "binary.txt")


def test_seqinfo_round_trip_and_errors(tmp_path):
    info = SeqInfo(name="MOT17-02", seq_length=600, frame_rate=30, im_width=1920, im_height=1080)
    path = tmp_path / "seqinfo.ini"
    write_seqinfo(path, info)
    assert "seqLength=600" in path.read_text() and "frameRate=30" in path.read_text()
    assert read_seqinfo(path) == info
    path.write_text("[Sequence]\nname=x\nimExt=.png\n")
    with pytest.raises(InputError, match="has no seqLength"):
        read_seqinfo(path)
    path.write_text("[Sequence]\nname=x\nseqLength=ten\n")
    with pytest.raises(InputError, match="seqLength='ten' is not a valid number"):
        read_seqinfo(path)
    path.write_text("name=x\n")
    with pytest.raises(InputError, match="not an INI file"):
        read_seqinfo(path)


def test_metrics_take_sequences_and_reject_ambiguous_frames(tmp_path):
    path = tmp_path / "t.txt"
    write_mot(path, MotSequence({1: make_frame([1], [[0, 0, 10, 10]])}))
    s = read_mot(path)
    assert evaluate_sequence(s, s).idf1 == 1.0
    with pytest.raises(InputError, match="an id appears twice"):
        evaluate_sequence({1: ([1, 1], [[0, 0, 1, 1], [2, 2, 1, 1]])}, {})
    with pytest.raises(InputError, match="NaN or infinite"):
        evaluate_sequence({1: ([1], [[np.nan, 0, 1, 1]])}, {})
