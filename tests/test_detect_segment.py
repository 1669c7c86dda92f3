"""detect and segment: decoders on synthetic outputs whose answers are known by construction,
and the third-party YOLOX and DeepLabV3 models from ../shared/realworld end to end."""

import json

import cv2
import numpy as np
import pytest

from visionkit.boxes import nms
from visionkit.cards import InputSpec, ModelCard
from visionkit.cli import main
from visionkit.plugins.detect.decoders import _yolox_grid, decode_yolox
from visionkit.plugins.segment.decoders import decode_class_scores
from visionkit.preprocess import Transform, preprocess
from visionkit.tasks import TaskInputs

from .conftest import realworld

OPTIONS = {"score": 0.3, "iou": 0.45, "max_det": 300, "agnostic": False}


def test_nms_is_per_class_and_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.8, 0.7], np.float32)
    classes = np.array([0, 0, 1, 0])
    assert nms(boxes, scores, classes, iou=0.5).tolist() == [1, 2, 3]  # box 0 loses to box 1 only
    assert nms(boxes, scores, classes, iou=0.5, max_det=2).tolist() == [1, 2]
    assert nms(boxes[:0], scores[:0], classes[:0], iou=0.5).size == 0
    # across classes, box 2 (class 1) overlaps box 1 as much as box 0 does
    assert nms(boxes, scores, classes, iou=0.5, agnostic=True).tolist() == [1, 3]


def yolox_card(size=64, labels=("cat", "dog")):
    spec = InputSpec(size=(size, size), channel_order="bgr", scale=1.0, letterbox=True, letterbox_align="topleft")
    return ModelCard(task="detect", name="y", input=spec, labels=labels, output="yolox")


def test_yolox_decode_puts_a_known_box_back_on_the_image():
    card = yolox_card()
    cells, strides = _yolox_grid(64, 64)
    rows = np.zeros((len(cells), 5 + 2), np.float32)
    # one object: centre (20, 28), size 16x8 in input pixels, in the stride-8 cell (2, 3), class dog
    i = next(k for k, (c, s) in enumerate(zip(cells, strides)) if s == 8 and tuple(c) == (2, 3))
    rows[i] = [20 / 8 - 2, 28 / 8 - 3, np.log(16 / 8), np.log(8 / 8), 0.9, 0.1, 0.8]
    image = np.zeros((32, 64, 3), np.uint8)  # letterboxed at the top left: input = image, y pad below
    _, transform = preprocess(image, card.input)
    inputs = TaskInputs(image=image, features=None, tensor=None, transform=transform)
    det = decode_yolox([rows[None]], inputs, card, OPTIONS)
    assert det.labels == ("dog",) and det.scores[0] == pytest.approx(0.72)
    np.testing.assert_allclose(det.boxes[0], [12, 24, 28, 32], atol=1e-4)  # clipped at the bottom edge
    assert len(decode_yolox([rows[None]], inputs, card, {**OPTIONS, "score": 0.8})) == 0


def test_yolox_decode_refuses_a_grid_that_does_not_fit():
    from visionkit.errors import ModelError

    inputs = TaskInputs(np.zeros((64, 64, 3), np.uint8), None, None, Transform(1, 1, 0, 0))
    with pytest.raises(ModelError, match="rows"):
        decode_yolox([np.zeros((1, 10, 7), np.float32)], inputs, yolox_card(), OPTIONS)


@pytest.mark.parametrize("geometry", [{}, {"letterbox": True}, {"resize": 32}])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_class_scores_land_on_the_right_image_pixels(geometry, layout):
    """A right half of class 2 in the image stays the right half, however the input was made."""
    image = np.zeros((40, 80, 3), np.uint8)
    spec = InputSpec(size=(32, 32), **geometry)
    _, transform = preprocess(image, spec)
    # the model's answer, at half the input resolution: class 2 where the *image* x >= 40
    out = np.zeros((16, 16, 3), np.float32)
    ys, xs = np.mgrid[0:16, 0:16]
    image_x, _ = transform.to_image(np.stack([(xs + 0.5) * 2, (ys + 0.5) * 2], -1).reshape(-1, 2)).T
    out[..., 2] = (image_x.reshape(16, 16) >= 40) * 5.0
    out[..., 0] = 1.0
    scores = out if layout == "NHWC" else out.transpose(2, 0, 1)
    card = ModelCard(task="segment", name="s", input=spec, labels=("background", "a", "b"), output="deeplab")
    mask = decode_class_scores([scores[None]], TaskInputs(image, None, None, transform), card, {})
    assert mask.label_map.shape == (40, 80) and mask.label_map.dtype == np.uint8
    # a centre crop shows the model only image columns 20..60; the rest stays background
    covered = mask.label_map[:, 42:58] if geometry.get("resize") else mask.label_map[:, 44:]
    if geometry.get("resize"):
        assert (mask.label_map[:, 62:] == 0).all()
    assert (covered == 2).mean() > 0.95
    assert (mask.label_map[:, :36] == 0).mean() > 0.95
    assert list(mask.to_dict()) == ["labels", "areas"] and mask.to_dict()["labels"] == ["b"]


