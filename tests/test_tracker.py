"""The tracker core of the track plugin: ByteTrack association, Kalman filter, camera motion.

Every case is a deterministic synthetic scene, so each assertion says exactly what behaviour
of ByteTrack (Zhang et al. 2022) it checks.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from visionkit.plugins.track.association import linear_assignment
from visionkit.plugins.track.kalman import CHI2_95, KalmanBoxFilter, xyxy_to_cxcywh
from visionkit.plugins.track.tracker import ByteTracker, TrackerConfig

from visionkit.boxes import box_iou as iou_matrix


def box(cx, cy, w=40.0, h=40.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def frame(*centres, score=0.9):
    """Boxes ``[N, 4]`` and scores for objects at the given centres."""
    b = np.array([box(*c) for c in centres], dtype=np.float64).reshape(-1, 4)
    return b, np.full(len(b), score)


def id_at(out, x, y):
    """Id of the output track whose centre is nearest (x, y)."""
    c = (out.boxes[:, :2] + out.boxes[:, 2:]) / 2
    return int(out.ids[np.argmin(np.hypot(c[:, 0] - x, c[:, 1] - y))])


# ------------------------------------------------------------------ Kalman filter
def test_kalman_batched_and_gating():
    kf = KalmanBoxFilter()
    z = np.array([[100.0, 100, 40, 80], [300, 200, 20, 20]])
    mean, cov = kf.initiate(z)
    for k in range(1, 20):  # both move +3 px/frame in x
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, z + [3 * k, 0, 0, 0])
    assert np.allclose(mean[:, 4], 3.0, atol=0.3) and np.allclose(mean[:, 5:], 0.0, atol=0.3)
    one = kf.predict(*kf.update(*kf.predict(mean[1:], cov[1:]), z[1:] + [60, 0, 0, 0]))
    both = kf.predict(*kf.update(*kf.predict(mean, cov), z + [60, 0, 0, 0]))
    assert np.allclose(one[0], both[0][1:]) and np.allclose(one[1], both[1][1:])  # rows are independent
    pred, _ = kf.predict(mean, cov)
    d = kf.gating_distance(pred, _, np.array([pred[0, :4], pred[0, :4] + [50, 0, 0, 0]]))
    assert d.shape == (2, 2) and d[0, 0] < 1e-6 and d[0, 1] > CHI2_95[4]
    assert np.all(np.linalg.eigvalsh(cov) > 0)  # covariances stay positive definite


def test_assignment_respects_threshold():
    cost = np.array([[0.1, 0.9], [0.95, 0.85]])
    r, c = linear_assignment(cost, 0.8)
    assert list(zip(r, c)) == [(0, 0)]  # (1, 1) costs more than leaving both unmatched
    r, c = linear_assignment(np.zeros((0, 3)), 0.8)
    assert len(r) == len(c) == 0
    iou = iou_matrix(np.array([box(0, 0)]), np.array([box(0, 0), box(20, 0), box(100, 0)]))
    assert iou.round(3).tolist() == [[1.0, 0.333, 0.0]]


# ------------------------------------------------------------------ association
def crossing(tracker, with_emb, n=60):
    """A moves right, B moves left, 10 px apart vertically: they overlap for several frames."""
    emb = np.eye(2, 16, dtype=np.float32)  # A and B look different
    first = last = None
    for k in range(n):
        b, s = frame((100 + 5 * k, 200), (400 - 5 * k, 210))
        out = tracker.update(b, s, None, emb if with_emb else None, fps=30)
        if k == 0:
            first = (id_at(out, 100, 200), id_at(out, 400, 210))
        last = out
    return first, (id_at(last, 100 + 5 * (n - 1), 200), id_at(last, 400 - 5 * (n - 1), 210))


@pytest.mark.parametrize("with_emb", [False, True])
@pytest.mark.parametrize("gate", [False, True])
def test_crossing_objects_keep_ids(with_emb, gate):
    first, last = crossing(ByteTracker(TrackerConfig(motion_gate=gate)), with_emb)
    assert first == last and first[0] != first[1]


def test_appearance_keeps_ids_where_motion_cannot():
    """Two objects meet and both turn back: the motion model expects them to pass each other,
    so IoU alone swaps them; their appearance does not change, so embeddings keep them."""
    emb = np.eye(2, 16, dtype=np.float32)

    def run(with_emb):
        tr = ByteTracker()
        for k in range(41):
            x = 5 * min(k, 40 - k)  # approach until they coincide at k = 20, then retreat
            b, sc = frame((200 + x, 200), (400 - x, 200))
            out = tr.update(b, sc, embeddings=emb if with_emb else None, fps=30)
            if k == 0:
                ids = (id_at(out, 200, 200), id_at(out, 400, 200))
        return ids, (id_at(out, 200, 200), id_at(out, 400, 200))

    ids, end = run(True)
    assert ids == end
    ids, end = run(False)
    assert ids == end[::-1]  # the failure the appearance term exists for


def occlusion(gap_s, fps, timestamps=False):
    """An object seen for 30 frames, hidden for ``gap_s`` seconds, seen again: (ids before, after)."""
    tr = ByteTracker()
    n_gap = round(gap_s * fps)
    ids = []
    for k in range(30 + n_gap + 10):
        x = 100 + 60.0 * k / fps  # 60 px/s whatever the frame rate
        visible = k < 30 or k >= 30 + n_gap
        b, s = frame((x, 200)) if visible else frame()
        kw = {"timestamp_s": k / fps} if timestamps else {"fps": fps}
        out = tr.update(b, s, **kw)
        if visible and len(out):
            ids.append(int(out.ids[0]))
    return ids[0], ids[-1]


@pytest.mark.parametrize("fps", [10, 30])
@pytest.mark.parametrize("timestamps", [False, True])
def test_occlusion_buffer_in_seconds(fps, timestamps):
    before, after = occlusion(0.7, fps, timestamps)  # within the 1 s buffer: the same id
    assert before == after
    before, after = occlusion(1.5, fps, timestamps)  # 15 frames at 10 fps: a frame count of 30 would keep it
    assert after != before


def test_low_score_boxes_keep_a_track_alive():
    """ByteTrack's second pass: a 0.3-score box (occluded object) keeps the track, 60 frames long."""
    def run(cfg):
        tr, seen = ByteTracker(cfg), []
        for k in range(100):
            score = 0.3 if 20 <= k < 80 else 0.9
            out = tr.update(*frame((100 + 2 * k, 200), score=score), fps=30)
            seen.append(out.ids.tolist())
        return seen

    seen = run(TrackerConfig())
    assert all(ids == [1] for ids in seen)  # reported in every frame, one id throughout
    seen = run(TrackerConfig(low_thresh=0.35))  # without the second pass the track is lost...
    assert seen[50] == [] and seen[-1] == [2]  # ...and a new id follows after the buffer


