"""ByteTrack multi-object tracking over a batched Kalman filter (numpy + scipy only).

Every detection box counts (Zhang et al. 2022): high-score boxes are matched first to all
confirmed tracks, then the low-score boxes, which are mostly occluded objects, keep the
still-unmatched tracked tracks alive instead of being thrown away. Optional appearance
embeddings are fused with IoU the way BoT-SORT does (Aharon et al. 2022), with an EMA feature
per track. Tracks live in struct-of-arrays form, so a frame costs a fixed number of numpy calls
rather than a Python loop per track.

References:
    Y. Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box",
    ECCV 2022 (arXiv:2110.06864).
    N. Aharon et al., "BoT-SORT: Robust Associations Multi-Pedestrian Tracking", arXiv:2206.14651.
    A. Bewley et al., "Simple Online and Realtime Tracking" (SORT), ICIP 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from visionkit.boxes import box_iou

from .association import linear_assignment
from .kalman import CHI2_95, KalmanBoxFilter, cxcywh_to_xyxy, xyxy_to_cxcywh

TENTATIVE, TRACKED, LOST = 0, 1, 2
STATE_NAMES = ("tentative", "tracked", "lost")


@dataclass
class TrackerConfig:
    """Thresholds of the ByteTrack association; ``*_match`` values are costs (1 - IoU)."""

    high_thresh: float = 0.5       # ByteTrack's track_thresh: boxes above are sure enough for pass 1
    low_thresh: float = 0.1        # below this a box is noise even for the second pass
    new_track_thresh: float = 0.6  # high + 0.1 as ByteTrack: a track is born only from a confident box
    match_thresh: float = 0.8      # pass 1 accepts IoU >= 0.2: fast motion still overlaps a little
    second_match_thresh: float = 0.5  # low boxes are ambiguous: demand IoU >= 0.5 to trust them
    tentative_match_thresh: float = 0.7  # ByteTrack's value for unconfirmed tracks (IoU >= 0.3)
    # three consecutive hits (SORT's choice) before an id is given: a one- or two-frame flicker
    # of a small detection head never becomes a track; it costs two frames of latency
    min_hits: int = 3
    track_buffer_s: float = 1.0    # a lost track waits this long (30 frames at 30 fps, as ByteTrack)
    default_fps: float = 30.0      # used when neither timestamps nor a valid fps are given
    # a box may continue a track of another class: a half-hidden shape's class flickers from
    # frame to frame (ByteTrack associates whatever the class, as most MOT trackers do)
    class_aware: bool = False
    # without classes, boxes of two classes overlapping this much are one object read two ways
    # (a detector's per-class NMS keeps both): the weaker one would start a second track
    one_object_iou: float = 0.6
    feature_momentum: float = 0.9  # EMA weight of the old appearance feature (BoT-SORT's alpha)
    appearance_thresh: float = 0.25  # half cosine distance above which appearance is ignored
    proximity_thresh: float = 0.5  # appearance only counts where IoU cost is below this (IoU > 0.5)
    motion_gate: bool = False      # also veto pairs beyond the Kalman chi-square gate (DeepSORT)
    dedupe_iou: float = 0.85       # a tracked and a lost track overlapping this much are one object
    recover_lost: bool = True      # lost tracks also take boxes inside their motion gate (see _recover)
    reid_gate: float = 16.0        # ... or, looking alike, inside 4x the gate's radius (16x its square)
    trail_len: int = 30            # past centres kept per track for drawing


def _one_label_per_object(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Rows kept, in order, once every box that overlaps a better-scored kept box *of another
    class* by more than ``iou`` is left out. Boxes of one class were the detector's NMS's to
    judge: two that both survived it are two objects (a crossing)."""
    order = np.argsort(-scores, kind="stable")
    cls = classes[order]
    clash = np.triu((box_iou(boxes[order], boxes[order]) > iou) & (cls[:, None] != cls[None, :]), 1)
    keep = np.ones(len(order), bool)
    for j in np.flatnonzero(clash.any(0)):  # ascending: every better box's fate is settled
        keep[j] = not (clash[:j, j] & keep[:j]).any()
    return np.sort(order[keep])


@dataclass(frozen=True)
class Track:
    """One track as a plain record (``Tracker.tracks()``), for painters and writers."""

    id: int                 # 0 while tentative: ids are given on confirmation, so none are wasted
    box: tuple              # Kalman-corrected (x1, y1, x2, y2), pixels
    cls: int
    score: float
    age: int                # frames since the track started, the first included
    hits: int
    time_since_update: int  # frames
    state: str
    trail: np.ndarray       # [k, 2] past centres, oldest first