def write_card(tmp_path, folder, name, *args):
    model = tmp_path / name
    model.symlink_to(realworld("models", folder, name))
    assert main(["models", "card", str(model), *args]) == 0
    return model


@pytest.fixture
def yolox(tmp_path):
    return write_card(tmp_path, "detection", "yolox_nano_416x416.onnx", "--task", "detect",
                      "--labels", str(realworld("models", "detection", "coco.names")),
                      "--channel-order", "bgr", "--scale", "1", "--letterbox", "topleft", "--output", "yolox")


def test_yolox_finds_the_car_the_dog_and_the_people(yolox, capsys):
    capsys.readouterr()
    photo = realworld("images", "ortex", "test_object_detection_0.jpg")
    assert main(["predict", str(photo), "--model", str(yolox), "--json"]) == 0
    det = json.loads(capsys.readouterr().out)["results"]["detect"]
    assert {"car", "dog", "person"} <= set(det["labels"])
    dog = det["boxes"][det["labels"].index("dog")]
    assert 360 < dog[0] < 400 and 290 < dog[1] < 325 and 490 < dog[2] < 520 and 460 < dog[3] <= 512
    assert det["scores"] == sorted(det["scores"], reverse=True)
    assert main(["predict", str(photo), "--model", str(yolox), "--json", "--score", "0.8"]) == 0
    strict = json.loads(capsys.readouterr().out)["results"]["detect"]
    assert 0 < len(strict["labels"]) < len(det["labels"]) and min(strict["scores"]) >= 0.8


def test_proposal_counts_on_a_one_stage_model_say_they_change_nothing(yolox, capsys):
    photo = realworld("images", "ortex", "test_object_detection_0.jpg")
    assert main(["predict", str(photo), "--model", str(yolox), "--json", "-o", "detect.proposals=50"]) == 0
    err = capsys.readouterr().err
    assert "note: detect: proposals and pre_nms are for two-stage models" in err and "(yolox)" in err


def test_deeplab_labels_pixels_and_saves_the_mask(tmp_path, capsys):
    labels = tmp_path / "voc.txt"
    labels.write_text("\n".join(["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
                                 "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
                                 "pottedplant", "sheep", "sofa", "train", "tvmonitor"]))
    model = write_card(tmp_path, "segmentation", "deeplab_v3_1_default_1.onnx", "--task", "segment",
                       "--labels", str(labels), "--scale", "0.00784313725", "--mean", "1,1,1", "--output", "deeplab")
    capsys.readouterr()
    photos = [realworld("images", "winml", "dog.jpg"), realworld("images", "ortex", "test_object_detection_0.jpg")]
    out = tmp_path / "out"
    assert main(["predict", *map(str, photos), "--model", str(model), "--json", "--save", str(out)]) == 0
    dog, street = (json.loads(line)["results"]["segment"] for line in capsys.readouterr().out.splitlines())
    assert dog["labels"][0] == "dog"
    assert {"person", "car"} <= set(street["labels"])
    mask = cv2.imread(str(out / "dog_mask.png"), cv2.IMREAD_UNCHANGED)
    h, w = cv2.imread(str(photos[0])).shape[:2]
    assert mask.shape == (h, w) and mask.dtype == np.uint8
    assert np.count_nonzero(mask == 12) == dog["areas"]["dog"]


def test_card_output_must_name_a_decoder(tmp_path, capsys):
    model = tmp_path / "y.onnx"
    model.symlink_to(realworld("models", "detection", "yolox_nano_416x416.onnx"))
    assert main(["models", "card", str(model), "--task", "detect", "--output", "yolov99"]) == 2
    err = capsys.readouterr().err
    assert "no detect decoder named 'yolov99'" in err and "rcnn" in err and "yolox" in err


def test_detect_options_are_checked(yolox):
    import visionkit as vk
    from visionkit.errors import UsageError

    pipe = vk.Pipeline(["detect"], model=yolox)
    with pytest.raises(UsageError, match="between 0.0 and 1.0"):
        pipe.set_options("detect", iou=1.5)


def test_a_model_whose_card_names_no_decoder_of_the_task_is_refused(tiny_models):
    import onnx

    import visionkit as vk
    from visionkit.cards import METADATA_KEY
    from visionkit.errors import ModelError

    head = onnx.load(str(tiny_models["head"]))  # a classify head, relabelled as a detect model
    card = ModelCard.from_json(head.metadata_props[0].value).with_(task="detect")
    head.metadata_props[0].value = card.to_json()
    assert head.metadata_props[0].key == METADATA_KEY
    onnx.save(head, str(tiny_models["head"]))
    with pytest.raises(ModelError, match=r"card output 'logits' names no detect decoder \(installed: [\w, ]*rcnn[\w, ]*yolox"):
        vk.Pipeline(["detect"], model=tiny_models["head"])