def test_tentative_confirmation_and_first_frame():
    tr = ByteTracker(TrackerConfig(min_hits=3))
    out = tr.update(*frame((100, 100)), fps=30)
    assert out.ids.tolist() == [1]  # first frame of a stream: confirmed at once
    flicker = tr.update(*frame((100, 100), (400, 400)), fps=30)
    assert flicker.ids.tolist() == [1]
    assert [t.state for t in tr.tracks(("tentative",))] == ["tentative"]
    tr.update(*frame((100, 100)), fps=30)  # the flicker missed once: removed while tentative
    assert len(tr) == 1
    got = [tr.update(*frame((100, 100), (600, 300)), fps=30).ids.tolist() for _ in range(4)]
    assert got == [[1], [1], [1, 2], [1, 2]]  # output from the third hit, next id without a gap
    rec = {t.id: t for t in tr.tracks()}[2]
    assert rec.hits == 4 and rec.age == 4 and rec.state == "tracked" and len(rec.trail) == 4


def test_ids_never_reused_and_reset():
    tr, seen = ByteTracker(), []
    for obj in range(6):  # one object after another, each gone longer than the buffer
        for k in range(20):
            seen += tr.update(*frame((100 + 50 * obj + k, 100)), fps=30).ids.tolist()
        for _ in range(40):
            tr.update(*frame(), fps=30)
    order = list(dict.fromkeys(seen))
    assert order == [1, 2, 3, 4, 5, 6]
    tr.reset()  # a new source: ids are per source
    assert tr.update(*frame((10, 10)), fps=30).ids.tolist() == [1] and len(tr) == 1