@dataclass(frozen=True)
class TrackerOutput:
    """Confirmed tracks matched in this frame, as arrays of length M, and frame info."""

    ids: np.ndarray
    boxes: np.ndarray       # [M, 4] xyxy
    classes: np.ndarray
    scores: np.ndarray
    ages: np.ndarray
    hits: np.ndarray
    trails: np.ndarray      # [M, trail_len, 2], oldest first, NaN where not yet filled
    info: dict = field(default_factory=dict)  # frame, time_s, dropped, fps_fallback, counts

    def __len__(self) -> int:
        return len(self.ids)


class _Tracks:
    """Struct of arrays: row i of every field belongs to the same track."""

    FIELDS = ("mean", "cov", "ids", "cls", "score", "age", "hits", "tsu", "last_t", "state",
              "feat", "has_feat", "trail", "ptr")

    def __init__(self, n: int = 0, trail_len: int = 30, dim: int = 0):
        self.mean, self.cov = np.zeros((n, 8)), np.zeros((n, 8, 8))
        ints = (np.zeros(n, np.int64) for _ in range(6))
        self.ids, self.cls, self.age, self.hits, self.tsu, self.ptr = ints
        self.score, self.last_t, self.state = np.zeros(n), np.zeros(n), np.zeros(n, np.int8)
        self.feat, self.has_feat = np.zeros((n, dim), np.float32), np.zeros(n, bool)
        self.trail = np.full((n, trail_len, 2), np.nan, np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, mask: np.ndarray) -> None:
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def extend(self, other: _Tracks) -> None:
        for name in self.FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))


