"""Decoders of other projects' detectors, face and hand models.

Synthetic raw outputs, made by hand so the boxes and points they hold are known exactly, check
each decoder's arithmetic; the real models from ../shared/realworld (linked into a temporary
folder, never copied; skipped where absent) check that the boxes and points land on the
people, faces and hand of the real photos.
"""

import json

import numpy as np
import pytest

from visionkit.cards import InputSpec, ModelCard
from visionkit.cli import main
from visionkit.errors import ModelError
from visionkit.plugins.detect.decoders import decode_nanodet
from visionkit.plugins.detect.decoders_faces import (FACE_LANDMARKS, _yunet_priors, decode_ultraface,
                                                     decode_yunet, decode_yunet_landmarks)
from visionkit.plugins.pose.hands import hand_crop
from visionkit.plugins.pose.palms import decode_palms, find_palms, palm_anchors
from visionkit.preprocess import Transform
from visionkit.tasks import TaskInputs

from .conftest import realworld

DETECT = {"score": 0.3, "iou": 0.45, "max_det": 300, "agnostic": False}
LANDMARKS = {"score": 0.5, "iou": 0.3, "max_det": 50}


def card(output, size, labels=(), task="detect"):
    return ModelCard(task=task, name="m", input=InputSpec(size=size), labels=labels, output=output)


def inputs(height, width, scale=1.0):
    """A frame of ``height`` x ``width`` whose network input is ``scale`` times its size."""
    return TaskInputs(np.zeros((height, width, 3), np.uint8), None, None, Transform(scale, scale, 0, 0))


def bins(distance):
    """NanoDet bin logits whose softmax expectation is ``distance`` (in strides): all mass on
    the two bins around it, split so the mean lands exactly."""
    logits = np.full(8, -40.0, np.float32)
    low = int(np.floor(distance))
    frac = distance - low
    logits[low] = np.log(1 - frac)
    if frac:
        logits[low + 1] = np.log(frac)
    return logits


# -- NanoDet -------------------------------------------------------------------------------------


