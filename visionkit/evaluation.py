"""Score task predictions against a COCO dataset: box AP, mIoU, keypoint AP and PCK.

The ``evaluate_*`` functions are pure: they take predictions keyed by image id (an image left
out means the model found nothing there) and return a JSON-ready dict of metrics.
:mod:`visionkit.coco_evaluator` runs a Pipeline over a dataset to make such predictions and
holds the evaluator the COCO tasks' plugins subclass.

Model classes meet dataset categories by **name**, never by index, so a model whose label order
differs from the dataset's is scored right. Predictions of a class the dataset lacks are left
out, and a dataset category the model does not know scores 0; both are reported in ``notes``.

Conventions, chosen once here:

- detect: pycocotools bbox AP; the per-class table is AP@[.5:.95] per category, read from
  COCOeval's precision array (all areas, 100 detections), None for a category without ground truth.
- segment: the ground truth is ``masks/<image stem>.png`` (category ids, 0 background) when the
  dataset has a ``masks/`` folder, else painted from the annotations' masks in file order (later
  over earlier). mIoU is the mean IoU over the classes present in ground truth or prediction,
  **background included** (the VOC/ADE convention); pixel accuracy counts every labelled pixel.
- pose: pycocotools keypoint AP (OKS over the annotation ``area``) and PCK@0.1, see
  :func:`evaluate_pose`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .boxes import iou_with
from .data.coco import CocoDataset, load_coco
from .errors import InputError, UsageError
from .metrics import coco_ap, confusion_matrix, iou_per_class, pck
from .results import Detections, Keypoints, SegmentationMask

#: OKS sigma of every ShapeWorld figure joint. COCO's sigmas (0.025-0.107) measure how far human
#: annotators scatter on a person's joints; a stick figure's joints are sharp line ends drawn at
#: exact coordinates, so the tolerance is set tighter than all but COCO's eyes and nose.
FIGURE_SIGMAS = (0.05,) * 15
#: the standard COCO person sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
COCO_SIGMAS = tuple(s / 10 for s in (.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                                     1.07, 1.07, .87, .87, .89, .89))
PCK_ALPHA = 0.1
#: box IoU a predicted instance needs to count as finding a ground-truth figure (PCK)
MATCH_IOU = 0.5


def as_dataset(data: str | Path | CocoDataset) -> CocoDataset:
    """A CocoDataset from a folder holding ``annotations.json``, the JSON file, or itself."""
    dataset = data if isinstance(data, CocoDataset) else load_coco(data)
    if not dataset.images:
        raise InputError(f"{dataset.path}: the dataset has no images")
    return dataset


def subset(dataset: CocoDataset, image_ids: Iterable[int]) -> CocoDataset:
    """The dataset cut down to ``image_ids`` (e.g. leaving out images a model could not read)."""
    keep = set(image_ids)
    return CocoDataset(dataset.path, dataset.root, [im for im in dataset.images if im["id"] in keep],
                       [a for a in dataset.annotations if a["image_id"] in keep], dataset.categories,
                       {i: anns for i, anns in dataset.by_image.items() if i in keep})


def default_sigmas(num_keypoints: int) -> tuple[float, ...]:
    """COCO's sigmas for a 17-joint person, else :data:`FIGURE_SIGMAS`' 0.05 for every joint."""
    return COCO_SIGMAS if num_keypoints == 17 else (FIGURE_SIGMAS[0],) * num_keypoints


def _clean(value: float) -> float | None:
    """Rounded for reports; NaN (nothing to score) becomes None, so the JSON stays valid."""
    return None if math.isnan(value) else round(float(value), 6)


def _ground_truth(dataset: CocoDataset, categories: list[dict] | None = None) -> dict:
    cats = dataset.categories if categories is None else categories
    ids = {c["id"] for c in cats}
    return {"images": dataset.images, "categories": cats,
            "annotations": [a for a in dataset.annotations if a["category_id"] in ids]}


def _count_note(counts: Mapping[str, int], what: str) -> list[str]:
    if not counts:
        return []
    shown = ", ".join(f"{name} ({n})" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:5])
    n = sum(counts.values())
    return [f"{n} {what}{'' if n == 1 else 's'} of classes the dataset lacks left out: {shown}"]


def _unknown_note(dataset: CocoDataset, model_labels: Iterable[str] | None) -> list[str]:
    if model_labels is None:
        return []
    known = set(model_labels)
    missing = [c["name"] for c in dataset.categories if c["name"] not in known]
    if not missing:
        return []
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    kind = "category" if len(missing) == 1 else "categories"
    return [(f"the model has no class for {len(missing)} dataset {kind} (scored as never found): "
             f"{', '.join(missing[:5])}{more}")]


# ------------------------------------------------------------------ detect


def detection_results(dataset: CocoDataset, predictions: Mapping[int, Detections],
                      dropped: dict[str, int] | None = None) -> list[dict]:
    """COCO results list (``bbox`` [x, y, w, h], score, category id matched by name).
    Detections of classes the dataset lacks are left out and counted in ``dropped``."""
    ids = {c["name"]: c["id"] for c in dataset.categories}
    images = {im["id"] for im in dataset.images}
    out = []
    for image_id, det in predictions.items():
        if image_id not in images:
            continue
        for (x1, y1, x2, y2), score, label in zip(np.asarray(det.boxes, float).reshape(-1, 4), det.scores, det.labels):
            if label not in ids:
                if dropped is not None:
                    dropped[label] = dropped.get(label, 0) + 1
                continue
            out.append({"image_id": image_id, "category_id": ids[label], "score": round(float(score), 6),
                        "bbox": [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)]})
    return out


def evaluate_detect(dataset: str | Path | CocoDataset, predictions: Mapping[int, Detections],
                    model_labels: Sequence[str] | None = None) -> dict[str, Any]:
    """COCO box AP/AR and per-class AP. ``model_labels`` (the card's) lets the notes name the
    dataset categories the model cannot find."""
    dataset = as_dataset(dataset)
    dropped: dict[str, int] = {}
    results = detection_results(dataset, predictions, dropped)
    stats = coco_ap(_ground_truth(dataset), results, "bbox")
    return {"task": "detect", "metric": "COCO bbox AP (pycocotools)", "images": len(dataset.images),
            "ground_truth": len(dataset.annotations), "predictions": len(results),
            **{k: round(v, 6) for k, v in stats.stats.items()},
            "per_class": {k: _clean(v) for k, v in stats.per_class.items()},
            "notes": _count_note(dropped, "detection") + _unknown_note(dataset, model_labels)}


# ------------------------------------------------------------------ segment


def segment_ground_truth(dataset: CocoDataset) -> str:
    """Where the segment ground truth comes from: ``masks/`` label maps (raising the one-line
    error for the first missing file, so a run can fail before the model runs) or annotation masks."""
    if not (dataset.root / "masks").is_dir():
        return "annotation masks"
    for image in dataset.images:
        path = dataset.label_map_path(image)
        if not path.is_file():
            raise InputError(f"{path}: ground-truth label map missing (masks/ needs one per image)")
    return "masks/ label maps"


def ground_truth_map(dataset: CocoDataset, image: dict) -> np.ndarray:
    """(H, W) category ids (0 background) of one image: its ``masks/`` PNG when the dataset has
    that folder, else painted from the annotations' masks, later objects over earlier ones."""
    import cv2

    h, w = int(image["height"]), int(image["width"])
    if (dataset.root / "masks").is_dir():
        path = dataset.label_map_path(image)
        if not path.is_file():
            raise InputError(f"{path}: ground-truth label map missing (masks/ needs one per image)")
        label_map = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if label_map is None or label_map.ndim != 2:
            raise InputError(f"{path}: not a single-channel label map")
        if label_map.shape != (h, w):
            raise InputError(f"{path}: label map is {label_map.shape[1]}x{label_map.shape[0]}, "
                             f"the image {w}x{h}")
        return label_map
    label_map = np.zeros((h, w), np.int32)  # int32: COCO category ids may pass 255
    for ann in dataset.annotations_for(image["id"]):
        label_map[dataset.mask(ann, image)] = ann["category_id"]
    return label_map


def evaluate_segment(dataset: str | Path | CocoDataset,
                     predictions: Mapping[int, SegmentationMask]) -> dict[str, Any]:
    """Per-class IoU, mIoU and pixel accuracy of predicted label maps (an image without a
    prediction counts as all background). Model class ids map to the dataset's by name; pixels of
    a class the dataset lacks count as wrong for the true class."""
    dataset = as_dataset(dataset)
    source = segment_ground_truth(dataset)
    names = ["background"] + [c["name"] for c in dataset.categories]
    index = {name: i for i, name in enumerate(names)}
    n = len(names)  # index n: a predicted class the dataset lacks; truth n + 1: unlabelled pixel
    # category id -> index; any other value (255 "void", an unknown id) is left out of the counts
    truth_lut = np.full(max([255] + [c["id"] for c in dataset.categories]) + 2, n + 1, np.int64)
    truth_lut[0] = 0
    for c in dataset.categories:
        truth_lut[c["id"]] = index[c["name"]]
    conf = np.zeros((n + 1, n + 1), np.int64)
    model_names: set[str] = set()
    for image in dataset.images:
        truth = truth_lut[np.minimum(ground_truth_map(dataset, image).astype(np.int64), len(truth_lut) - 1)]
        mask = predictions.get(image["id"])
        if mask is None:
            predicted = np.zeros_like(truth)
        else:
            if mask.label_map.shape != truth.shape:
                raise InputError(f"{dataset.image_path(image)}: predicted label map is "
                                 f"{mask.label_map.shape[1]}x{mask.label_map.shape[0]}, the image {image['width']}x"
                                 f"{image['height']}")
            model_names.update(mask.class_names[1:])
            # position 0 is background whatever the model calls it; other classes go by name
            lut = np.array([0] + [index.get(c, n) for c in mask.class_names[1:]]
                           + [n] * max(0, 256 - len(mask.class_names)), np.int64)
            predicted = lut[mask.label_map]
        conf += confusion_matrix(truth, predicted, n + 1, ignore=None)
    iou = iou_per_class(conf)[:n]
    lacking = ", ".join(sorted(model_names - set(names))[:5])
    notes = [f"{conf[:, n].sum()} predicted pixels of classes the dataset lacks ({lacking}) count as wrong"
             ] if conf[:, n].any() else []
    return {"task": "segment", "metric": "mIoU over classes in ground truth or prediction, background included",
            "images": len(dataset.images), "ground_truth": source, "mIoU": _clean(np.nanmean(iou)),
            "pixel_accuracy": _clean(np.trace(conf) / max(1, conf.sum())),
            "classes_scored": int(np.isfinite(iou).sum()),
            "per_class": {name: _clean(v) for name, v in zip(names, iou)},
            "notes": notes + (_unknown_note(dataset, model_names) if model_names else [])}


# ------------------------------------------------------------------ pose


def _keypoint_category(dataset: CocoDataset) -> dict:
    cat = dataset.keypoint_category
    if cat is None:
        raise InputError(f"{dataset.path}: no category has 'keypoints'; pose needs one")
    return cat


def pose_sigmas(dataset: CocoDataset, sigmas: Sequence[float] | None = None) -> tuple[float, ...]:
    """The OKS sigmas for the dataset's keypoint category: ``sigmas`` once checked against its
    joint count, or :func:`default_sigmas`."""
    cat = _keypoint_category(dataset)
    k = len(cat["keypoints"])
    if sigmas is None:
        return default_sigmas(k)
    if len(sigmas) != k:
        raise UsageError(f"{len(sigmas)} sigmas given; category {cat['name']!r} has {k} keypoints")
    return tuple(float(s) for s in sigmas)


def _in_dataset_order(kp: Keypoints, joints: Sequence[str]) -> np.ndarray:
    """(N, K, 3) points in the dataset's joint order, matched by name (the model's order when it
    gives no names); a joint the model lacks is NaN."""
    if not len(kp):
        return np.zeros((0, len(joints), 3))
    points = np.asarray(kp.points, np.float64).reshape(len(kp), -1, 3)
    if not kp.names:
        return points
    pos = {name: i for i, name in enumerate(kp.names)}
    out = np.full((len(kp), len(joints), 3), np.nan)
    for k, name in enumerate(joints):
        if name in pos:
            out[:, k] = points[:, pos[name]]
    return out


def match_instances(truth_boxes: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                    min_iou: float = MATCH_IOU) -> np.ndarray:
    """For each ground-truth box (xyxy) the index of the predicted instance that found it, or -1.
    As COCO matches: the best-scoring prediction first takes the free truth it overlaps most."""
    match = np.full(len(truth_boxes), -1)
    if not len(truth_boxes):
        return match
    for p in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        iou = iou_with(truth_boxes, boxes[p])
        iou[match >= 0] = -1.0
        best = int(np.argmax(iou))
        if iou[best] >= min_iou:
            match[best] = p
    return match


def keypoint_results(dataset: CocoDataset, predictions: Mapping[int, Keypoints]) -> list[dict]:
    """COCO keypoint results: ``[x, y, confidence] * K`` (a missing joint as 0, 0, 0), instance score."""
    cat = _keypoint_category(dataset)
    images = {im["id"] for im in dataset.images}
    out = []
    for image_id, kp in predictions.items():
        if image_id not in images:
            continue
        points = np.nan_to_num(_in_dataset_order(kp, cat["keypoints"]))
        for pts, score in zip(points, kp.scores):
            out.append({"image_id": image_id, "category_id": cat["id"], "score": round(float(score), 6),
                        "keypoints": [round(float(v), 2) for v in pts.reshape(-1)]})
    return out


def _pck(dataset: CocoDataset, cat: dict, predictions: Mapping[int, Keypoints]) -> tuple[float, np.ndarray]:
    """PCK@0.1 of the boxes' larger side; a ground-truth figure no prediction found misses every joint."""
    joints = cat["keypoints"]
    guess, truth, boxes = [], [], []
    for image in dataset.images:
        anns = [a for a in dataset.annotations_for(image["id"])
                if a["category_id"] == cat["id"] and a.get("keypoints") and not a.get("iscrowd")]
        if not anns:
            continue
        gt = np.array([a["keypoints"] for a in anns], np.float64).reshape(len(anns), len(joints), 3)
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float64)
        found = np.full((len(anns), len(joints), 2), np.nan)
        kp = predictions.get(image["id"])
        if kp is not None and len(kp):
            match = match_instances(xyxy, np.asarray(kp.boxes, np.float64).reshape(-1, 4), kp.scores)
            points = _in_dataset_order(kp, joints)
            found[match >= 0] = points[match[match >= 0], :, :2]
        guess.append(found)
        truth.append(gt)
        boxes.append(xyxy)
    if not truth:
        return float("nan"), np.full(len(joints), np.nan)
    gt, xyxy = np.concatenate(truth), np.concatenate(boxes)
    reference = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
    # NaN (unfound figure, missing joint) is never within reach: it counts as a miss
    return pck(np.concatenate(guess), gt[..., :2], gt[..., 2] > 0, reference, alpha=PCK_ALPHA)


