"""`visionkit eval`: a model over a labelled set, and a results file against ground truth."""

import json

import pytest

from visionkit.cli import main

from .conftest import realworld


def run_json(args, capsys):
    code = main([str(a) for a in args] + ["--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_classify_on_a_fresh_imagefolder(tmp_path, capsys):
    assert main(["data", "shapeworld", "--task", "classify", "--n", "56", "--seed", "2718",
                 "--out", str(tmp_path / "set"), "--quiet"]) == 0
    capsys.readouterr()
    metrics = run_json(["eval", "classify", "--data", tmp_path / "set", "--model", "asset:shapeworld_classify.onnx"],
                       capsys)
    assert metrics["images"] == 56 and metrics["model"] == "shapeworld_classify.onnx"
    assert metrics["top1"] >= 0.95 and metrics["top5"] >= metrics["top1"]
    assert len(metrics["per_class"]) == 14


def test_detection_results_file_against_ground_truth(capsys):
    folder = realworld("metrics", "coco_sampled")
    metrics = run_json(["eval", "detect", "--gt", folder / "gt_instances.json",
                        "--dets", folder / "det_results_list.json"], capsys)
    expected = json.loads((folder / "expected_pycocotools.json").read_text())["stats"]
    assert metrics["AP"] == pytest.approx(expected["AP"], abs=1e-6)
    assert metrics["AP50"] == pytest.approx(expected["AP50"], abs=1e-6)


@pytest.mark.parametrize("args,fragment", [
    (["eval", "detect", "--gt", "x.json"], "--gt and --dets go together"),
    (["eval", "classify"], "give --data DIR"),
    (["eval", "classify", "--gt", "a", "--dets", "b"], "cannot score a results file"),
])
def test_usage_errors(args, fragment, capsys):
    assert main(args) == 2
    assert fragment in capsys.readouterr().err
