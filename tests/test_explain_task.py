"""The explain task in a pipeline, on the bundled ImageNet classifier and on a standalone
model; its CLI; and what it says about bad requests."""

import json

import cv2
import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main
from visionkit.plugins.explain.runtime import ExplainTask
from visionkit.results import Explanation

from .conftest import make_standalone_classifier, realworld

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def photo():
    """A real photo, small: a wide frame, so the classifier's input has letterbox bars."""
    image = vk.read_image(realworld("images", "winml", "dog.jpg"))
    return cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def pipe():
    return vk.Pipeline(["explain"], threads=1)


def explain(pipe, image, **options):
    """The frame's result with ``options`` over the defaults (the pipeline is shared)."""
    pipe.set_options("explain", **{**ExplainTask.default_options, **options})
    result = pipe.predict_batch([image])[0]
    assert result.ok, result.error
    return result


@pytest.mark.parametrize("method, options", [
    ("occlusion", {"patch": 64, "stride": 48}),
    ("saliency", {}),
    ("gradcam", {}),
    ("activation", {"layer": "c3", "channel": 5}),
])
def test_heat_maps_lie_over_the_frame(pipe, photo, method, options):
    result = explain(pipe, photo, method=method, **options)
    exp = result["explain"]
    assert isinstance(exp, Explanation) and exp.method == method
    assert exp.heatmap.shape == photo.shape[:2] and exp.heatmap.min() >= 0 and exp.heatmap.max() > 0
    json.dumps(result.to_dict())  # the whole frame's JSON, numbers included
    drawn = vk.render(result)
    assert drawn.shape == photo.shape and not np.array_equal(drawn, photo)


def test_top_class_is_explained_unless_a_class_is_named(pipe, photo):
    top = explain(pipe, photo, method="saliency", target="")
    cid = top["classify"].class_ids[0]
    assert f"({cid})" in top["explain"].target
    named = explain(pipe, photo, method="saliency", target="goldfish")
    assert named["explain"].target == "class 'goldfish' (1)"
    assert not np.array_equal(named["explain"].heatmap, top["explain"].heatmap)


def test_pictures_the_methods_make(pipe, photo, tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"p{i}.png"), np.roll(photo, 20 * i, axis=1))
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    cases = {
        "guided": {}, "classmodel": {"steps": 2}, "inversion": {"steps": 2, "layer": "c2"},
        "fgsm": {"eps": 2.0}, "pgd": {"eps": 2.0, "steps": 2},
        "patches": {"folder": str(tmp_path), "layer": "c3", "channel": 3},
    }
    for method, options in cases.items():
        exp = explain(pipe, photo, method=method, **options)["explain"]
        assert exp.picture is not None and exp.picture.dtype == np.uint8, method
        json.dumps(exp.to_dict())
    assert exp.numbers["pictures"] == 3 and len(exp.numbers["top"]) == 3  # the broken file skipped


def test_adversarial_picture_is_a_real_image_within_eps(pipe, photo):
    exp = explain(pipe, photo, method="fgsm", eps=3.0, target="")["explain"]
    assert exp.numbers["linf"] <= 3 and exp.images["perturbation"].shape == exp.picture.shape
    assert exp.picture.shape[:2] == photo.shape[:2] or exp.picture.shape[1] / exp.picture.shape[0] == pytest.approx(
        photo.shape[1] / photo.shape[0], rel=0.02)