def evaluate_pose(dataset: str | Path | CocoDataset, predictions: Mapping[int, Keypoints],
                  sigmas: Sequence[float] | None = None) -> dict[str, Any]:
    """Keypoint AP through pycocotools (OKS with ``sigmas``, default :func:`default_sigmas`) on
    the category that has keypoints, and PCK@0.1: predicted instances, best score first, each take
    the free ground-truth figure they overlap most by box IoU >= 0.5 (:func:`match_instances`; box
    IoU, not OKS, so that the matching does not depend on the joints being scored); then a
    labelled joint (v > 0) is correct within 0.1 x the larger side of the ground-truth box, and a
    figure no instance found misses all its joints."""
    dataset = as_dataset(dataset)
    cat = _keypoint_category(dataset)
    joints = list(cat["keypoints"])
    sigmas = pose_sigmas(dataset, sigmas)
    gt = _ground_truth(dataset, [cat])
    # pycocotools needs num_keypoints, which foreign files may leave out
    gt["annotations"] = [{"num_keypoints": sum(v > 0 for v in a["keypoints"][2::3]), **a}
                         for a in gt["annotations"] if "keypoints" in a]
    results = keypoint_results(dataset, predictions)
    stats = coco_ap(gt, results, "keypoints", sigmas=sigmas)
    overall, per_joint = _pck(dataset, cat, predictions)
    named = {n for kp in predictions.values() for n in kp.names}
    lacking = [j for j in joints if named and j not in named]
    return {"task": "pose", "metric": "COCO keypoint AP (pycocotools) and PCK@0.1",
            "images": len(dataset.images), "ground_truth": len(gt["annotations"]),
            "predictions": len(results), "keypoint_AP": round(stats["AP"], 6),
            "keypoint_AP50": round(stats["AP50"], 6), "keypoint_AP75": round(stats["AP75"], 6),
            "keypoint_AR": round(stats["AR"], 6), "pck@0.1": _clean(overall),
            "sigmas": [round(s, 4) for s in sigmas],
            "per_joint": {name: _clean(v) for name, v in zip(joints, per_joint)},
            "notes": [f"the model has no joint named {', '.join(lacking)} (counted as missed)"] if lacking else []}