def nanodet_outputs(size=64, classes=3):
    """Outputs in NanoDet's exported order (class scores per stride, then distributions), with
    one object of class 1 in the stride-8 cell (x 2, y 3): centre (20, 28), sides l 4, t 8,
    r 12, b 4 pixels, so its box is (16, 20, 32, 32)."""
    cells = {s: (size // s) ** 2 for s in (8, 16, 32)}
    scores = {s: np.full((1, n, classes), 0.01, np.float32) for s, n in cells.items()}
    dists = {s: np.tile(bins(0.5), (1, n, 4)).astype(np.float32) for s, n in cells.items()}
    i = 3 * (size // 8) + 2
    scores[8][0, i, 1] = 0.8
    dists[8][0, i] = np.concatenate([bins(d) for d in (0.5, 1.0, 1.5, 0.5)])
    return [scores[8], scores[16], scores[32], dists[8], dists[16], dists[32]]


def test_nanodet_puts_a_known_box_back_on_the_image():
    det = decode_nanodet(nanodet_outputs(), inputs(128, 128, 0.5), card("nanodet", (64, 64), ("a", "b", "c")), DETECT)
    assert det.labels == ("b",) and det.scores[0] == pytest.approx(0.8)
    np.testing.assert_allclose(det.boxes[0], [32, 40, 64, 64], atol=1e-3)  # input pixels x 2
    outs = nanodet_outputs()
    shuffled = [outs[3], outs[0], outs[4], outs[1], outs[5], outs[2]]  # paired by rows, not order
    again = decode_nanodet(shuffled, inputs(64, 64), card("nanodet", (64, 64)), DETECT)
    np.testing.assert_allclose(again.boxes[0], [16, 20, 32, 32], atol=1e-3)
    assert again.labels == ("1",)  # no labels on the card: the class index
    assert len(decode_nanodet(outs, inputs(64, 64), card("nanodet", (64, 64)), {**DETECT, "score": 0.9})) == 0


def test_nanodet_refuses_outputs_of_another_family():
    with pytest.raises(ModelError, match="NanoDet"):
        decode_nanodet([np.zeros((1, 84, 85), np.float32)], inputs(64, 64), card("nanodet", (64, 64)), DETECT)
    with pytest.raises(ModelError, match="stride 8"):
        decode_nanodet(nanodet_outputs(), inputs(96, 96), card("nanodet", (96, 96)), DETECT)


# -- UltraFace -----------------------------------------------------------------------------------


def test_ultraface_scales_normalised_corners_to_the_input():
    probs = np.array([[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]], np.float32)
    corners = np.array([[[0, 0, 0.1, 0.1], [0.25, 0.5, 0.5, 1.0], [0.7, 0.1, 0.8, 0.3]]], np.float32)
    det = decode_ultraface([probs, corners], inputs(480, 640, 0.5), card("ultraface", (240, 320)), DETECT)
    assert det.labels == ("face", "face") and det.scores.tolist() == pytest.approx([0.8, 0.4])
    np.testing.assert_allclose(det.boxes[0], [160, 240, 320, 480], atol=1e-3)
    with pytest.raises(ModelError, match="UltraFace"):
        decode_ultraface([probs], inputs(480, 640), card("ultraface", (240, 320)), DETECT)


# -- YuNet ---------------------------------------------------------------------------------------


def yunet_2023_outputs(size=64):
    """The 2023 layout (cls, obj, bbox, kps per stride) with one face in the stride-16 cell
    (x 1, y 2): score sqrt(0.81 * 1) = 0.9, box centre (24, 36), size 32 x 24, landmark k at
    (cell + (0.1 k, 0.2)) * 16."""
    n = {s: (size // s) ** 2 for s in (8, 16, 32)}
    cls = {s: np.zeros((1, n[s], 1), np.float32) for s in n}
    obj = {s: np.zeros((1, n[s], 1), np.float32) for s in n}
    box = {s: np.zeros((1, n[s], 4), np.float32) for s in n}
    kps = {s: np.zeros((1, n[s], 10), np.float32) for s in n}
    i = 2 * (size // 16) + 1
    cls[16][0, i], obj[16][0, i] = 0.81, 1.0
    box[16][0, i] = [0.5, 0.25, np.log(2), np.log(1.5)]
    kps[16][0, i] = np.ravel([[0.1 * k, 0.2] for k in range(5)])
    return [*cls.values(), *obj.values(), *box.values(), *kps.values()]


def test_yunet_2023_gives_the_face_and_its_landmarks():
    det = decode_yunet(yunet_2023_outputs(), inputs(64, 64), card("yunet", (64, 64)), DETECT)
    assert det.labels == ("face",) and det.scores[0] == pytest.approx(0.9)
    np.testing.assert_allclose(det.boxes[0], [8, 24, 40, 48], atol=1e-4)
    kp = decode_yunet_landmarks(yunet_2023_outputs(), inputs(128, 128, 0.5),
                                card("yunet_landmarks", (64, 64), task="landmarks"), LANDMARKS)
    assert kp.names == FACE_LANDMARKS and len(kp) == 1
    np.testing.assert_allclose(kp.boxes[0], [16, 48, 80, 96], atol=1e-3)
    expected = [[(1 + 0.1 * k) * 16 * 2, (2 + 0.2) * 16 * 2] for k in range(5)]
    np.testing.assert_allclose(kp.points[0, :, :2], expected, atol=1e-3)
    assert kp.points[0, :, 2].tolist() == pytest.approx([0.9] * 5)  # each point: its face's score


def test_yunet_prior_boxes_decode_with_the_ssd_variances():
    priors = _yunet_priors(120, 160)
    assert len(priors) == 1076  # 15x20x3 + 7x10x2 + 3x5x2 + 1x2x3: the published model's rows
    i = 500
    cx, cy, s, _ = priors[i]
    loc = np.zeros((1076, 14), np.float32)
    loc[i, :4] = [1.0, -1.0, np.log(2) / 0.2, 0.0]  # centre +0.1 s, -0.1 s; width x2
    loc[i, 4:] = 0.5  # every landmark 0.05 s right of and below the prior's centre
    conf = np.tile([[1.0, 0.0]], (1076, 1)).astype(np.float32)
    conf[i] = [0.36, 0.64]
    iou = np.ones((1076, 1), np.float32)
    outs = [loc, conf, iou]
    det = decode_yunet(outs, inputs(120, 160), card("yunet", (120, 160)), DETECT)
    assert len(det) == 1 and det.scores[0] == pytest.approx(0.8)  # sqrt(0.64 * 1)
    ecx, ecy = cx + 0.1 * s, cy - 0.1 * s
    np.testing.assert_allclose(det.boxes[0], [ecx - s, ecy - s / 2, ecx + s, ecy + s / 2], atol=1e-3)
    kp = decode_yunet_landmarks(outs, inputs(120, 160), card("yunet_landmarks", (120, 160), task="landmarks"),
                                LANDMARKS)
    np.testing.assert_allclose(kp.points[0, :, :2], [[cx + 0.05 * s, cy + 0.05 * s]] * 5, atol=1e-3)
    with pytest.raises(ModelError, match="YuNet"):
        decode_yunet(outs[:2], inputs(120, 160), card("yunet", (120, 160)), DETECT)


# -- MediaPipe palms and hands -------------------------------------------------------------------


def test_palm_anchors_and_offsets_in_input_pixels():
    anchors = palm_anchors(192, 192)
    assert len(anchors) == 2016  # 24x24 cells x 2 anchors + 12x12 cells x 6
    assert anchors[0].tolist() == [4, 4] and anchors[1].tolist() == [4, 4] and anchors[2].tolist() == [12, 4]
    assert anchors[1152].tolist() == [8, 8]  # the first stride-16 cell
    offsets = np.zeros((1, 2016, 18), np.float32)
    logits = np.full((1, 2016, 1), -10, np.float32)
    i = 1152 + 6 * (12 * 5 + 7)  # stride-16 cell (x 7, y 5): anchor centre (120, 88)
    logits[0, i] = 3.0
    offsets[0, i, :4] = [2, -3, 40, 50]
    offsets[0, i, 4:] = np.arange(14)
    boxes, scores, points = find_palms([offsets, logits], (192, 192), LANDMARKS)
    assert scores.tolist() == pytest.approx([1 / (1 + np.exp(-3))])
    np.testing.assert_allclose(boxes[0], [102, 60, 142, 110])
    np.testing.assert_allclose(points[0], np.arange(14).reshape(7, 2) + [120, 88])
    det = decode_palms([offsets, logits], inputs(384, 384, 0.5), card("mediapipe_palm", (192, 192)), DETECT)
    assert det.labels == ("palm",)
    np.testing.assert_allclose(det.boxes[0], [204, 120, 284, 220])


def test_the_hand_crop_turns_the_fingers_up():
    box = np.array([80, 80, 120, 120], np.float64)  # a 40 px palm centred at (100, 100)
    up = np.array([[100, 120], [0, 0], [100, 80], [0, 0], [0, 0], [0, 0], [0, 0]], np.float64)
    m = hand_crop(box, up, (224, 224))
    # fingers already up: the crop is 2.6 palms wide, centred half a palm above the palm
    corners = np.array([[0, 0, 1], [224, 224, 1]], np.float64) @ m.T
    np.testing.assert_allclose(corners, [[48, 28], [152, 132]], atol=1e-9)
    right = up.copy()
    right[0], right[2] = [80, 100], [120, 100]  # fingers pointing right
    m = hand_crop(box, right, (224, 224))
    # the crop's top edge runs down the frame's right side: its top-left corner is top-right
    centre, top_left = np.array([[112, 112, 1], [0, 0, 1]], np.float64) @ m.T
    np.testing.assert_allclose(centre, [120, 100], atol=1e-9)
    np.testing.assert_allclose(top_left, [172, 48], atol=1e-9)


# -- the real models on the real photos ----------------------------------------------------------


def link(tmp_path, folder, name):
    target = tmp_path / name
    if not target.exists():
        target.symlink_to(realworld("models", folder, name))
    return target


def write_card(tmp_path, folder, name, *args):
    model = link(tmp_path, folder, name)
    assert main(["models", "card", str(model), *args]) == 0
    return model


def predict(model, photo, capsys, *extra):
    capsys.readouterr()
    assert main(["predict", str(photo), "--model", str(model), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)["results"]


def inside(box, lo, hi):
    """``box`` lies within the rectangle (x1, y1) = lo ... (x2, y2) = hi."""
    return lo[0] <= box[0] and lo[1] <= box[1] and box[2] <= hi[0] and box[3] <= hi[1]


WALKERS = ("ortex", "test_object_detection_0.jpg")  # two people walking a dog, cars behind
#: where the two walkers' faces are in that photo (every face model here agrees within a few px)
MAN_FACE, WOMAN_FACE = ((505, 45), (565, 120)), ((250, 70), (305, 130))


def test_nanodet_finds_the_walkers_their_dog_and_the_cars(tmp_path, capsys):
    model = write_card(tmp_path, "detection", "nanodet_m_320.onnx", "--task", "detect", "--output", "nanodet",
                       "--labels", "coco", "--channel-order", "bgr", "--scale", "1",
                       "--mean", "103.53,116.28,123.675", "--std", "57.375,57.12,58.395",
                       "--letterbox", "--pad-value", "0")
    det = predict(model, realworld("images", *WALKERS), capsys, "--score", "0.5")["detect"]
    assert {"person", "car", "dog"} <= set(det["labels"])
    dog = det["boxes"][det["labels"].index("dog")]
    assert inside(dog, (360, 290), (520, 512))
    people = [b for b, lab in zip(det["boxes"], det["labels"]) if lab == "person"]
    assert len(people) == 2 and sorted(b[0] < 384 for b in people) == [False, True]  # one each side


def test_the_light_person_detector_is_a_one_class_yolox(tmp_path, capsys):
    model = write_card(tmp_path, "detection", "light_person_detector_192.onnx", "--task", "detect",
                       "--output", "yolox", "--labels", "coco", "--channel-order", "bgr", "--scale", "1",
                       "--letterbox", "topleft")
    det = predict(model, realworld("images", *WALKERS), capsys, "--score", "0.5")["detect"]
    assert det["labels"] == ["person", "person"]
    left, right = sorted(det["boxes"])
    assert inside(left, (180, 30), (370, 512)) and inside(right, (440, 20), (650, 512))
    kimono = predict(model, realworld("images", "ortex", "kimono.jpg"), capsys, "--score", "0.5")["detect"]
    assert len(kimono["boxes"]) == 1 and inside(kimono["boxes"][0], (650, 120), (1220, 1264))


def test_ultraface_finds_the_two_walkers_faces(tmp_path, capsys):
    model = write_card(tmp_path, "detection", "ultraface_version-RFB-320.onnx", "--task", "detect",
                       "--output", "ultraface", "--scale", "1", "--mean", "127,127,127", "--std", "128,128,128",
                       "--option", "detect.score=0.7")
    det = predict(model, realworld("images", *WALKERS), capsys)["detect"]
    assert det["labels"] == ["face", "face"]
    man, woman = sorted(det["boxes"], key=lambda b: -b[0])
    assert inside(man, *MAN_FACE) and inside(woman, *WOMAN_FACE)


@pytest.mark.parametrize("name", ["face_detection_yunet_2023mar.onnx", "face_detection_yunet_120x160.onnx"])
def test_yunet_faces_and_their_landmarks(tmp_path, capsys, name):
    prep = ("--channel-order", "bgr", "--scale", "1", "--letterbox", "topleft", "--pad-value", "0")
    model = write_card(tmp_path, "detection", name, "--task", "detect", "--output", "yunet", *prep)
    photo = realworld("images", *WALKERS)
    faces = predict(model, photo, capsys, "--score", "0.45")["detect"]["boxes"]
    for where in (MAN_FACE, WOMAN_FACE):
        assert any(inside(b, *where) for b in faces), (where, faces)
    landmarks_card = tmp_path / "landmarks.card.json"
    assert main(["models", "card", str(model), "--task", "landmarks", "--output", "yunet_landmarks", *prep,
                 "--out", str(landmarks_card)]) == 0
    result = predict(model, photo, capsys, "--card", str(landmarks_card), "--score", "0.45")["landmarks"]
    assert result["keypoint_names"] == list(FACE_LANDMARKS)
    man = next(i for i in result["instances"] if inside(i["box"], *MAN_FACE))
    (rex, rey), (lex, ley), (nx, ny), (rmx, rmy), (lmx, lmy) = (p[:2] for p in man["keypoints"])
    x1, y1, x2, y2 = man["box"]
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y, _ in man["keypoints"])
    assert rex < lex and rmx < lmx  # the face's right side is the picture's left
    assert max(rey, ley) < ny < min(rmy, lmy)  # eyes above the nose tip, the nose above the mouth


def test_the_hands_21_joints_land_on_the_hand(tmp_path, capsys):
    write_card(tmp_path, "keypoints", "palm_detection_mediapipe_2023feb.onnx", "--task", "detect",
               "--output", "mediapipe_palm", "--letterbox", "--pad-value", "0")
    model = write_card(tmp_path, "keypoints", "handpose_estimation_mediapipe_2023feb.onnx", "--task", "landmarks",
                       "--output", "mediapipe_hand", "--part", "palm=palm_detection_mediapipe_2023feb.onnx")
    photo = realworld("images", "hand_webcam_640x480.png")
    palms = predict(tmp_path / "palm_detection_mediapipe_2023feb.onnx", photo, capsys)["detect"]
    assert palms["labels"] == ["palm"] and inside(palms["boxes"][0], (40, 150), (200, 320))
    [hand] = predict(model, photo, capsys)["landmarks"]["instances"]
    points = np.array([p[:2] for p in hand["keypoints"]])
    assert len(points) == 21 and hand["score"] > 0.9
    # the open hand, seen from the palm side, enters from the left with its fingers to the right
    assert inside(hand["box"], (40, 100), (340, 340))
    wrist, tips = points[0], points[[8, 12, 16, 20]]
    assert wrist[0] < 100 and (tips[:, 0] > 250).all()
    thumb_tip = points[4]
    assert thumb_tip[1] < 140  # the thumb points up, above the fingers
