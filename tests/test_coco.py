"""COCO writer/reader: files on disk, pycocotools loads and scores them, clear errors."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from visionkit.cli import main
from visionkit.data.coco import load_coco, write_coco
from visionkit.data.figures import JOINTS, SKELETON
from visionkit.data.scenes import CATEGORIES, FIGURE_ID, scene_for
from visionkit.data.shapeworld import semantic_map
from visionkit.errors import InputError

# pycocotools' Cython RLE objects trip a numpy 2 DeprecationWarning on decode
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    return {task: Path(write_coco(root / task, task, n, seed=11, size=96)["out_dir"])
            for task, n in (("detect", 24), ("segment", 6), ("pose", 16))}


def _coco(path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _self_ap(path: Path, iou_type: str) -> float:
    gt = _coco(path / "annotations.json")
    dets = copy.deepcopy(gt.dataset["annotations"])
    for d in dets:
        d["score"] = 1.0
        if iou_type == "bbox":
            d.pop("segmentation")
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        if iou_type == "keypoints":
            ev.params.kpt_oks_sigmas = np.full(len(JOINTS), 0.05)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


@pytest.mark.parametrize("task,iou_type", [("detect", "bbox"), ("detect", "segm"),
                                           ("segment", "segm"), ("pose", "keypoints"),
                                           ("pose", "bbox")])
def test_ground_truth_as_detections_scores_ap_one(sets, task, iou_type):
    assert _self_ap(sets[task], iou_type) == pytest.approx(1.0)


def test_files_and_fields(sets):
    doc = json.loads((sets["detect"] / "annotations.json").read_text())
    assert [c["name"] for c in doc["categories"]] == list(CATEGORIES)
    assert len(doc["images"]) == 24 and doc["annotations"]
    for im in doc["images"]:
        assert (sets["detect"] / im["file_name"]).is_file()
    ann_ids = [a["id"] for a in doc["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids)
    gt = _coco(sets["detect"] / "annotations.json")
    for a in doc["annotations"]:
        m = gt.annToMask(a).astype(bool)
        ys, xs = np.nonzero(m)
        x, y, w, h = a["bbox"]
        assert (x, y, x + w, y + h) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert a["area"] == m.sum() and a["iscrowd"] == 0
        assert isinstance(a["segmentation"]["counts"], str)


def test_segment_label_maps_match_scenes(sets):
    ds = load_coco(sets["segment"])
    assert len(ds) == 6
    for i, im in enumerate(ds.images):
        lm = cv2.imread(str(ds.label_map_path(im)), cv2.IMREAD_UNCHANGED)
        assert lm.dtype == np.uint8 and lm.shape == (96, 96)
        assert np.array_equal(lm, semantic_map(scene_for("segment", 11, i, 96)))
        union = np.zeros_like(lm)
        for a in ds.annotations_for(im["id"]):
            union[ds.mask(a, im)] = a["category_id"]
        assert np.array_equal(union, lm)
        assert ds.load_image(im).shape == (96, 96, 3)


def test_pose_category_and_keypoints(sets):
    ds = load_coco(sets["pose"] / "annotations.json")
    (cat,) = ds.categories
    assert cat["id"] == FIGURE_ID + 1 and cat["keypoints"] == list(JOINTS)
    assert cat["skeleton"] == [[a + 1, b + 1] for a, b in SKELETON]
    assert ds.keypoint_names == list(JOINTS) and ds.skeleton == [list(p) for p in SKELETON]
    vis = set()
    for a in ds.annotations:
        kp = np.asarray(a["keypoints"]).reshape(-1, 3)
        assert a["num_keypoints"] == int((kp[:, 2] > 0).sum())
        vis |= set(kp[:, 2].astype(int).tolist())
    assert vis == {0, 1, 2}


def test_deterministic(tmp_path):
    a = write_coco(tmp_path / "a", "pose", 3, seed=4, size=64)
    b = write_coco(tmp_path / "b", "pose", 3, seed=4, size=64)
    assert Path(a["annotations"]).read_text() == Path(b["annotations"]).read_text()
    for name in ("images/pose_4_000000.png", "images/pose_4_000002.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _broken(tmp_path, sets, edit) -> str:
    doc = json.loads((sets["pose"] / "annotations.json").read_text())
    edit(doc)
    p = tmp_path / "annotations.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_coco(p)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(p))
    return msg


@pytest.mark.parametrize("edit,expect", [
    (lambda d: d.pop("images"), "no 'images' list"),
    (lambda d: d.pop("annotations"), "no 'annotations' list"),
    (lambda d: d.pop("categories"), "no 'categories' list"),
    (lambda d: d["annotations"][3].pop("bbox"), "annotation 3 has no 'bbox'"),
    (lambda d: d["annotations"][1].pop("image_id"), "annotation 1 has no 'image_id'"),
    (lambda d: d["annotations"][0].pop("category_id"), "annotation 0 has no 'category_id'"),
    (lambda d: d["annotations"][2].update(bbox=[1, 2, 3]), "annotation 2 has a bad 'bbox'"),
    (lambda d: d["annotations"][2].update(image_id=9999), "annotation 2 has an 'image_id' (9999)"),
    (lambda d: d["annotations"][0].update(keypoints=[1, 2, 2]), "annotation 0 has a bad 'keypoints'"),
    (lambda d: d["images"][2].pop("file_name"), "image 2 has no 'file_name'"),
    (lambda d: d["images"][0].pop("height"), "image 0 has no 'height'"),
    (lambda d: d["categories"][0].pop("name"), "category 0 has no 'name'"),
])
def test_missing_fields_are_one_line_errors(tmp_path, sets, edit, expect):
    assert expect in _broken(tmp_path, sets, edit)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_coco(tmp_path)
    (tmp_path / "annotations.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_coco(tmp_path)


def test_foreign_polygon_coco_loads(tmp_path):
    doc = {"images": [{"id": 7, "file_name": "x.jpg", "width": 20, "height": 10}],
           "categories": [{"id": 1, "name": "thing"}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [2, 2, 4, 4],
                            "segmentation": [[2, 2, 6, 2, 6, 6, 2, 6]]}]}
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    ds = load_coco(tmp_path)
    (a,) = ds.annotations_for(7)
    m = ds.mask(a, ds.images[0])
    assert m.shape == (10, 20) and 12 <= m.sum() <= 30
    assert a["iscrowd"] == 0 and a["area"] == 16


@pytest.mark.parametrize("task", ["detect", "segment", "pose"])
def test_cli_writes_coco(tmp_path, capsys, task):
    out = tmp_path / task
    rc = main(["data", "shapeworld", "--task", task, "--n", "2", "--seed", "3", "--format", "coco",
               "--size", "64", "--out", str(out), "-q"])
    assert rc == 0
    assert "annotations" in capsys.readouterr().out
    ds = load_coco(out)
    assert len(ds) == 2 and all(ds.image_path(im).is_file() for im in ds.images)
    assert (out / "masks").is_dir() == (task == "segment")


def test_cli_rejects_mismatched_format(tmp_path, capsys):
    rc = main(["data", "shapeworld", "--task", "classify", "--format", "coco", "--n", "1",
               "--out", str(tmp_path / "x")])
    assert rc == 2 and "format" in capsys.readouterr().err