class ByteTracker:
    """ByteTrack with optional appearance fusion; one instance per video source.

    Ids are per source: they increase by one for each confirmed track and are never reused
    within a stream; ``reset()`` (a new source, or a seek) forgets all tracks and starts ids at
    1 again, the way MOT files number each sequence. Removed tracks are forgotten at once, so
    memory stays flat on any length of stream. For camera-motion compensation, call
    ``apply_affine(M)`` with the previous-to-current frame warp before ``update()``.
    """

    def __init__(self, config: TrackerConfig | None = None, kalman: KalmanBoxFilter | None = None):
        self.config = config or TrackerConfig()
        self.kf = kalman or KalmanBoxFilter()
        self.fps_fallback_used = False  # sticky note: time was inferred from default_fps at least once
        self.reset()

    def reset(self) -> None:
        """New stream: no tracks, frame count, clock and ids start again."""
        self._t = _Tracks(0, self.config.trail_len)
        self.frame, self.time_s, self._next_id = 0, 0.0, 1

    # ---------------------------------------------------------------- input
    def _clean(self, boxes, scores, classes, embeddings):
        b = np.asarray(boxes if boxes is not None else np.zeros((0, 4)), dtype=np.float64).reshape(-1, 4)
        s = np.asarray(scores if scores is not None else np.ones(len(b)), dtype=np.float64).reshape(-1)
        c = np.zeros(len(b), np.int64) if classes is None else np.asarray(classes).reshape(-1)
        if not (len(s) == len(c) == len(b)):
            raise ValueError(f"boxes ({len(b)}), scores ({len(s)}) and classes ({len(c)}) differ in length")
        ok = np.isfinite(b).all(1) & np.isfinite(s) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        if c.dtype.kind == "f":
            ok &= np.isfinite(c)
        e = None
        if embeddings is not None:
            e = np.asarray(embeddings, dtype=np.float32)
            if e.ndim != 2 or len(e) != len(b):
                raise ValueError(f"embeddings must be [N={len(b)}, D], got {e.shape}")
            e = np.where(np.isfinite(e).all(1, keepdims=True), e, 0.0)[ok]  # a bad vector: no feature
            e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        return b[ok], s[ok], c[ok].astype(np.int64), e, int(len(b) - ok.sum())

    def _clock(self, timestamp_s, fps) -> tuple[float, float, bool]:
        """Time of this frame in seconds, the Kalman step in frames, and the fallback flag."""
        fps_ok = fps is not None and math.isfinite(fps) and fps > 0
        prev, first = self.time_s, self.frame == 1
        if timestamp_s is not None and math.isfinite(timestamp_s):
            t, fallback = (float(timestamp_s) if first else max(float(timestamp_s), prev)), False
            # a live source drops frames: with a known frame rate, step the motion model by the
            # frames that really passed; clipped so a stall does not fling boxes away
            dt = min(max((t - prev) * fps, 0.25), 30.0) if (fps_ok and not first) else 1.0
        else:
            fallback = not fps_ok
            t = 0.0 if first else prev + 1.0 / (fps if fps_ok else self.config.default_fps)
            dt = 1.0
        return t, dt, fallback

    # ---------------------------------------------------------------- association
    def _cost(self, tix, dix, boxes, classes, emb, track_boxes, use_emb):
        tr = self._t
        cost = 1.0 - box_iou(track_boxes[tix], boxes[dix])
        if use_emb and emb is not None and tr.feat.shape[1] == emb.shape[1] and cost.size:
            app = 0.5 * (1.0 - tr.feat[tix] @ emb[dix].T)  # half cosine distance, in [0, 1]
            valid = tr.has_feat[tix, None] & (np.abs(emb[dix]).sum(1) > 0)[None, :]
            app[~valid | (app > self.config.appearance_thresh) | (cost > self.config.proximity_thresh)] = 1.0
            cost = np.minimum(cost, app)  # BoT-SORT: a close, similar-looking pair is cheap
        if self.config.class_aware and cost.size:
            cost[tr.cls[tix, None] != classes[None, dix]] = np.inf
        if self.config.motion_gate and cost.size:
            gate = self.kf.gating_distance(tr.mean[tix], tr.cov[tix], xyxy_to_cxcywh(boxes[dix]))
            cost[gate > CHI2_95[4]] = np.inf
        return cost

    def _match(self, tix, dix, thresh, *args):
        if len(tix) == 0 or len(dix) == 0:  # nothing to pair: skip the cost matrix entirely
            return tix[:0], dix[:0], tix, dix
        r, c = linear_assignment(self._cost(tix, dix, *args), thresh)
        left_t, left_d = np.ones(len(tix), bool), np.ones(len(dix), bool)
        left_t[r], left_d[c] = False, False
        return tix[r], dix[c], tix[left_t], dix[left_d]

    def _recover(self, lost, dix, boxes, classes, emb=None):
        """Lost tracks paired with boxes by the Mahalanobis distance of the box centre to the
        predicted one (inside chi-square 95 %, two degrees of freedom, DeepSORT's gate), or,
        with appearance vectors, by looking alike within a wider gate (``reid_gate``): the
        motion model's guess is worst after an occlusion, which is when looks matter. Returns
        the pairs and the boxes left."""
        cfg = self.config
        if not cfg.recover_lost or len(lost) == 0 or len(dix) == 0:
            return lost[:0], dix[:0], dix
        tr = self._t
        gate = self.kf.gating_distance(tr.mean[lost], tr.cov[lost], xyxy_to_cxcywh(boxes[dix]), only_position=True)
        cost = gate / CHI2_95[2]  # below 1: inside the gate
        if emb is not None and tr.feat.shape[1] == emb.shape[1]:
            app = 0.5 * (1.0 - tr.feat[lost] @ emb[dix].T)
            alike = tr.has_feat[lost, None] & (app <= cfg.appearance_thresh) & (cost <= cfg.reid_gate)
            cost = np.where(alike, np.minimum(cost, app / cfg.appearance_thresh * 0.999), cost)
        if cfg.class_aware:
            cost[tr.cls[lost, None] != classes[None, dix]] = np.inf
        r, c = linear_assignment(cost, 1.0)
        left = np.ones(len(dix), bool)
        left[c] = False
        return lost[r], dix[c], dix[left]

    # ---------------------------------------------------------------- frame
    def update(self, boxes, scores=None, classes=None, embeddings=None, *,
               timestamp_s: float | None = None, fps: float | None = None) -> TrackerOutput:
        """Advance one frame.

        Args:
            boxes: ``[N, 4]`` xyxy pixels; rows with NaN/inf or non-positive size are dropped.
            scores: ``[N]`` confidences (all 1 if None). classes: ``[N]`` int (all 0 if None).
            embeddings: ``[N, D]`` appearance vectors or None (IoU only).
            timestamp_s: time of this frame; otherwise the clock steps by ``1 / fps``.
            fps: frame rate; 0 or None without a timestamp falls back to ``default_fps``.
        Returns:
            The confirmed tracks matched in this frame; ``info["dropped"]`` counts bad rows.
        """
        cfg, kf = self.config, self.kf
        boxes, scores, classes, emb, dropped = self._clean(boxes, scores, classes, embeddings)
        if not cfg.class_aware and len(boxes) > 1:
            one = _one_label_per_object(boxes, scores, classes, cfg.one_object_iou)
            boxes, scores, classes, emb = boxes[one], scores[one], classes[one], None if emb is None else emb[one]
        self.frame += 1
        now, dt, fallback = self._clock(timestamp_s, fps)
        self.time_s, self.fps_fallback_used = now, self.fps_fallback_used or fallback
        tr = self._t
        if emb is not None and tr.feat.shape[1] != emb.shape[1]:  # another embedder: old features are void
            tr.feat, tr.has_feat = np.zeros((len(tr), emb.shape[1]), np.float32), np.zeros(len(tr), bool)

        # predict every track; a track not followed this frame keeps its size (ByteTrack zeroes
        # the size velocity of lost tracks, or boxes inflate while nobody sees them)
        tr.mean[tr.state == LOST, 6:] = 0.0
        tr.mean, tr.cov = kf.predict(tr.mean, tr.cov, dt)
        tr.age += 1
        tr.tsu += 1
        track_boxes = cxcywh_to_xyxy(tr.mean)
        args = (boxes, classes, emb, track_boxes)

        high = np.flatnonzero(scores >= cfg.high_thresh)
        low = np.flatnonzero((scores >= cfg.low_thresh) & (scores < cfg.high_thresh))
        pool = np.flatnonzero(tr.state != TENTATIVE)
        # pass 1: confident boxes to tracked and lost tracks, appearance allowed
        t1, d1, pool_left, high_left = self._match(pool, high, cfg.match_thresh, *args, True)
        # pass 1b: a lost track takes a confident box within its motion gate. An object coming
        # out from behind an occluder shows a sliver of itself, which overlaps the prediction
        # too little for IoU; the gate on the centre widens with every frame it stays unseen
        t1b, d1b, high_left = self._recover(pool_left[tr.state[pool_left] == LOST], high_left, boxes, classes, emb)
        pool_left = np.setdiff1d(pool_left, t1b, assume_unique=True)
        t1, d1 = np.concatenate([t1, t1b]), np.concatenate([d1, d1b])
        # pass 2: low boxes keep tracked tracks alive; IoU only (their crops are occluded)
        followed = pool_left[tr.state[pool_left] == TRACKED]
        t2, d2, missed, _ = self._match(followed, low, cfg.second_match_thresh, *args, False)
        # pass 3: tentative tracks only take confident boxes nobody else wanted
        tentative = np.flatnonzero(tr.state == TENTATIVE)
        t3, d3, tent_missed, born = self._match(tentative, high_left, cfg.tentative_match_thresh, *args, True)

        ti, di = np.concatenate([t1, t2, t3]), np.concatenate([d1, d2, d3])
        if len(ti):
            tr.mean[ti], tr.cov[ti] = kf.update(tr.mean[ti], tr.cov[ti], xyxy_to_cxcywh(boxes[di]))
            tr.hits[ti] += 1
            tr.tsu[ti], tr.last_t[ti], tr.score[ti] = 0, now, scores[di]
            promote = (tr.state[ti] != TENTATIVE) | (tr.hits[ti] >= cfg.min_hits)
            tr.state[ti[promote]] = TRACKED
            tr.trail[ti, tr.ptr[ti] % cfg.trail_len] = tr.mean[ti, :2]
            tr.ptr[ti] += 1
        if emb is not None:
            fi = np.concatenate([t1, t3])  # features only from confident boxes: low ones are occluded
            fd = np.concatenate([d1, d3])
            m = np.where(tr.has_feat[fi], cfg.feature_momentum, 0.0).astype(np.float32)[:, None]
            f = m * tr.feat[fi] + (1 - m) * emb[fd]
            tr.feat[fi] = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
            tr.has_feat[fi] |= np.abs(emb[fd]).sum(1) > 0
        tr.state[missed] = LOST

        # remove: tentative tracks that missed, lost tracks past the buffer (in seconds)
        alive = np.ones(len(tr), bool)
        alive[tent_missed] = False
        alive &= ~((tr.state == LOST) & (now - tr.last_t > cfg.track_buffer_s))
        self._dedupe(alive)
        if not alive.all():
            tr.keep(alive)
        self._spawn(boxes[born], scores[born], classes[born], None if emb is None else emb[born], now)
        # ids are handed out on confirmation, in row order, so they increase without gaps
        need = np.flatnonzero((tr.state == TRACKED) & (tr.ids == 0))
        tr.ids[need] = self._next_id + np.arange(len(need))
        self._next_id += len(need)
        return self._output({"frame": self.frame, "time_s": now, "dropped": dropped,
                             "fps_fallback": fallback})

    def _dedupe(self, alive) -> None:
        tr, cfg = self._t, self.config
        a, b = np.flatnonzero(alive & (tr.state == TRACKED)), np.flatnonzero(alive & (tr.state == LOST))
        if len(a) and len(b):
            iou = box_iou(cxcywh_to_xyxy(tr.mean[a]), cxcywh_to_xyxy(tr.mean[b]))
            ia, ib = np.nonzero(iou > cfg.dedupe_iou)
            a_older = tr.age[a[ia]] >= tr.age[b[ib]]  # keep whichever has been followed longer
            alive[b[ib[a_older]]] = False
            alive[a[ia[~a_older]]] = False

    def _spawn(self, boxes, scores, classes, emb, now) -> None:
        cfg, tr = self.config, self._t
        keep = scores >= cfg.new_track_thresh
        n = int(keep.sum())
        if n == 0:
            return
        new = _Tracks(n, cfg.trail_len, tr.feat.shape[1])
        new.mean, new.cov = self.kf.initiate(xyxy_to_cxcywh(boxes[keep]))
        new.cls, new.score, new.last_t = classes[keep], scores[keep], np.full(n, now)
        new.age[:] = new.hits[:] = new.ptr[:] = 1
        # the first frame of a stream has nothing to confirm against: ByteTrack takes it as is
        new.state[:] = TRACKED if (self.frame == 1 or cfg.min_hits <= 1) else TENTATIVE
        new.trail[:, 0] = new.mean[:, :2]
        if emb is not None:
            new.feat, new.has_feat = emb[keep], np.abs(emb[keep]).sum(1) > 0
        tr.extend(new)

    def _output(self, info: dict) -> TrackerOutput:
        tr, L = self._t, self.config.trail_len
        rows = np.flatnonzero((tr.state == TRACKED) & (tr.tsu == 0))
        order = (tr.ptr[rows, None] + np.arange(L)[None, :]) % L  # ring buffer, oldest first
        counts = np.bincount(tr.state, minlength=3)
        info.update(tracks=len(tr), tentative=int(counts[TENTATIVE]), lost=int(counts[LOST]))
        return TrackerOutput(ids=tr.ids[rows], boxes=cxcywh_to_xyxy(tr.mean[rows]), classes=tr.cls[rows],
                             scores=tr.score[rows], ages=tr.age[rows], hits=tr.hits[rows],
                             trails=tr.trail[rows[:, None], order], info=info)

    # ---------------------------------------------------------------- camera motion, records
    def apply_affine(self, m: np.ndarray) -> None:
        """Warp every track's state by the 2x3 affine ``m`` (previous frame -> current frame).

        Centres and centre velocities go through the linear part (velocities without the
        translation); sizes scale by ``sqrt(|det A|)``, exact for the rotation + uniform scale
        of ``cv2.estimateAffinePartial2D``. The warp commutes with the constant-velocity
        prediction, so calling it before ``update()`` equals applying it to the predicted state.
        """
        m = np.asarray(m, dtype=np.float64).reshape(2, 3)
        tr = self._t
        if len(tr) == 0 or not np.isfinite(m).all():
            return
        a, s = m[:, :2], math.sqrt(abs(np.linalg.det(m[:, :2])))
        g = np.zeros((8, 8))
        g[0:2, 0:2] = g[4:6, 4:6] = a
        g[2, 2] = g[3, 3] = g[6, 6] = g[7, 7] = s
        tr.mean = tr.mean @ g.T
        tr.mean[:, :2] += m[:, 2]
        tr.cov = g @ tr.cov @ g.T

    def tracks(self, states: tuple[str, ...] = ("tracked",)) -> list[Track]:
        """All internal tracks in the given states as records (a Python loop: for drawing)."""
        tr, L = self._t, self.config.trail_len
        codes = [STATE_NAMES.index(s) for s in states]
        boxes = cxcywh_to_xyxy(tr.mean)
        out = []
        for i in np.flatnonzero(np.isin(tr.state, codes)):
            k = min(int(tr.ptr[i]), L)
            trail = tr.trail[i, (np.arange(int(tr.ptr[i]) - k, int(tr.ptr[i]))) % L]
            out.append(Track(int(tr.ids[i]), tuple(float(v) for v in boxes[i]), int(tr.cls[i]),
                             float(tr.score[i]), int(tr.age[i]), int(tr.hits[i]), int(tr.tsu[i]),
                             STATE_NAMES[tr.state[i]], trail))
        return out

    def __len__(self) -> int:
        """Number of internal tracks (tentative, tracked and lost)."""
        return len(self._t)
