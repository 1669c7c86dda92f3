"""Evaluation metrics: COCO AP through pycocotools, mIoU from a confusion matrix, and PCK.

COCO box, mask and keypoint AP are computed by pycocotools itself (the field's reference), so
the numbers match what every paper reports; this module only feeds it and reads its tables.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import InputError

BOX_STATS = ("AP", "AP50", "AP75", "APsmall", "APmedium", "APlarge",
             "AR1", "AR10", "AR100", "ARsmall", "ARmedium", "ARlarge")
KEYPOINT_STATS = ("AP", "AP50", "AP75", "APmedium", "APlarge", "AR", "AR50", "AR75", "ARmedium", "ARlarge")


@dataclass(frozen=True)
class CocoStats:
    """pycocotools' summary numbers, plus AP per category (IoU 0.50:0.95, all areas)."""

    iou_type: str
    stats: Mapping[str, float]
    per_class: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        return self.stats[key]

    def to_dict(self) -> dict[str, Any]:
        return {"iou_type": self.iou_type, **{k: round(v, 6) for k, v in self.stats.items()},
                "per_class": {k: round(v, 6) for k, v in self.per_class.items()}}


def _load_json(source: str | Path | Mapping | list, what: str) -> Any:
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: no such {what} file") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return source


def coco_ap(ground_truth: str | Path | Mapping, detections: str | Path | Iterable[Mapping],
            iou_type: str = "bbox", sigmas: Sequence[float] | None = None) -> CocoStats:
    """COCO AP/AR of ``detections`` (a results list, as ``COCO.loadRes`` takes) against a COCO
    ground-truth dataset. ``sigmas`` sets the per-keypoint OKS constants for ``keypoints``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_data = _load_json(ground_truth, "ground-truth")
    dets = _load_json(detections, "detections")
    if isinstance(dets, Mapping):  # a whole dataset given as results: take its annotations
        dets = dets.get("annotations", [])
    dets = [dict(d) for d in dets]
    names = {c["id"]: c["name"] for c in gt_data.get("categories", [])}
    summary = KEYPOINT_STATS if iou_type == "keypoints" else BOX_STATS
    quiet = io.StringIO()  # pycocotools reports progress on stdout; keep --json output clean
    with contextlib.redirect_stdout(quiet):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(gt_data))  # pycocotools mutates what it is given
        gt.createIndex()
        if not dets:
            return CocoStats(iou_type, {k: 0.0 for k in summary}, {n: 0.0 for n in names.values()})
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = {k: float(v) for k, v in zip(summary, ev.stats)}
    # precision[T, R, K, A, M]: IoU thresholds x recall points x classes x areas x max-dets
    precision = ev.eval["precision"][:, :, :, 0, -1]
    per_class = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k]
        per_class[names.get(cat_id, str(cat_id))] = float(p[p > -1].mean()) if (p > -1).any() else float("nan")
    return CocoStats(iou_type, stats, per_class)


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int,
                     ignore: int | None = 255) -> np.ndarray:
    """``(n, n)`` pixel counts, rows = true class, columns = predicted; ``ignore`` pixels skipped."""
    t = np.asarray(truth).ravel().astype(np.int64)
    p = np.asarray(predicted).ravel().astype(np.int64)
    if t.shape != p.shape:
        raise InputError(f"label maps differ in size: {np.shape(truth)} vs {np.shape(predicted)}")
    keep = (t < n_classes) & (p < n_classes) if ignore is None else (t != ignore) & (t < n_classes) & (p < n_classes)
    return np.bincount(t[keep] * n_classes + p[keep], minlength=n_classes**2).reshape(n_classes, n_classes)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """IoU of each class; NaN for a class neither present nor predicted."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(confusion: np.ndarray) -> float:
    """Mean IoU over the classes that occur (background included, as is usual for VOC-style mIoU)."""
    return float(np.nanmean(iou_per_class(confusion)))


def pck(predicted: np.ndarray, truth: np.ndarray, visible: np.ndarray, reference: np.ndarray,
        alpha: float = 0.1) -> tuple[float, np.ndarray]:
    """Percentage of Correct Keypoints: a visible joint is correct when it lies within
    ``alpha * reference`` of the truth (here the larger side of the instance's box).

    ``predicted``/``truth``: (N, K, 2); ``visible``: (N, K) bool; ``reference``: (N,).
    Returns the overall PCK and PCK per joint (NaN for a joint never visible).
    """
    distance = np.linalg.norm(np.asarray(predicted, np.float64) - np.asarray(truth, np.float64), axis=-1)
    correct = distance <= alpha * np.asarray(reference, np.float64)[:, None]
    visible = np.asarray(visible, bool)
    if not visible.any():
        return float("nan"), np.full(visible.shape[1], np.nan)
    per_joint = np.array([correct[visible[:, k], k].mean() if visible[:, k].any() else np.nan
                          for k in range(visible.shape[1])])
    return float(correct[visible].mean()), per_joint
