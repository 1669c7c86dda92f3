"""COCO JSON datasets: write ShapeWorld scenes as COCO, read and validate any COCO file.

:func:`write_coco` writes ``DIR/annotations.json`` (images, annotations, categories), the
images as PNG at their ``file_name`` under ``DIR``, and for the segment task the label maps
as ``DIR/masks/<image stem>.png`` (uint8 class ids, 0 background). Segmentations are RLE of
the *visible* instance mask; ``bbox`` ``[x, y, w, h]`` and ``area`` come from that mask.
Keypoints are ``[x, y, v] * K`` in OpenCV pixel coordinates (pixel centres on integers).

:func:`load_coco` reads a COCO file from anywhere and checks the fields training and
evaluation need, raising :class:`~visionkit.errors.InputError` with one line that names the
missing or bad field.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, require
from .figures import JOINTS, SKELETON
from .scenes import CATEGORIES, FIGURE_ID, SCENE_TASKS, annotate, iter_scenes
from .shapeworld import render, semantic_map

__all__ = ["CocoDataset", "categories", "encode_mask", "load_coco", "scene_to_coco", "write_coco"]


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed RLE of a bool mask, JSON-ready (``counts`` as str)."""
    mask_util = require("pycocotools.mask", "train")
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def categories(task: str) -> list[dict]:
    """COCO categories: id = class id + 1 (the semantic-map value); the figure category
    carries ``keypoints`` and a 1-based ``skeleton``. Pose sets list only the figure."""
    out = []
    for cid, name in enumerate(CATEGORIES):
        cat = {"id": cid + 1, "name": name, "supercategory": "figure" if cid == FIGURE_ID else "shape"}
        if cid == FIGURE_ID:
            cat["keypoints"] = list(JOINTS)
            cat["skeleton"] = [[a + 1, b + 1] for a, b in SKELETON]
        out.append(cat)
    return [c for c in out if c["id"] == FIGURE_ID + 1] if task == "pose" else out


def scene_to_coco(scene, image_id: int, first_ann_id: int, task: str = "detect") -> list[dict]:
    """COCO annotations of one scene (pose: figures only)."""
    mask_util = require("pycocotools.mask", "train")
    anns = []
    for a in annotate(scene):
        if task == "pose" and a.class_id != FIGURE_ID:
            continue
        rle = encode_mask(a.mask)
        x1, y1, x2, y2 = (float(v) for v in a.box)
        ann = {
            "id": first_ann_id + len(anns), "image_id": image_id, "category_id": a.class_id + 1,
            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(mask_util.area(rle)),
            "segmentation": rle, "iscrowd": 0,
        }
        if a.keypoints is not None:
            kp = a.keypoints
            ann["keypoints"] = [round(float(v), 2) for v in kp.reshape(-1)]
            ann["num_keypoints"] = int((kp[:, 2] > 0).sum())
        anns.append(ann)
    return anns


