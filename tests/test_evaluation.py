"""Evaluation on COCO sets: predictions made from the ground truth score perfectly, damaged ones
score strictly lower, small cases are checked by hand, and classes meet categories by name."""

import json
import shutil

import cv2
import numpy as np
import pytest

from visionkit.cli import main
from visionkit.data.coco import load_coco, write_coco
from visionkit.errors import InputError, UsageError
from visionkit.evaluation import (
    FIGURE_SIGMAS,
    detection_results,
    evaluate_detect,
    evaluate_pose,
    evaluate_segment,
    ground_truth_map,
    match_instances,
)
from visionkit.coco_evaluator import run_pipeline
from visionkit.results import Detections, Keypoints, SegmentationMask

from .conftest import _save


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_sets")
    return {task: load_coco(write_coco(root / task, task, n=6, seed=4242, size=96)["out_dir"])
            for task in ("detect", "segment", "pose")}


def xyxy(ann):
    x, y, w, h = ann["bbox"]
    return [x, y, x + w, y + h]


def perfect_detections(ds, model_labels=None, shift=0.0, drop=None, relabel=None):
    """Detections from the ground truth; the model's class ids follow ``model_labels``."""
    names = ds.category_names
    model_labels = model_labels or [c["name"] for c in ds.categories]
    out = {}
    for im in ds.images:
        anns = [a for a in ds.annotations_for(im["id"]) if a["id"] != drop]
        labels = tuple((relabel or {}).get(a["id"], names[a["category_id"]]) for a in anns)
        boxes = np.array([xyxy(a) for a in anns], np.float32).reshape(-1, 4) + shift
        out[im["id"]] = Detections(boxes, np.ones(len(anns), np.float32),
                                   np.array([model_labels.index(lab) if lab in model_labels else 0 for lab in labels]),
                                   labels)
    return out


def test_perfect_detections_score_one_whatever_the_label_order(sets):
    ds = sets["detect"]
    reversed_labels = [c["name"] for c in ds.categories][::-1]
    metrics = evaluate_detect(ds, perfect_detections(ds, reversed_labels), model_labels=reversed_labels)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert metrics["predictions"] == metrics["ground_truth"] == len(ds.annotations)
    assert metrics["images"] == 6 and metrics["notes"] == []
    present = {ds.category_names[a["category_id"]] for a in ds.annotations}
    assert {k for k, v in metrics["per_class"].items() if v is not None} == present
    assert all(v == pytest.approx(1.0) for v in metrics["per_class"].values() if v is not None)
    json.dumps(metrics, allow_nan=False)  # None, never NaN, for classes without ground truth


def test_damaged_detections_score_lower(sets):
    ds = sets["detect"]
    first = ds.annotations[0]
    other = next(c["name"] for c in ds.categories if c["id"] != first["category_id"])
    for damaged in (perfect_detections(ds, shift=4.0), perfect_detections(ds, drop=first["id"]),
                    perfect_detections(ds, relabel={first["id"]: other})):
        assert evaluate_detect(ds, damaged)["AP"] < 0.999


def test_detections_map_by_name_and_unknown_classes_are_noted(sets):
    ds = sets["detect"]
    image_id = ds.images[0]["id"]
    ids = {c["name"]: c["id"] for c in ds.categories}
    det = Detections(np.array([[1, 2, 11, 22], [0, 0, 5, 5], [3, 3, 9, 9]], np.float32),
                     np.array([0.9, 0.8, 0.7], np.float32), np.array([0, 1, 2]), ("star", "zebra", "circle"))
    results = detection_results(ds, {image_id: det, 999: det})  # image 999 is not in the set: left out
    assert [(r["category_id"], r["bbox"]) for r in results] == [(ids["star"], [1, 2, 10, 20]),
                                                                 (ids["circle"], [3, 3, 6, 6])]
    notes = evaluate_detect(ds, {image_id: det}, model_labels=("star", "zebra", "circle"))["notes"]
    assert "1 detection of classes the dataset lacks left out: zebra (1)" in notes
    assert f"the model has no class for {len(ids) - 2} dataset categories" in notes[1]


# ------------------------------------------------------------------ segment


def masks_of(ds, order=None):
    """SegmentationMasks equal to the ground truth, with class ids in the model's ``order``."""
    order = order or [c["name"] for c in ds.categories]
    lut = np.zeros(256, np.uint8)
    for c in ds.categories:
        lut[c["id"]] = order.index(c["name"]) + 1
    return {im["id"]: SegmentationMask(lut[ground_truth_map(ds, im)], ("background", *order)) for im in ds.images}


