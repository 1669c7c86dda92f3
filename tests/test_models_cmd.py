"""``visionkit models card`` and ``models info`` as a user meets them with other projects'
models, and the label sets ``--labels`` names.

A card is checked by running the model once through its decoder, so a decoder that cannot
read the model is refused at card time; ``models card`` without ``--output`` says which
decoders exist; ``models info`` on a model without a card describes the file instead of
refusing it. Real models come from ../shared/realworld (linked, never copied; skipped where
absent); the rest use tiny hand-built models.
"""

import json
from importlib.resources import files

import pytest

from visionkit.cli import main
from visionkit.errors import CardError
from visionkit.labels import LABEL_SETS, load_labels

from .conftest import make_standalone_classifier, realworld


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def linked(tmp_path, folder, name):
    target = tmp_path / name
    target.symlink_to(realworld("models", folder, name))
    return target


def one_line(err):
    return err.strip().count("\n") == 0 and err.startswith("visionkit: error: ")


# -- the decoder is checked when the card is written ---------------------------------------------


def test_a_decoder_that_cannot_read_the_outputs_is_refused_at_card_time(tmp_path, capsys):
    model = make_standalone_classifier(tmp_path / "tiny.onnx", card=False)  # gives (1, 3) scores
    code, _, err = run(["models", "card", model, "--task", "detect", "--output", "yolox"], capsys)
    assert code == 2 and one_line(err)
    assert "tiny.onnx: its outputs do not fit the 'yolox' decoder" in err
    assert "detect decoders: " in err and "nanodet" in err and "(--output picks one)" in err
    assert not (tmp_path / "tiny.card.json").exists()  # nothing half-right is left behind
    code, out, _ = run(["models", "card", model, "--task", "classify", "--output", "probs"], capsys)
    assert code == 0 and (tmp_path / "tiny.card.json").is_file()


def test_yolox_named_for_nanodet_and_nanodet_for_yolox(tmp_path, capsys):
    nanodet = linked(tmp_path, "detection", "nanodet_m_320.onnx")
    code, _, err = run(["models", "card", nanodet, "--task", "detect", "--output", "yolox"], capsys)
    assert code == 2 and one_line(err)
    assert "do not fit the 'yolox' decoder (YOLOX gives one row" in err and "2100 rows" in err
    yolox = linked(tmp_path, "detection", "yolox_nano_416x416.onnx")
    code, _, err = run(["models", "card", yolox, "--task", "detect", "--output", "nanodet"], capsys)
    assert code == 2 and one_line(err) and "do not fit the 'nanodet' decoder (NanoDet" in err
    code, _, err = run(["models", "card", nanodet, "--task", "detect", "--output", "nanodet"], capsys)
    assert code == 0, err


def test_without_output_the_message_lists_the_decoders(tmp_path, capsys):
    model = make_standalone_classifier(tmp_path / "m.onnx", card=False)
    code, _, err = run(["models", "card", model, "--task", "detect"], capsys)
    assert code == 2 and one_line(err) and "'logits'" not in err
    assert "a detect model's outputs are read by a decoder; detect decoders: " in err
    assert "yolox" in err and "(--output picks one)" in err
    code, _, err = run(["models", "card", model, "--task", "detect", "--output", "yolov99"], capsys)
    assert code == 2 and "no detect decoder named 'yolov99'; detect decoders: " in err
    code, _, err = run(["models", "card", model, "--task", "classify"], capsys)  # classify: logits
    assert code == 0 and json.loads((tmp_path / "m.card.json").read_text())["output"] == "logits"


def test_card_options_are_the_tasks_own_and_within_its_limits(tmp_path, capsys):
    model = make_standalone_classifier(tmp_path / "m.onnx", card=False)
    base = ["models", "card", model, "--task", "classify", "--output", "probs"]
    code, _, err = run([*base, "--option", "classify.topk=2"], capsys)
    assert code == 0 and json.loads((tmp_path / "m.card.json").read_text())["options"] == {"topk": 2}
    code, _, err = run([*base, "--option", "classify.tokp=2"], capsys)
    assert code == 2 and "task 'classify' has no option 'tokp'" in err
    code, _, err = run([*base, "--option", "detect.score=0.5"], capsys)
    assert code == 2 and "this card is for the classify task" in err
    code, _, err = run([*base, "--option", "classify.topk=0"], capsys)
    assert code != 0 and one_line(err) and "topk" in err


