"""Metrics: COCO AP must reproduce pycocotools' published values on the reference case; mIoU and
PCK are checked on cases small enough to work out by hand."""

import json

import numpy as np
import pytest

from visionkit.errors import InputError
from visionkit.metrics import coco_ap, confusion_matrix, iou_per_class, mean_iou, pck

from .conftest import realworld


@pytest.mark.parametrize("detections", ["det_results_list.json", "det_results_as_dataset.json"])
def test_coco_box_ap_reproduces_the_reference_values(detections):
    folder = realworld("metrics", "coco_sampled")
    expected = json.loads((folder / "expected_pycocotools.json").read_text())
    stats = coco_ap(folder / "gt_instances.json", folder / detections)
    for key, value in expected["stats"].items():
        assert stats[key] == pytest.approx(value, abs=expected["tolerance"]), key
    assert len(stats.per_class) == 80
    # per-class APs average to the overall AP over the classes that have ground truth
    assert np.nanmean(list(stats.per_class.values())) == pytest.approx(stats["AP"], abs=1e-6)


def test_perfect_and_empty_detections():
    gt = {"images": [{"id": 1, "width": 100, "height": 100}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 30, 40],
                           "area": 1200, "iscrowd": 0}],
          "categories": [{"id": 3, "name": "star"}]}
    perfect = coco_ap(gt, [{"image_id": 1, "category_id": 3, "bbox": [10, 10, 30, 40], "score": 0.9}])
    assert perfect["AP"] == pytest.approx(1.0) and perfect.per_class == {"star": pytest.approx(1.0)}
    assert coco_ap(gt, [])["AP"] == 0.0


def test_bad_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "gt.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        coco_ap(bad, [])
    with pytest.raises(InputError, match="no such ground-truth file"):
        coco_ap(tmp_path / "missing.json", [])


def test_miou_by_hand():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 0, 1, 0], [0, 0, 1, 1], [2, 1, 2, 2]])
    conf = confusion_matrix(truth, pred, 3)  # the two 255 pixels are ignored
    assert conf.sum() == 10
    # class 0: tp 4, union 5; class 1: tp 3, union 5; class 2: tp 1, union 2
    np.testing.assert_allclose(iou_per_class(conf), [4 / 5, 3 / 5, 1 / 2])
    assert mean_iou(conf) == pytest.approx((0.8 + 0.6 + 0.5) / 3)
    assert np.isnan(iou_per_class(confusion_matrix(truth, pred, 4))[3])  # absent class: NaN, not 0


def test_pck_by_hand():
    truth = np.zeros((2, 3, 2))
    pred = np.array([[[0, 5], [0, 11], [50, 50]], [[1, 0], [0, 0], [0, 0]]], float)
    visible = np.array([[True, True, False], [True, True, True]])
    overall, per_joint = pck(pred, truth, visible, reference=np.array([100.0, 10.0]), alpha=0.1)
    # instance 1: threshold 10 -> joint0 ok (5), joint1 no (11), joint2 invisible
    # instance 2: threshold 1 -> all ok (1, 0, 0)
    assert overall == pytest.approx(4 / 5)
    np.testing.assert_allclose(per_joint, [1.0, 0.5, 1.0])