def write_coco(out_dir: str | Path, task: str, n: int, seed: int, size: int = 256,
               progress: bool = False) -> dict:
    """Write ``n`` ShapeWorld scenes of ``task`` (detect|segment|pose), set ``seed``, as COCO.

    Returns a summary: directory, annotations path, n, seed, size, task, annotation count.
    """
    if task not in SCENE_TASKS:
        raise InputError(f"COCO sets are for {', '.join(SCENE_TASKS)}, not {task!r}")
    if n < 1:
        raise InputError(f"need at least one image, not {n}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    (root / "images").mkdir(parents=True, exist_ok=True)
    if task == "segment":
        (root / "masks").mkdir(exist_ok=True)
    images, anns = [], []
    t0 = last = time.monotonic()
    for i, scene in enumerate(iter_scenes(task, n, seed, size)):
        stem = f"{task}_{seed}_{i:06d}"
        name = f"images/{stem}.png"
        if not cv2.imwrite(str(root / name), cv2.cvtColor(render(scene), cv2.COLOR_RGB2BGR)):
            raise InputError(f"{root / name}: cannot write image")
        if task == "segment" and not cv2.imwrite(str(root / "masks" / f"{stem}.png"), semantic_map(scene)):
            raise InputError(f"{root / 'masks' / stem}.png: cannot write label map")
        images.append({"id": i + 1, "file_name": name, "width": scene.width, "height": scene.height})
        anns += scene_to_coco(scene, i + 1, len(anns) + 1, task)
        now = time.monotonic()
        if progress and (now - last > 0.5 or i + 1 == n):
            last = now
            print(f"\rwriting {root}: {i + 1}/{n} images", end="", file=sys.stderr, flush=True)
    if progress:
        print(f" ({time.monotonic() - t0:.1f}s)", file=sys.stderr, flush=True)
    doc = {
        "info": {"description": f"ShapeWorld {task} set", "generator": "visionkit shapeworld",
                 "task": task, "seed": seed, "size": size},
        "images": images, "annotations": anns, "categories": categories(task),
    }
    path = root / "annotations.json"
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return {"out_dir": str(root), "annotations": str(path), "n": n, "seed": seed, "size": size,
            "task": task, "generator": "shapeworld", "num_annotations": len(anns),
            "categories": [c["name"] for c in doc["categories"]]}


# ------------------------------------------------------------------ reading


@dataclass
class CocoDataset:
    """A validated COCO file. ``root`` is the folder image ``file_name``s are relative to."""

    path: Path
    root: Path
    images: list[dict]
    annotations: list[dict]
    categories: list[dict]
    by_image: dict[int, list[dict]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def category_names(self) -> dict[int, str]:
        return {c["id"]: c["name"] for c in self.categories}

    @property
    def keypoint_category(self) -> dict | None:
        return next((c for c in self.categories if c.get("keypoints")), None)

    @property
    def keypoint_names(self) -> list[str]:
        cat = self.keypoint_category
        return list(cat["keypoints"]) if cat else []

    @property
    def skeleton(self) -> list[list[int]]:
        """0-based joint-index pairs."""
        cat = self.keypoint_category
        return [[a - 1, b - 1] for a, b in cat.get("skeleton", [])] if cat else []

    def image_path(self, image: dict) -> Path:
        return self.root / image["file_name"]

    def load_image(self, image: dict) -> np.ndarray:
        from .imagefolder import load_image

        return load_image(self.image_path(image))

    def annotations_for(self, image_id: int) -> list[dict]:
        return self.by_image.get(image_id, [])

    def mask(self, ann: dict, image: dict) -> np.ndarray:
        """The annotation's mask (polygon or RLE) as (H, W) bool."""
        mask_util = require("pycocotools.mask", "train")
        h, w = int(image["height"]), int(image["width"])
        seg = ann.get("segmentation")
        if not seg:
            raise InputError(f"{self.path}: annotation {ann.get('id')} has no 'segmentation'")
        if isinstance(seg, list):
            rle = mask_util.merge(mask_util.frPyObjects(seg, h, w))
        elif isinstance(seg.get("counts"), list):
            rle = mask_util.frPyObjects(seg, h, w)
        else:
            rle = seg
        return mask_util.decode(rle).astype(bool)

    def label_map_path(self, image: dict) -> Path:
        return self.root / "masks" / f"{Path(image['file_name']).stem}.png"


def _need(obj, key: str, what: str, where: str, kinds=None):
    if not isinstance(obj, dict):
        raise InputError(f"{where}: {what} is not an object")
    if key not in obj:
        raise InputError(f"{where}: {what} has no {key!r}")
    if kinds is not None and not isinstance(obj[key], kinds):
        raise InputError(f"{where}: {what} has a bad {key!r} ({type(obj[key]).__name__})")
    return obj[key]


def load_coco(path: str | Path, image_root: str | Path | None = None) -> CocoDataset:
    """Read and validate ``path`` (a COCO JSON file, or a folder holding ``annotations.json``).

    Images are looked up relative to ``image_root`` (default: the JSON file's folder).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "annotations.json"
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    where = str(p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{where}: top level is not a JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            raise InputError(f"{where}: no {key!r} list")
    num = (int, float)
    cats: dict[int, dict] = {}
    for i, c in enumerate(doc["categories"]):
        cid = _need(c, "id", f"category {i}", where, int)
        _need(c, "name", f"category {i}", where, str)
        if "keypoints" in c:
            if not isinstance(c["keypoints"], list):
                raise InputError(f"{where}: category {i} has a bad 'keypoints' (not a list)")
            k = len(c["keypoints"])
            for pair in c.get("skeleton", []):
                if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) and 1 <= v <= k for v in pair)):
                    raise InputError(f"{where}: category {i} has a bad 'skeleton' pair {pair!r}")
        cats[cid] = c
    image_ids = set()
    for i, im in enumerate(doc["images"]):
        image_ids.add(_need(im, "id", f"image {i}", where, int))
        _need(im, "file_name", f"image {i}", where, str)
        for key in ("width", "height"):
            if _need(im, key, f"image {i}", where, int) < 1:
                raise InputError(f"{where}: image {i} has a bad {key!r} ({im[key]})")
    by_image: dict[int, list[dict]] = {}
    for i, a in enumerate(doc["annotations"]):
        what = f"annotation {i}"
        iid = _need(a, "image_id", what, where, int)
        if iid not in image_ids:
            raise InputError(f"{where}: {what} has an 'image_id' ({iid}) that no image has")
        cid = _need(a, "category_id", what, where, int)
        if cid not in cats:
            raise InputError(f"{where}: {what} has a 'category_id' ({cid}) that no category has")
        bbox = _need(a, "bbox", what, where, list)
        if len(bbox) != 4 or not all(isinstance(v, num) for v in bbox) or bbox[2] < 0 or bbox[3] < 0:
            raise InputError(f"{where}: {what} has a bad 'bbox' (want [x, y, w, h], got {bbox!r})")
        seg = a.get("segmentation")
        if seg is not None and not isinstance(seg, (list, dict)):
            raise InputError(f"{where}: {what} has a bad 'segmentation' (neither polygons nor RLE)")
        if isinstance(seg, dict) and ("counts" not in seg or "size" not in seg):
            raise InputError(f"{where}: {what} has an RLE 'segmentation' without "
                             f"{'counts' if 'counts' not in seg else 'size'!r}")
        kp_names = cats[cid].get("keypoints")
        if "keypoints" in a:
            kp = a["keypoints"]
            if not kp_names:
                raise InputError(f"{where}: {what} has 'keypoints' but its category has no 'keypoints' names")
            if not isinstance(kp, list) or len(kp) != 3 * len(kp_names):
                raise InputError(f"{where}: {what} has a bad 'keypoints' (want {3 * len(kp_names)} numbers)")
        a.setdefault("iscrowd", 0)
        if "area" not in a:
            a["area"] = float(bbox[2] * bbox[3])
        by_image.setdefault(iid, []).append(a)
    root = Path(image_root) if image_root is not None else p.parent
    return CocoDataset(p, root, doc["images"], doc["annotations"], doc["categories"], by_image)