def test_class_aware_matching():
    b, s = frame((100, 100))
    for aware, expect in ((True, [2]), (False, [1])):
        tr = ByteTracker(TrackerConfig(class_aware=aware, min_hits=1))
        tr.update(b, s, [0], fps=30)
        assert tr.update(b, s, [1], fps=30).ids.tolist() == expect



def test_without_classes_two_labels_on_one_object_make_one_track():
    b = np.array([box(100, 100), box(102, 101), box(200, 200)])  # one object read as two classes
    s, c = np.array([0.9, 0.8, 0.9]), np.array([0, 1, 0])
    tr = ByteTracker(TrackerConfig(min_hits=1))
    for _ in range(3):
        out = tr.update(b, s, c, fps=30)
    assert sorted(out.ids.tolist()) == [1, 2] and len(tr) == 2
    assert np.allclose(out.boxes[np.argsort(out.ids)][0], box(100, 100), atol=1)
    aware = ByteTracker(TrackerConfig(min_hits=1, class_aware=True))
    for _ in range(3):
        out = aware.update(b, s, c, fps=30)
    assert len(out) == 3  # with classes, each class keeps its own track

# ------------------------------------------------------------------ bad input and scale
def test_bad_boxes_are_dropped_and_counted():
    tr = ByteTracker()
    good = box(100, 100)
    boxes = np.array([good, [np.nan, 0, 10, 10], [0, 0, np.inf, 10], [50, 50, 40, 60], [5, 5, 5, 9],
                      box(300, 300)])  # NaN, inf, x2 < x1, zero width, and a NaN score
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.9, np.nan])
    emb = np.ones((6, 8), np.float32)
    emb[0, 0] = np.nan  # a broken embedding keeps the box, without appearance
    out = tr.update(boxes, scores, np.zeros(6, int), emb, fps=None)
    assert out.info["dropped"] == 5 and out.info["fps_fallback"] and tr.fps_fallback_used
    assert len(out) == 1 and np.allclose(out.boxes[0], good)
    out = tr.update(np.zeros((0, 4)), np.zeros(0), fps=0)
    assert out.info["dropped"] == 0 and len(out) == 0
    with pytest.raises(ValueError):
        tr.update(np.zeros((2, 4)), np.zeros(3))


def test_a_thousand_detections_in_one_frame():
    gx, gy = np.meshgrid(np.arange(40), np.arange(25))
    centres = np.stack([gx.ravel() * 50 + 30, gy.ravel() * 50 + 30], 1).astype(float)  # 1,000 apart
    tr = ByteTracker()
    t0 = time.perf_counter()
    first = tr.update(*frame(*centres), fps=30)
    second = tr.update(*frame(*(centres + 3)), fps=30)
    assert time.perf_counter() - t0 < 5.0  # generous for a loaded 2-core machine; ~0.2 s here
    assert len(first) == len(second) == 1000 and np.array_equal(np.sort(second.ids), np.arange(1, 1001))
    rng = np.random.default_rng(1)  # 1,000 heavily overlapping boxes: must not crash
    xy = rng.uniform(0, 300, (1000, 2))
    out = tr.update(np.concatenate([xy, xy + rng.uniform(5, 60, (1000, 2))], 1), rng.random(1000), fps=30)
    assert len(out) <= 1000


def test_a_thousand_empty_frames_empty_the_tracker():
    tr = ByteTracker()
    for k in range(30):
        tr.update(*frame((100 + k, 100), (300, 300 + k)), fps=30)
    assert len(tr) == 2
    for k in range(1000):
        out = tr.update(None, None, fps=30) if k % 2 else tr.update(np.zeros((0, 4)), np.zeros(0), fps=30)
        assert len(out) == 0
        if k == 40:
            assert len(tr) == 0  # gone once the 1 s buffer passed, not at the end of the stream
    assert len(tr) == 0 and tr.frame == 1030