def test_fgsm_flips_a_confident_real_photo_at_two_levels(tmp_path, capsys):
    dog = realworld("images", "winml", "dog.jpg")
    assert main(["explain", str(dog), "--method", "fgsm", "--eps", "2", "--json", "--out", str(tmp_path),
                 "--threads", "1"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["classify"]["labels"][0] == "Golden Retriever" and record["classify"]["scores"][0] > 0.9
    numbers = record["explain"]["numbers"]
    assert numbers["flipped"] and numbers["after"]["class"] != "Golden Retriever" and numbers["linf"] == 2
    # the flip is onnxruntime's verdict on the saved file, read back as any picture would be
    again = vk.Pipeline(["classify"], threads=1)(tmp_path / "dog_fgsm_adversarial.png")["classify"]
    assert again.labels[0] == numbers["after"]["class"]
    assert again.scores[0] == pytest.approx(numbers["after"]["score"], abs=1e-4)


def test_a_named_class_that_is_not_the_top_one_flips_only_if_the_top_one_changes(pipe, photo):
    top = explain(pipe, photo, method="saliency")["classify"]
    second = top.class_ids[1]
    numbers = explain(pipe, photo, method="fgsm", eps=1.0, target=str(second))["explain"].numbers
    assert numbers["before"]["class"] == top.labels[0]
    assert numbers["after"]["target_score"] < numbers["before"]["target_score"]  # pushed away from it
    assert numbers["flipped"] == (numbers["after"]["class"] != top.labels[0])


def test_occlusion_refuses_a_stride_that_makes_too_many_copies(pipe, photo):
    pipe.set_options("explain", **{**ExplainTask.default_options, "method": "occlusion", "patch": 1, "stride": 1})
    result = pipe.predict_batch([photo])[0]
    assert not result.ok and "use a larger stride" in result.error


@pytest.mark.parametrize("options, message", [
    ({"method": "saliency", "target": "no such thing"}, "no class 'no such thing'"),
    ({"method": "activation", "layer": "c9"}, "no feature map 'c9'"),
    ({"method": "activation", "layer": "c3", "channel": 999}, "channels 0-39"),
    ({"method": "patches", "folder": ""}, "folder=DIR"),
    ({"method": "gradcam", "layer": "nope"}, "no layer 'nope'"),
    ({"method": "occlusion", "target": "1000"}, "outside this model's 1000 classes"),
])
def test_bad_requests_are_one_line(pipe, photo, options, message):
    pipe.set_options("explain", **{**ExplainTask.default_options, **options})
    result = pipe.predict_batch([photo])[0]
    assert not result.ok and message in result.error and "\n" not in result.error


def test_option_values_are_checked(pipe):
    with pytest.raises(vk.VisionkitError, match="method must be one of"):
        pipe.set_options("explain", method="dream")


def test_a_standalone_classifier_is_explained_too(tmp_path, photo):
    model = make_standalone_classifier(tmp_path / "mean_colour.onnx")
    pipe = vk.Pipeline(["explain"], models={"classify": str(model)}, threads=1)
    for method in ("occlusion", "saliency", "fgsm"):
        pipe.set_options("explain", method=method, patch=8, stride=8)
        result = pipe.predict_batch([photo])[0]
        assert result.ok, result.error
    pipe.set_options("explain", method="activation")
    result = pipe.predict_batch([photo])[0]
    assert not result.ok and "shared backbone" in result.error


def test_cli_saves_pictures_prints_numbers_and_lists_bad_inputs(tmp_path, photo, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), photo)
    (folder / "b.png").write_text("<html>not a picture</html>")
    code = main(["explain", str(folder), "--method", "occlusion", "--patch", "112", "--stride", "112",
                 "--out", str(tmp_path / "out"), "--threads", "1"])
    out = capsys.readouterr()
    assert code == 1  # one input failed; the other was explained
    assert "b.png" in out.err and "Traceback" not in out.err
    assert (tmp_path / "out" / "a_occlusion.png").exists() and "occlusion of class" in out.out


def test_cli_flip_rates_per_eps(tmp_path, photo, capsys):
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    code = main(["explain", str(tmp_path / "a.png"), "--method", "fgsm", "--eps", "1,4", "--no-save", "--json",
                 "--confident", "0", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(lines) == 3
    table = lines[-1]["flip_rates"]
    assert [r["eps"] for r in table] == [1.0, 4.0] and all(r["pictures"] == 1 for r in table)


def test_cli_names_the_methods_of_an_unknown_one(capsys):
    assert main(["explain", "x.png", "--method", "dream"]) == 2
    assert "must be one of occlusion, saliency, gradcam" in capsys.readouterr().err


@pytest.mark.parametrize("eps", ["two", "0.5", "0", "300"])
def test_cli_refuses_bad_eps(capsys, eps):
    assert main(["explain", "x.png", "--method", "fgsm", "--eps", eps]) == 2
    assert "--eps" in capsys.readouterr().err


def test_cli_names_same_named_inputs_apart(tmp_path, photo, capsys):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "cat.png"), photo)
    assert main(["explain", str(tmp_path / "a"), str(tmp_path / "b"), "--method", "activation",
                 "--out", str(tmp_path / "out"), "--threads", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cat_2_activation.png", "cat_activation.png"]


def test_gradient_methods_say_which_extra_they_need(photo, monkeypatch):
    import sys

    pipe = vk.Pipeline(["explain"], threads=1, options={"explain": {"method": "gradcam"}})
    monkeypatch.setitem(sys.modules, "torch", None)  # as if the [train] extra were not installed
    result = pipe.predict_batch([photo])[0]
    assert not result.ok and "pip install 'visionkit[train]'" in result.error
    pipe.set_options("explain", method="occlusion", patch=64, stride=64)
    assert pipe.predict_batch([photo])[0].ok  # occlusion needs no torch


def test_a_third_party_fp16_classifier_through_every_gradient_method(tmp_path, capsys):
    model = tmp_path / "squeezenet1.1_winml_fp16.onnx"
    model.symlink_to(realworld("models", "classification", "squeezenet1.1_winml_fp16.onnx"))
    labels = realworld("models", "classification", "winml_Labels.txt")
    assert main(["models", "card", str(model), "--task", "classify", "--labels", str(labels),
                 "--channel-order", "bgr", "--scale", "1", "--output", "probs"]) == 0
    fish = realworld("images", "winml", "fish.png")
    for method in ("gradcam", "guided", "fgsm"):
        capsys.readouterr()
        assert main(["explain", str(fish), "--method", method, "--model", str(model), "--no-save",
                     "--threads", "1"]) == 0
        out = capsys.readouterr().out
        assert "class 'tench' (0)" in out, out
    assert "flipped" in out and "layer" not in out  # fgsm's line
