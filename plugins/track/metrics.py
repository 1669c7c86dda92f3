"""Multi-object tracking metrics, computed here with numpy and scipy's assignment solver.

- CLEAR MOT (Bernardin & Stiefelhagen 2008, "Evaluating Multiple Object Tracking Performance:
  The CLEAR MOT Metrics", EURASIP JIVP) exactly as py-motmetrics computes it with
  ``compare_to_groundtruth(gt, test, 'iou', distth=0.5)``: its matching, its ID switches, its
  fragmentations and MT/PT/ML (Li et al. 2009), MOTA, and MOTP as the mean matched distance
  ``1 - IoU``. ``motp_iou`` is MOTChallenge's MOTP, the mean matched IoU.
- Identity metrics IDF1, IDP, IDR (Ristani et al. 2016, "Performance Measures and a Data Set for
  Multi-Target, Multi-Camera Tracking", ECCV workshops).
- HOTA (Luiten et al. 2021, "HOTA: A Higher Order Metric for Evaluating Multi-Object Tracking",
  IJCV 129) as TrackEval computes it, with DetA, AssA, LocA, DetRe/Pr and AssRe/Pr.

A sequence's input is two mappings ``frame -> (ids, boxes)`` (or :class:`~visionkit.data.mot.MotFrame`
objects, or a :class:`~visionkit.data.mot.MotSequence`), boxes x, y, w, h in pixels. Results hold sums
only and derive every ratio from them, so :func:`combine` over sequences is a sum: py-motmetrics'
OVERALL row and TrackEval's combined sequences both come out this way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from visionkit.errors import InputError

#: HOTA's localisation thresholds, the same floats TrackEval uses (0.05, 0.10, ..., 0.95).
ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(float).eps
_ZEROS = (0.0,) * len(ALPHAS)
_EMPTY = (np.zeros(0, np.int64), np.zeros((0, 4)))


def iou_matrix(a, b) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), boxes x, y, w, h: (N, M).
    The arithmetic follows py-motmetrics' ``boxiou`` step for step, so that a pair that sits on
    the 0.5 threshold falls on the same side."""
    a = np.asarray(a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, np.float64).reshape(1, -1, 4)
    a_min, b_min = a[..., :2], b[..., :2]
    a_max, b_max = a_min + a[..., 2:], b_min + b[..., 2:]
    inter = np.prod(np.maximum(np.minimum(a_max, b_max) - np.maximum(a_min, b_min), 0), axis=-1)
    union = (np.prod(np.maximum(a_max - a_min, 0), axis=-1)
             + np.prod(np.maximum(b_max - b_min, 0), axis=-1) - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter != 0)


def _ratio(num, den) -> float:
    # x / 0 is undefined: NaN (None in to_dict). py-motmetrics gives inf there, so MOTA of a
    # sequence without ground truth but with predictions is -inf for it and NaN here.
    return float(num) / den if den else float("nan")


