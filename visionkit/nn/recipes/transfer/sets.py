"""A user's labelled pictures for one head: an ImageFolder (classify) or a COCO set (detect,
segment, pose), checked for what the task needs and read as the backbone sees them.

:func:`read_set` refuses, in one line and before anything is written, a folder that is not the
set the task reads, a set without the annotations the task learns from, a classifier's single
class, and names that clash. Each set then serves the feature cache
(:class:`visionkit.nn.feature_cache.Pictures`): its pictures put through the backbone card's
geometry (letterboxed, for the bundled backbones) with boxes, label maps and joints moved
along, and a fingerprint that changes when a file does. Pictures are named in the fingerprint
by path, size and modification time (hashing their bytes would read the whole set again before
a run on a cache could start), the annotation file by its content.

:func:`split` draws the seeded validation split, and :meth:`validation` hands it to the
task's evaluator in the form ``visionkit eval`` reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from visionkit.cards import InputSpec
from visionkit.data.coco import CocoDataset, load_coco
from visionkit.data.imagefolder import read_image_folder
from visionkit.data.scene_arrays import SceneArrays
from visionkit.errors import InputError, UsageError
from visionkit.evaluation import ground_truth_map, segment_ground_truth, subset
from visionkit.imageio import read_image
from visionkit.preprocess import Transform, preprocess

__all__ = ["TASKS", "CocoSet", "FolderSet", "read_set", "split"]

TASKS = ("classify", "detect", "segment", "pose")


def _digest(items: Any) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]


def _stat(paths: Sequence[Path], root: Path) -> list:
    out = []
    for p in paths:
        st = p.stat()
        out.append([os.path.relpath(p, root), st.st_size, st.st_mtime_ns])
    return out


def _geometry(image: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    tensor, t = preprocess(image, spec)
    return tensor[0], t


def _warp(label_map: np.ndarray, t: Transform, size: tuple[int, int]) -> np.ndarray:
    """A label map placed as the picture was (nearest, padding as background)."""
    warp = np.array([[t.scale_x, 0, t.offset_x], [0, t.scale_y, t.offset_y]], np.float64)
    return cv2.warpAffine(label_map, warp, (size[1], size[0]), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _stack(items: list, image_labels: list[int]) -> SceneArrays:
    images, semantic, boxes, classes, keypoints = zip(*items)
    return SceneArrays(np.stack(images), np.stack(semantic), list(boxes), list(classes), list(keypoints),
                       np.array(image_labels, np.int64))


class FolderSet:
    """An ImageFolder ``ROOT/<class>/<picture>`` for the classify head."""

    task = "classify"
    joints: tuple[str, ...] = ()

    def __init__(self, root: Path):
        self.root = root
        samples, self.labels = read_image_folder(root)
        self.files = [p for p, _ in samples]
        self.classes = [c for _, c in samples]

    def __len__(self) -> int:
        return len(self.files)

    def fingerprint(self) -> dict[str, Any]:
        # the relative path holds the class folder: moving a picture to another class changes it
        return {"task": self.task, "format": "imagefolder", "pictures": len(self),
                "files": _digest(_stat(self.files, self.root))}

    def arrays(self, start: int, stop: int, spec: InputSpec) -> SceneArrays:
        items = []
        for path in self.files[start:stop]:
            image, _ = _geometry(read_image(path), spec)
            items.append((image, np.zeros(spec.size, np.uint8), np.zeros((0, 4), np.float32),
                          np.zeros(0, np.int64), np.zeros((0, 0, 3), np.float32)))
        return _stack(items, self.classes[start:stop])

    @contextlib.contextmanager
    def validation(self, indices: Sequence[int]) -> Iterator[str]:
        """The pictures ``indices`` as an ImageFolder of their own (links to the files, in a
        temporary folder), as the classify evaluator reads one."""
        with tempfile.TemporaryDirectory(prefix="visionkit-val-") as tmp:
            for i in indices:
                target = Path(tmp) / self.labels[self.classes[i]] / f"{i:06d}_{self.files[i].name}"
                target.parent.mkdir(exist_ok=True)
                try:
                    os.symlink(self.files[i].resolve(), target)
                except OSError:  # a file system without links
                    shutil.copyfile(self.files[i], target)
            yield tmp


class CocoSet:
    """A COCO set for the detect, segment or pose head (and pose's detector).

    ``labels`` are the categories by name, in the file's order (a detector's classes, a
    segmenter's besides background); a pose set also has ``joints`` and ``skeleton`` of its
    keypoint category and ``figure`` (that category's index in ``labels`` and its name).
    """

    def __init__(self, task: str, dataset: CocoDataset):
        self.task, self.dataset, self.root = task, dataset, dataset.root
        self.labels = tuple(c["name"] for c in dataset.categories)
        self._index = {c["id"]: i for i, c in enumerate(dataset.categories)}
        self.masks = (dataset.root / "masks").is_dir()
        cat = dataset.keypoint_category if task == "pose" else None
        self.joints = tuple(dataset.keypoint_names) if cat else ()
        self.skeleton = tuple((int(a), int(b)) for a, b in dataset.skeleton) if cat else ()
        self.figure = (self._index[cat["id"]], cat["name"]) if cat else None

    def __len__(self) -> int:
        return len(self.dataset.images)

    def fingerprint(self) -> dict[str, Any]:
        files = [self.dataset.image_path(im) for im in self.dataset.images]
        if self.task == "segment" and self.masks:
            files += [self.dataset.label_map_path(im) for im in self.dataset.images]
        return {"task": self.task, "format": "coco", "pictures": len(self),
                "annotations": hashlib.sha256(self.dataset.path.read_bytes()).hexdigest()[:16],
                "files": _digest(_stat(files, self.root))}

    def arrays(self, start: int, stop: int, spec: InputSpec) -> SceneArrays:
        items = [self._picture(image, spec) for image in self.dataset.images[start:stop]]
        return _stack(items, [-1] * len(items))

    def _picture(self, image: dict, spec: InputSpec):
        pixels = self.dataset.load_image(image)
        if pixels.shape[:2] != (image["height"], image["width"]):
            h, w = pixels.shape[:2]
            raise InputError(f"{self.dataset.image_path(image)}: the picture is {w}x{h}, "
                             f"{self.dataset.path.name} says {image['width']}x{image['height']}")
        tensor, t = _geometry(pixels, spec)
        anns = [a for a in self.dataset.annotations_for(image["id"]) if not a.get("iscrowd")]
        xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        boxes = t.to_input(np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)).reshape(-1, 4)
        classes = np.array([self._index[a["category_id"]] for a in anns], np.int64)
        joints = np.zeros((len(anns), len(self.joints), 3), np.float32)
        for k, a in enumerate(anns):
            if self.joints and a.get("keypoints"):
                kp = np.array(a["keypoints"], np.float32).reshape(-1, 3)
                labelled = kp[:, 2] > 0
                joints[k, labelled, :2] = t.to_input(kp[labelled, :2])
                joints[k, labelled, 2] = kp[labelled, 2]
        semantic = np.zeros(spec.size, np.uint8)
        if self.task == "segment":
            # category ids -> class index + 1; any other value (255 "void") counts as background
            ids = ground_truth_map(self.dataset, image).astype(np.int64)
            lut = np.zeros(max(256, ids.max() + 1), np.uint8)
            for cid, i in self._index.items():
                lut[cid] = i + 1
            semantic = _warp(lut[ids], t, spec.size)
        return tensor, semantic, boxes.astype(np.float32), classes, joints

    def validation(self, indices: Sequence[int]) -> contextlib.AbstractContextManager[CocoDataset]:
        """The pictures ``indices`` as a COCO set of their own, as the COCO evaluators read one."""
        return contextlib.nullcontext(subset(self.dataset, [self.dataset.images[i]["id"] for i in indices]))


def read_set(task: str, data: str | Path) -> FolderSet | CocoSet:
    """The set ``data`` names, checked for ``task``; one line for anything it cannot train on."""
    if task not in TASKS:
        raise UsageError(f"transfer learning trains {', '.join(TASKS)}, not {task!r}")
    root = Path(data)
    if not root.exists():
        raise InputError(f"{data}: no such folder")
    coco_file = root / "annotations.json" if root.is_dir() else root
    if task == "classify":
        if coco_file.suffix == ".json" and coco_file.is_file():
            raise InputError(f"{data}: a COCO set (annotations.json), not an ImageFolder "
                             "DIR/<class>/<picture>; COCO sets train detect, segment or pose")
        pictures = FolderSet(root)
        if len(pictures.labels) < 2:
            raise InputError(f"{data}: one class ({pictures.labels[0]}); a classifier needs pictures of at "
                             "least 2 classes, one folder each")
        return pictures
    if not coco_file.is_file():
        hint = " (it looks like an ImageFolder, which trains classify)" if root.is_dir() and any(
            d.is_dir() for d in root.iterdir()) and not (root / "images").is_dir() else ""
        raise InputError(f"{data}: not a COCO set: no annotations.json{hint}")
    pictures = CocoSet(task, load_coco(coco_file))
    _check_coco(pictures, str(coco_file))
    return pictures


def _check_coco(pictures: CocoSet, where: str) -> None:
    dataset, task = pictures.dataset, pictures.task
    if not dataset.images:
        raise InputError(f"{where}: no images")
    if not pictures.labels:
        raise InputError(f"{where}: no categories")
    twice = sorted({n for n in pictures.labels if pictures.labels.count(n) > 1})
    if twice:
        raise InputError(f"{where}: two categories are named {twice[0]!r}; a model's classes meet them "
                         "by name")
    for image in dataset.images:
        if not dataset.image_path(image).is_file():
            raise InputError(f"{dataset.image_path(image)}: no such picture (named by {where})")
    anns = [a for a in dataset.annotations if not a.get("iscrowd")]
    if task == "detect" and not any(a["bbox"][2] > 0 and a["bbox"][3] > 0 for a in anns):
        raise InputError(f"{where}: no boxes; detect learns from annotations' 'bbox'")
    if task == "segment":
        if pictures.masks:
            segment_ground_truth(dataset)  # one line for the first picture without its label map
        elif not any(a.get("segmentation") for a in anns):
            raise InputError(f"{where}: no masks; segment learns from annotations' 'segmentation' (polygons "
                             "or RLE) or from label maps in masks/<picture stem>.png")
    if task == "pose":
        if pictures.figure is None:
            raise InputError(f"{where}: no category has 'keypoints'; pose learns from keypoint annotations")
        if not any(any(v > 0 for v in a.get("keypoints", [])[2::3]) for a in anns):
            raise InputError(f"{where}: no annotation has labelled 'keypoints'; pose learns from them")


def split(n: int, fraction: float, seed: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) picture indices: a seeded share ``fraction`` held out; one line
    when ``n`` pictures are too few to leave one on each side."""
    if not 0 < fraction < 1:
        raise UsageError(f"--val-split must be between 0 and 1, not {fraction:g}")
    n_val = round(fraction * n)
    if n_val < 1 or n - n_val < 1:
        need = next(m for m in range(2, 10**6) if 1 <= round(fraction * m) < m)
        count = "1 picture is" if n == 1 else f"{n} pictures are"
        raise InputError(f"{where}: {count} too few for a validation split of {fraction:g} (need at least "
                         f"{need}: one held out, the rest to train on)")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