def test_memory_flat_over_a_long_stream():
    """10,000 frames, objects entering and leaving all the time: internal tracks stay bounded."""
    rng = np.random.default_rng(0)
    objs = []  # [x, y, vx, vy, frames left]
    tr, peak, ids = ByteTracker(), 0, set()
    for k in range(10_000):
        if rng.random() < 0.1:
            objs.append([*rng.uniform(0, 1000, 2), *rng.normal(0, 2, 2), rng.integers(20, 120)])
        for o in objs:
            o[0] += o[2]
            o[1] += o[3]
            o[4] -= 1
        objs = [o for o in objs if o[4] > 0]
        out = tr.update(*frame(*[(o[0], o[1]) for o in objs]), fps=30)
        ids.update(out.ids.tolist())
        peak = max(peak, len(tr))
    assert len(ids) > 500  # about a thousand objects came and went
    assert peak < 40  # about 7 alive at a time, plus those lost within the last second
    assert tr._t.trail.shape[0] == len(tr)  # nothing kept for removed tracks


# ------------------------------------------------------------------ camera motion
def test_camera_motion_recovers_a_translation_and_applies_it():
    cv2 = pytest.importorskip("cv2")
    from visionkit.plugins.track.cmc import IDENTITY, CameraMotion

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur((rng.random((360, 640)) * 255).astype(np.uint8), (0, 0), 2.0)
    img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    shift = np.float32([[1, 0, 9], [0, 1, -5]])
    moved = cv2.warpAffine(img, shift, (640, 360), borderMode=cv2.BORDER_REFLECT)
    cmc = CameraMotion(max_side=320, budget_ms=None)
    assert np.array_equal(cmc.estimate(np.dstack([img] * 3)), IDENTITY)  # first frame: nothing to compare
    m = cmc.estimate(np.dstack([moved] * 3))
    assert not cmc.failed and np.allclose(m, shift, atol=0.3), m
    # a new frame size restarts; a blank frame has no corners: identity, flagged as a failure
    assert np.array_equal(cmc.estimate(np.zeros((100, 100, 3), np.uint8)), IDENTITY) and not cmc.failed
    assert np.array_equal(cmc.estimate(np.zeros((100, 100, 3), np.uint8)), IDENTITY) and cmc.failed

    tight = CameraMotion(max_side=320, budget_ms=1e-6)  # every estimate is over budget
    tight.estimate(img)
    assert tight.estimate(moved).shape == (2, 3) and tight.last_ms > 0
    assert tight.estimate(moved) is not None and tight.skipped  # the frames after skip it

    tr = ByteTracker()
    tr.update(*frame((100, 100)), fps=30)
    tr.apply_affine(m)  # the camera panned: the track follows the background
    out = tr.update(*frame((109, 95)), fps=30)
    assert out.ids.tolist() == [1] and np.allclose(xyxy_to_cxcywh(out.boxes)[0, :2], [109, 95], atol=0.5)


def test_a_track_lost_where_its_motion_misleads_is_found_again_by_its_looks():
    """Behind an occluder the object turns back: its box comes out 60 px from where the motion
    model looks for it. Looking alike within the wide re-ID gate, it keeps its id; without
    vectors, or looking different, it is a new object."""
    me, other = np.eye(8, dtype=np.float32)[0:1], np.eye(8, dtype=np.float32)[1:2]

    def run(vector):
        tr = ByteTracker(TrackerConfig(min_hits=1))
        for t in range(10):  # moving right, 3 px a frame
            out = tr.update(*frame((100 + 3 * t, 100)), np.zeros(1, np.int64), me, fps=25)
        first = int(out.ids[0])
        for _ in range(8):  # hidden
            tr.update(np.zeros((0, 4)), np.zeros(0), fps=25)
        out = tr.update(*frame((95, 100)), np.zeros(1, np.int64), vector, fps=25)
        return first, (int(out.ids[0]) if len(out) else None), tr

    first, again, _ = run(me)
    assert again == first
    first, again, _ = run(None)
    assert again is not None and again != first
    first, again, _ = run(other)
    assert again is not None and again != first