def test_perfect_segmentation_in_another_class_order(sets):
    ds = sets["segment"]
    metrics = evaluate_segment(ds, masks_of(ds, [c["name"] for c in ds.categories][::-1]))
    assert metrics["mIoU"] == pytest.approx(1.0) and metrics["pixel_accuracy"] == pytest.approx(1.0)
    assert metrics["per_class"]["background"] == pytest.approx(1.0)
    assert metrics["ground_truth"] == "masks/ label maps" and metrics["notes"] == []
    # without an image's prediction, that image counts as all background: lower
    first = ds.images[0]["id"]
    partial = {k: v for k, v in masks_of(ds).items() if k != first}
    assert evaluate_segment(ds, partial)["mIoU"] < 0.999


def test_ground_truth_from_annotation_masks_equals_the_label_maps(sets, tmp_path):
    copy = tmp_path / "no_masks"
    shutil.copytree(sets["segment"].root, copy)
    shutil.rmtree(copy / "masks")
    painted = load_coco(copy)
    for im in painted.images:
        np.testing.assert_array_equal(ground_truth_map(painted, im), ground_truth_map(sets["segment"], im))
    assert evaluate_segment(painted, masks_of(painted))["ground_truth"] == "annotation masks"


def tiny_segment_set(root, truth):
    """One 4x4 image; categories a (id 1) and b (id 2); ``truth`` as its masks/ label map."""
    (root / "masks").mkdir(parents=True)
    cv2.imwrite(str(root / "img.png"), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(root / "masks" / "img.png"), np.asarray(truth, np.uint8))
    doc = {"images": [{"id": 1, "file_name": "img.png", "width": 4, "height": 4}], "annotations": [],
           "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    (root / "annotations.json").write_text(json.dumps(doc))
    return root


def test_miou_by_hand(tmp_path):
    truth = [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    # the model knows b first, then a, then a class the dataset lacks
    pred = np.array([[0, 0, 2, 2], [0, 0, 2, 2], [0, 2, 2, 2], [0, 0, 3, 3]], np.uint8)
    ds = tiny_segment_set(tmp_path / "set", truth)
    metrics = evaluate_segment(ds, {1: SegmentationMask(pred, ("bg", "b", "a", "zebra"))})
    # background: 8 true, 7 predicted, all right: 7/8; a: 8 true, 7 predicted, 6 right: 6/(8+7-6);
    # b: neither present nor predicted, so left out of the mean
    assert metrics["per_class"] == {"background": pytest.approx(7 / 8), "a": pytest.approx(6 / 9), "b": None}
    assert metrics["mIoU"] == pytest.approx((7 / 8 + 6 / 9) / 2) and metrics["classes_scored"] == 2
    assert metrics["pixel_accuracy"] == pytest.approx(13 / 16)
    assert "2 predicted pixels of classes the dataset lacks (zebra) count as wrong" in metrics["notes"]


def test_missing_label_map_is_a_one_line_error(tmp_path):
    ds = tiny_segment_set(tmp_path / "set", np.zeros((4, 4)))
    (ds / "masks" / "img.png").unlink()
    with pytest.raises(InputError, match=r"masks/img\.png: ground-truth label map missing") as err:
        evaluate_segment(ds, {})
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ pose


def keypoints_of(ds, joint_order=None, move=None, drop=None):
    """Keypoints equal to the ground truth, joints in ``joint_order``; ``move`` {ann id: dx}."""
    names = ds.keypoint_names
    order = joint_order or names
    perm = [names.index(n) for n in order]
    out = {}
    for im in ds.images:
        anns = [a for a in ds.annotations_for(im["id"]) if a["id"] != drop]
        pts = np.array([a["keypoints"] for a in anns], np.float32).reshape(len(anns), len(names), 3)
        for i, a in enumerate(anns):
            pts[i, :, 0] += (move or {}).get(a["id"], 0.0)
        boxes = np.array([xyxy(a) for a in anns], np.float32).reshape(-1, 4)
        out[im["id"]] = Keypoints(boxes, np.ones(len(anns), np.float32), pts[:, perm], tuple(order))
    return out


def test_perfect_keypoints_in_another_joint_order(sets):
    ds = sets["pose"]
    metrics = evaluate_pose(ds, keypoints_of(ds, ds.keypoint_names[::-1]))
    assert metrics["keypoint_AP"] == pytest.approx(1.0) and metrics["keypoint_AP50"] == pytest.approx(1.0)
    assert metrics["pck@0.1"] == pytest.approx(1.0)
    assert list(metrics["per_joint"]) == ds.keypoint_names
    assert metrics["sigmas"] == list(FIGURE_SIGMAS) and metrics["notes"] == []


def test_damaged_keypoints_score_lower(sets):
    ds = sets["pose"]
    first = ds.annotations[0]
    moved = evaluate_pose(ds, keypoints_of(ds, move={first["id"]: 40.0}))
    assert moved["keypoint_AP"] < 0.999 and moved["pck@0.1"] < 0.999
    dropped = evaluate_pose(ds, keypoints_of(ds, drop=first["id"]))
    # an unfound figure misses all its labelled joints
    labelled = sum(v > 0 for a in ds.annotations for v in a["keypoints"][2::3])
    missed = sum(v > 0 for v in first["keypoints"][2::3])
    assert dropped["pck@0.1"] == pytest.approx(1 - missed / labelled)


def test_wrong_number_of_sigmas(sets):
    with pytest.raises(UsageError, match="3 sigmas given; category 'figure' has 15 keypoints"):
        evaluate_pose(sets["pose"], {}, sigmas=[0.1, 0.1, 0.1])


def test_matching_goes_by_score_then_overlap():
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    boxes = np.array([[1, 0, 11, 10], [0, 0, 10, 10], [20, 0, 30, 10], [50, 50, 60, 60]], float)
    # prediction 1 fits truth 0 best but scores lower than prediction 0, which takes it first
    assert match_instances(truth, boxes, np.array([0.9, 0.5, 0.8, 0.99])).tolist() == [0, 2]
    assert match_instances(truth, boxes[3:], np.array([0.9])).tolist() == [-1, -1]  # IoU 0 < 0.5


# ------------------------------------------------------------------ running a model, the CLI


def make_tiny_segmenter(path, labels=("background", "circle", "star", "zebra")):
    """A standalone model that labels each pixel by its strongest colour channel (R circle,
    G star, B zebra), background where all are dark."""
    from onnx import TensorProto, helper, numpy_helper

    from visionkit.cards import InputSpec, ModelCard

    weight = np.zeros((4, 3, 1, 1), np.float32)
    weight[1:, :, 0, 0] = np.eye(3)
    bias = np.array([0.3, 0, 0, 0], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w", "b"], ["scores"])], "tiny_segmenter",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 4, 32, 32])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = ModelCard(task="segment", name="tiny_segmenter", input=InputSpec(size=(32, 32)),
                     labels=tuple(labels), output="deeplab")
    return _save(model, path, card)


def test_cli_segment_lists_a_corrupt_image_and_scores_the_rest(sets, tmp_path, capsys):
    data = tmp_path / "set"
    shutil.copytree(sets["segment"].root, data)
    broken = data / sets["segment"].images[1]["file_name"]
    broken.write_bytes(b"not a png")
    model = make_tiny_segmenter(tmp_path / "seg.onnx")

    code = main(["eval", "segment", "--data", str(data / "annotations.json"), "--model", str(model), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert str(broken) in err and "1 of 6 images failed" in err
    metrics = json.loads(out)
    assert metrics["images"] == 5 and metrics["failed"] == 1 and metrics["model"] == "seg.onnx"
    assert metrics["failures"][0]["file"] == str(broken)
    assert 0 <= metrics["mIoU"] <= 1 and "zebra" in " ".join(metrics["notes"])

    assert main(["eval", "segment", "--data", str(data), "--model", str(model)]) == 1
    out, _ = capsys.readouterr()
    assert "mIoU" in out and "per class (IoU):" in out and "note: " in out

    from visionkit.pipeline import Pipeline

    predictions, failures = run_pipeline(load_coco(data), Pipeline(["segment"], model=model), "segment",
                                         progress=False)
    assert len(predictions) == 5 and [f for f, _ in failures] == [str(broken)]


@pytest.mark.parametrize("args,fragment", [
    (["eval", "detect", "--data", "d", "--gt", "g.json", "--dets", "r.json"], "give one or the other"),
    (["eval", "detect", "--data", "d", "--gt", "g.json"], "give one or the other"),
    (["eval", "detect", "--gt", "g.json", "--dets", "r.json", "--model", "m.onnx"], "not on --gt/--dets"),
    (["eval", "segment", "--data", "d", "--sigmas", "0.1"], "--sigmas is for pose, not segment"),
    (["eval", "classify", "--data", "d", "--score", "0.1"], "--score is for detect and pose"),
    (["eval", "zebra", "--data", "d"], "no evaluator for task 'zebra'"),
])
def test_cli_usage_errors(args, fragment, capsys):
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_cli_checks_ground_truth_before_running_a_model(sets, tmp_path, capsys):
    # no model exists at these paths: the check must come first
    assert main(["eval", "pose", "--data", str(sets["pose"].root), "--sigmas", "0.1,0.1",
                 "--model", str(tmp_path / "none.onnx")]) == 2
    assert "2 sigmas given; category 'figure' has 15 keypoints" in capsys.readouterr().err
    data = shutil.copytree(sets["segment"].root, tmp_path / "set")
    (data / "masks" / f"segment_4242_{2:06d}.png").unlink()
    assert main(["eval", "segment", "--data", str(data), "--model", str(tmp_path / "none.onnx")]) == 1
    assert "segment_4242_000002.png: ground-truth label map missing" in capsys.readouterr().err


def test_cli_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["eval", "detect", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "nowhere: no such file" in err and err.count("\n") == 1