def test_parts_are_files_beside_the_model_with_cards_of_their_own(tmp_path, capsys):
    hand = linked(tmp_path, "keypoints", "handpose_estimation_mediapipe_2023feb.onnx")
    base = ["models", "card", hand, "--task", "landmarks", "--output", "mediapipe_hand"]
    code, _, err = run(base, capsys)
    assert code != 0 and one_line(err) and "names no 'palm' part" in err
    code, _, err = run([*base, "--part", "palm=../palm.onnx"], capsys)
    assert code == 2 and "beside the model, not a path" in err
    code, _, err = run([*base, "--part", "palm=palm_detection_mediapipe_2023feb.onnx"], capsys)
    assert code == 2 and "no such file beside" in err
    linked(tmp_path, "keypoints", "palm_detection_mediapipe_2023feb.onnx")
    code, _, err = run([*base, "--part", "palm=palm_detection_mediapipe_2023feb.onnx"], capsys)
    assert code != 0 and one_line(err) and "palm_detection_mediapipe_2023feb.onnx: no model card" in err


# -- models info on a model without a card -------------------------------------------------------


def test_info_describes_a_model_without_a_card(tmp_path, capsys):
    model = make_standalone_classifier(tmp_path / "bare.onnx", card=False)
    code, out, err = run(["models", "info", model], capsys)
    assert code == 0, err
    assert "bare.onnx" in out and "MB, no card" in out
    assert "opset      ai.onnx 17 (IR 8)" in out
    assert "input      image [1, 3, 32, 32] float32" in out and "output     probs32 [1, 3] float32" in out
    assert f"visionkit models card {model} --task classify --labels LABELS" in out
    code, out, _ = run(["models", "info", model, "--json"], capsys)
    info = json.loads(out)
    assert info["card"] is None and info["opsets"] == {"ai.onnx": 17} and info["ir_version"] == 8
    assert info["inputs"] == [{"name": "image", "shape": [1, 3, 32, 32], "type": "float32"}]
    assert info["bytes"] == model.stat().st_size


def test_info_names_the_decoder_that_reads_a_detector(tmp_path, capsys):
    model = linked(tmp_path, "detection", "nanodet_m_320.onnx")
    code, out, _ = run(["models", "info", model], capsys)
    assert code == 0 and "nanodet (detect)" in out
    assert f"visionkit models card {model} --task detect --output nanodet" in out
    assert out.count("  output     ") == 6
    classifier = linked(tmp_path, "classification", "mobilenetv2-12-int8.onnx")
    code, out, _ = run(["models", "info", classifier], capsys)
    assert code == 0 and "--task classify --labels imagenet" in out


def test_info_still_reads_a_card_and_refuses_a_broken_one(tmp_path, capsys):
    model = make_standalone_classifier(tmp_path / "carded.onnx")  # embedded card
    code, out, _ = run(["models", "info", model], capsys)
    assert code == 0 and "task       classify" in out and "no card" not in out
    (tmp_path / "carded.card.json").write_text("{not json")
    code, _, err = run(["models", "info", model], capsys)
    assert code != 0 and "not valid JSON" in err


# -- label sets ----------------------------------------------------------------------------------


def test_the_label_sets_hold_the_known_names():
    voc, coco, imagenet = load_labels("voc"), load_labels("coco"), load_labels("imagenet")
    assert len(voc) == 21 and voc[0] == "background" and voc[15] == "person" and voc[-1] == "tvmonitor"
    assert len(coco) == 80 and coco[0] == "person" and coco[16] == "dog" and coco[-1] == "toothbrush"
    assert len(imagenet) == 1000 and imagenet[0] == "tench" and imagenet[-1] == "toilet tissue"
    assert len(set(coco)) == 80 and len(set(voc)) == 21
    shipped = {p.name for p in files("visionkit.labelsets").iterdir() if p.name.endswith(".txt")}
    assert shipped == {f"{name}.txt" for name in LABEL_SETS}


def test_imagenet_is_the_first_name_of_each_synset():
    assert load_labels("imagenet") == load_labels(realworld("models", "classification", "synset.txt"))


def test_a_set_name_is_a_set_and_a_path_is_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "coco").write_text("just\nmine\n")
    assert len(load_labels("coco")) == 80
    assert load_labels("./coco") == ["just", "mine"]
    with pytest.raises(CardError, match="label sets by name: voc, coco, imagenet"):
        load_labels("cocoo")


def test_a_card_takes_a_label_set_by_name_and_checks_its_size(tmp_path, capsys):
    tiny = make_standalone_classifier(tmp_path / "m.onnx", card=False)
    code, _, err = run(["models", "card", tiny, "--task", "classify", "--labels", "imagenet"], capsys)
    assert code == 2 and one_line(err) and "model gives 3 scores, card has 1000 labels" in err
    model = linked(tmp_path, "classification", "mobilenetv2-12-int8.onnx")
    code, out, err = run(["models", "card", model, "--task", "classify", "--labels", "imagenet",
                          "--resize", "256", "--crop", "224"], capsys)
    assert code == 0 and "1000 labels" in out, err
    card = json.loads((tmp_path / "mobilenetv2-12-int8.card.json").read_text())
    assert card["labels"][:2] == ["tench", "goldfish"]