@dataclass(frozen=True)
class MotMetrics:
    """Counts of one sequence (or of several, see :func:`combine`); ratios are properties.
    Per-alpha HOTA sums are tuples over :data:`ALPHAS`."""

    name: str
    num_frames: int = 0
    num_objects: int = 0  # ground-truth boxes
    num_predictions: int = 0  # predicted boxes
    num_unique_objects: int = 0
    num_detections: int = 0  # matched pairs, switches included
    num_switches: int = 0
    num_false_positives: int = 0
    num_misses: int = 0
    num_fragmentations: int = 0
    mostly_tracked: int = 0
    partially_tracked: int = 0
    mostly_lost: int = 0
    distance_sum: float = 0.0  # sum of 1 - IoU over matched pairs
    idtp: int = 0
    hota_tp: tuple = _ZEROS
    hota_fn: tuple = _ZEROS
    hota_fp: tuple = _ZEROS
    hota_loc: tuple = _ZEROS  # sum of IoU over HOTA's true positives
    hota_ass: tuple = _ZEROS  # sum over true positives of their association IoU (AssA * TP)
    hota_ass_re: tuple = _ZEROS
    hota_ass_pr: tuple = _ZEROS

    # CLEAR MOT and identity, as py-motmetrics defines them
    mota = property(lambda s: 1 - _ratio(s.num_misses + s.num_switches + s.num_false_positives,
                                         s.num_objects))
    motp = property(lambda s: _ratio(s.distance_sum, s.num_detections))  # mean 1 - IoU
    motp_iou = property(lambda s: 1 - s.motp)  # MOTChallenge's MOTP: mean IoU of the matches
    recall = property(lambda s: _ratio(s.num_detections, s.num_objects))
    precision = property(lambda s: _ratio(s.num_detections, s.num_detections + s.num_false_positives))
    idfp = property(lambda s: s.num_predictions - s.idtp)
    idfn = property(lambda s: s.num_objects - s.idtp)
    idp = property(lambda s: _ratio(s.idtp, s.num_predictions))
    idr = property(lambda s: _ratio(s.idtp, s.num_objects))
    idf1 = property(lambda s: _ratio(2 * s.idtp, s.num_objects + s.num_predictions))

    def hota_curves(self) -> dict[str, np.ndarray]:
        """HOTA and its parts at each alpha, as TrackEval's ``_compute_final_fields`` (an empty
        denominator gives 0, and LocA 1 where there is no true positive)."""
        tp, fn, fp = (np.asarray(v, np.float64) for v in (self.hota_tp, self.hota_fn, self.hota_fp))
        det_a = tp / np.maximum(1, tp + fn + fp)
        ass_a = np.asarray(self.hota_ass) / np.maximum(1, tp)
        return {"HOTA": np.sqrt(det_a * ass_a), "DetA": det_a, "AssA": ass_a,
                "DetRe": tp / np.maximum(1, tp + fn), "DetPr": tp / np.maximum(1, tp + fp),
                "AssRe": np.asarray(self.hota_ass_re) / np.maximum(1, tp),
                "AssPr": np.asarray(self.hota_ass_pr) / np.maximum(1, tp),
                "LocA": np.maximum(1e-10, self.hota_loc) / np.maximum(1e-10, tp)}

    # HOTA and its parts: the mean over the alphas, as TrackEval reports them
    hota, deta, assa, loca, detre, detpr, assre, asspr = (
        property(lambda s, k=k: float(s.hota_curves()[k].mean()))
        for k in ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr"))

    COUNTS = ("num_frames", "num_objects", "num_predictions", "num_unique_objects", "num_detections",
              "num_switches", "num_false_positives", "num_misses", "num_fragmentations",
              "mostly_tracked", "partially_tracked", "mostly_lost")
    RATIOS = ("hota", "deta", "assa", "loca", "detre", "detpr", "assre", "asspr", "idf1", "idp",
              "idr", "mota", "motp", "motp_iou", "recall", "precision")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: counts as ints, ratios as floats (None where undefined), py-motmetrics'
        column names for what it computes, and ``hota_alpha``: HOTA at each alpha."""
        out: dict[str, Any] = {"name": self.name}
        for key in self.COUNTS:
            out[key] = int(getattr(self, key))
        out.update(idtp=self.idtp, idfp=self.idfp, idfn=self.idfn)
        for key in self.RATIOS:
            value = float(getattr(self, key))
            out[key] = value if np.isfinite(value) else None
        out["hota_alpha"] = [round(float(v), 6) for v in self.hota_curves()["HOTA"]]
        return out


def _frames(data, what: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """frame -> (ids, boxes) from a MotSequence, MotFrames or (ids, boxes) pairs."""
    data = getattr(data, "frames", data)
    out = {}
    for frame, item in data.items():
        ids, boxes = (item.ids, item.boxes) if hasattr(item, "ids") else item
        ids = np.asarray(ids, np.int64).reshape(-1)
        if len(np.unique(ids)) != len(ids):
            raise InputError(f"{what}, frame {frame}: an id appears twice in the frame")
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if not np.isfinite(boxes).all():  # read_mot drops these; NaN would poison the matchings
            raise InputError(f"{what}, frame {frame}: a box is NaN or infinite")
        if len(ids):
            out[int(frame)] = (ids, boxes)
    return out


def _clear_frame(gi, hj, dist, ok, last: dict) -> tuple[list, int]:
    """One frame of py-motmetrics' ``MOTAccumulator.update``: the matched (row, col) pairs and
    the number of ID switches. ``last`` maps a gt track to its last matched hypothesis."""
    free_g, free_h = np.ones(len(gi), bool), np.ones(len(hj), bool)
    col_of = {h: c for c, h in enumerate(hj.tolist())}
    pairs, switches = [], 0
    # 1. A track keeps last frame's hypothesis as long as the pair is still matchable.
    for r, g in enumerate(gi.tolist()):
        c = col_of.get(last.get(g, -1))
        if c is not None and free_h[c] and ok[r, c]:
            free_g[r] = free_h[c] = False
            pairs.append((r, c))
    # 2. The rest by minimum total distance among the largest sets of matchable pairs: an
    # unmatchable pair costs more than any r matchable ones (py-motmetrics' 2·r·c + 1 bound).
    rows, cols = np.flatnonzero(free_g), np.flatnonzero(free_h)
    sub_ok = ok[np.ix_(rows, cols)]
    if sub_ok.any():
        cost = dist[np.ix_(rows, cols)]
        big = 2 * min(cost.shape) * (np.abs(cost[sub_ok]).max() + 1) + 1
        for a, b in zip(*linear_sum_assignment(np.where(sub_ok, cost, big))):
            if sub_ok[a, b]:
                r, c = rows[a], cols[b]
                g, h = int(gi[r]), int(hj[c])
                switches += g in last and last[g] != h
                last[g] = h
                pairs.append((r, c))
    return pairs, switches


def evaluate_sequence(gt, pred, name: str = "sequence", *, threshold: float = 0.5) -> MotMetrics:
    """CLEAR MOT, identity and HOTA metrics of one sequence. ``threshold`` is py-motmetrics'
    ``distth``: a pair is matchable for CLEAR and identity when ``1 - IoU <= threshold``."""
    gt, pred = _frames(gt, "ground truth"), _frames(pred, "predictions")
    frames = sorted(set(gt) | set(pred))
    g_all = np.unique(np.concatenate([_EMPTY[0]] + [v[0] for v in gt.values()]))
    h_all = np.unique(np.concatenate([_EMPTY[0]] + [v[0] for v in pred.values()]))
    ng, nh = len(g_all), len(h_all)
    g_count, h_count = np.zeros(ng), np.zeros(nh)
    id_pairs = np.zeros((ng, nh))  # frames in which a gt and a predicted track are matchable
    potential = np.zeros((ng, nh))  # HOTA's soft co-occurrence of two tracks
    tracked: list[list[bool]] = [[] for _ in range(ng)]
    last: dict[int, int] = {}
    c = {"num_detections": 0, "num_switches": 0, "num_false_positives": 0, "num_misses": 0}
    dist_sum = 0.0
    kept = []  # (gt rows, pred cols, IoU) per frame, for HOTA's second pass
    for frame in frames:
        (gids, gboxes), (hids, hboxes) = gt.get(frame, _EMPTY), pred.get(frame, _EMPTY)
        gi, hj = np.searchsorted(g_all, gids), np.searchsorted(h_all, hids)
        g_count[gi] += 1
        h_count[hj] += 1
        sim = iou_matrix(gboxes, hboxes)
        dist = 1.0 - sim
        ok = dist <= threshold  # py-motmetrics marks distance > distth "do not pair"
        cell = np.ix_(gi, hj)  # ids are unique within a frame, so cells do not repeat
        id_pairs[cell] += ok
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        potential[cell] += np.divide(sim, denom, out=np.zeros_like(sim), where=denom > _EPS)
        kept.append((gi, hj, sim))
        pairs, switches = _clear_frame(gi, hj, dist, ok, last)
        is_tracked = np.zeros(len(gi), bool)
        if pairs:
            r, cc = np.array(pairs).T
            is_tracked[r] = True
            dist_sum += float(dist[r, cc].sum())
        for g, t in zip(gi.tolist(), is_tracked.tolist()):
            tracked[g].append(t)
        c["num_detections"] += len(pairs)
        c["num_switches"] += switches
        c["num_misses"] += len(gi) - len(pairs)
        c["num_false_positives"] += len(hj) - len(pairs)

    ratios = np.array([np.mean(t) for t in tracked]) if ng else np.zeros(0)
    frags = 0
    for t in tracked:  # py-motmetrics: tracked -> missed transitions between first and last match
        t = np.asarray(t)
        hit = np.flatnonzero(t)
        if len(hit):
            span = t[hit[0]:hit[-1] + 1]
            frags += int(np.count_nonzero(span[:-1] & ~span[1:]))
    idtp = 0
    if ng and nh:  # the global one-to-one track matching with the most matched frames
        r, cc = linear_sum_assignment(id_pairs, maximize=True)
        idtp = int(id_pairs[r, cc].sum())
    hota = _hota(kept, potential, g_count, h_count)
    return MotMetrics(
        name=name, num_frames=len(frames), num_objects=int(g_count.sum()),
        num_predictions=int(h_count.sum()), num_unique_objects=ng, **c,
        num_fragmentations=frags, mostly_tracked=int((ratios >= 0.8).sum()),
        partially_tracked=int(((ratios >= 0.2) & (ratios < 0.8)).sum()),
        mostly_lost=int((ratios < 0.2).sum()), distance_sum=dist_sum, idtp=idtp, **hota)


def _hota(kept, potential, g_count, h_count) -> dict[str, tuple]:
    """HOTA's sums per alpha (Luiten et al. 2021, sec. 5; TrackEval's ``HOTA.eval_sequence``)."""
    nh = len(h_count)
    # Global alignment of each gt/pred track pair: a soft Jaccard over the whole sequence.
    align = potential / np.maximum(1, g_count[:, None] + h_count[None, :] - potential)
    g_m, h_m, s_m = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for gi, hj, sim in kept:
        if len(gi) and len(hj):
            # Per frame, one matching for every alpha: maximise alignment x similarity, so that
            # pairs which belong together over the sequence win over one frame's overlap.
            r, c = linear_sum_assignment(-(align[np.ix_(gi, hj)] * sim))
            g_m.append(gi[r])
            h_m.append(hj[c])
            s_m.append(sim[r, c])
    g_m, h_m, s_m = np.concatenate(g_m), np.concatenate(h_m), np.concatenate(s_m)
    n_gt, n_pred = g_count.sum(), h_count.sum()
    out = {k: [] for k in ("hota_tp", "hota_fn", "hota_fp", "hota_loc", "hota_ass", "hota_ass_re",
                           "hota_ass_pr")}
    for alpha in ALPHAS:
        m = s_m >= alpha - _EPS  # a matched pair counts as a true positive from alpha on
        tp = int(m.sum())
        keys, n = np.unique(g_m[m] * nh + h_m[m], return_counts=True)
        g, h = np.divmod(keys, nh) if nh else (keys, keys)
        out["hota_tp"].append(tp)
        out["hota_fn"].append(int(n_gt) - tp)
        out["hota_fp"].append(int(n_pred) - tp)
        out["hota_loc"].append(float(s_m[m].sum()))
        # Each TP weighs its track pair's association IoU: TPA / (TPA + FNA + FPA).
        out["hota_ass"].append(float((n * n / np.maximum(1, g_count[g] + h_count[h] - n)).sum()))
        out["hota_ass_re"].append(float((n * n / np.maximum(1, g_count[g])).sum()))
        out["hota_ass_pr"].append(float((n * n / np.maximum(1, h_count[h])).sum()))
    return {k: tuple(v) for k, v in out.items()}


def combine(results: Iterable[MotMetrics], name: str = "OVERALL") -> MotMetrics:
    """Several sequences as one: every count and sum is added and the ratios recomputed, as
    py-motmetrics' OVERALL row and TrackEval's ``combine_sequences`` do."""
    results = list(results)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(MotMetrics)[1:]:
        items = [getattr(r, f.name) for r in results]
        if isinstance(f.default, tuple):
            values[f.name] = tuple(np.sum([np.asarray(i, np.float64) for i in items] or [_ZEROS],
                                          axis=0).tolist())
        else:
            values[f.name] = sum(items, f.default)
    return MotMetrics(name=name, **values)


def evaluate(sequences: Mapping[str, tuple[Any, Any]], *, threshold: float = 0.5) -> list[MotMetrics]:
    """``{name: (gt, pred)}`` to one result per sequence, then the combined OVERALL row."""
    rows = [evaluate_sequence(gt, pred, name, threshold=threshold) for name, (gt, pred) in sequences.items()]
    return rows + [combine(rows)]


_TABLE = {"HOTA": "hota", "DetA": "deta", "AssA": "assa", "IDF1": "idf1", "MOTA": "mota",
          "MOTP": "motp_iou", "Rcll": "recall", "Prcn": "precision", "GT": "num_unique_objects",
          "MT": "mostly_tracked", "PT": "partially_tracked", "ML": "mostly_lost",
          "FP": "num_false_positives", "FN": "num_misses", "IDSW": "num_switches",
          "Frag": "num_fragmentations"}


def format_table(results: Sequence[MotMetrics]) -> str:
    """A text table, one row per result (sequences, then OVERALL), in MOTChallenge's units:
    percentages, and MOTP as the mean IoU of the matches; '-' where a ratio is undefined."""
    def cell(v):
        return str(v) if isinstance(v, int) else f"{100 * v:.1f}" if np.isfinite(v) else "-"

    header = ["Sequence", *_TABLE]
    body = [[r.name] + [cell(getattr(r, key)) for key in _TABLE.values()] for r in results]
    widths = [max(len(row[k]) for row in [header] + body) for k in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if k == 0 else cell.rjust(w)
                               for k, (cell, w) in enumerate(zip(row, widths)))
                     for row in [header] + body)
