"""``visionkit train style``: a tiny run trains, exports a card the style task runs, and resumes."""

import json

import cv2
import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main

pytest.importorskip("torch")

TINY = ["--size", "64", "--batch-size", "2", "--width", "8", "--export-size", "64", "--threads", "1"]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    content = tmp_path / "content"
    content.mkdir()
    for i in range(3):
        cv2.imwrite(str(content / f"c{i}.png"), rng.integers(0, 256, (50, 70, 3), dtype=np.uint8))
    (content / "broken.jpg").write_bytes(b"no picture")
    style = np.zeros((64, 64, 3), np.uint8)
    style[:, ::8] = 255
    style[::8] = (0, 0, 255)
    cv2.imwrite(str(tmp_path / "stripes.png"), style)
    return tmp_path


def train(data, *extra):
    return main(["train", "style", "--style", str(data / "stripes.png"), "--content", str(data / "content"),
                 "--out", str(data / "out"), "--quiet", "--json", *TINY, *extra])


def test_a_tiny_run_exports_a_style_network(data, capsys):
    assert train(data, "--steps", "2") == 0
    summary = json.loads(capsys.readouterr().out)
    model = data / "out" / "stripes_style.onnx"
    assert summary["path"] == str(model) and summary["parity"] < 1e-3 and summary["metrics"]["steps"] == 2
    card = vk.load_model(model).card
    assert card.task == "style" and card.output == "image" and card.input.size == (64, 64)
    assert card.metrics["style_loss"] > 0 and len(card.provenance["data"]["content"]["pictures"]) == 3
    frame = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    styled = vk.Pipeline(["style"], models={"style": str(model)})(frame)["style"]
    assert styled.image.shape == frame.shape and styled.style == "stripes_style"


def test_a_stopped_run_continues_and_is_not_overwritten(data, capsys):
    assert train(data, "--steps", "2", "--checkpoint-every", "1") == 0
    capsys.readouterr()
    assert train(data, "--steps", "3") == 2  # a fresh start would overwrite it
    assert "--resume" in capsys.readouterr().err
    assert train(data, "--steps", "3", "--resume") == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["steps"] == 3
    assert train(data, "--steps", "4", "--resume", "--lr", "0.01") == 2  # another run's options
    assert "other options" in capsys.readouterr().err


def test_bad_inputs_are_one_line(data, capsys):
    cv2.imwrite(str(data / "dot.png"), np.zeros((2, 2, 3), np.uint8))
    assert main(["train", "style", "--style", str(data / "dot.png"), "--content", str(data / "content"),
                 "--out", str(data / "o2"), *TINY, "--steps", "1"]) == 2
    assert "at least 32 px" in capsys.readouterr().err
    assert main(["train", "style", "--style", str(data / "stripes.png"), "--content", str(data / "nowhere"),
                 "--out", str(data / "o3"), *TINY, "--steps", "1"]) == 2
    assert "folder of pictures" in capsys.readouterr().err


# -- the arbitrary-style network's decoder -------------------------------------------------------

ADAIN_TINY = ["--size", "64", "--batch-size", "2", "--width", "8", "--threads", "1"]


def train_adain(data, *extra):
    return main(["train", "adain", "--content", str(data / "content"), "--styles", "paintings", str(data / "art"),
                 "--out", str(data / "adain"), "--quiet", "--json", *ADAIN_TINY, *extra])


def test_a_tiny_adain_run_exports_a_head_the_style_task_runs(data, capsys):
    (data / "art").mkdir()
    cv2.imwrite(str(data / "art" / "stripes.png"), cv2.imread(str(data / "stripes.png")))
    assert train_adain(data, "--steps", "2", "--checkpoint-every", "1") == 0
    summary = json.loads(capsys.readouterr().out)
    model = data / "adain" / "style_adain.onnx"
    assert summary["path"] == str(model) and summary["parity"] < 1e-3
    card = vk.load_model(model).card
    assert card.task == "style" and card.output == "adain" and card.is_head
    assert card.features == ("c4", "c3", "c2") and card.provenance["data"]["styles"]["pictures"] == ["stripes.png"]
    frame = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    styled = vk.Pipeline(["style"], models={"style": str(model)}, options={"style": {"style": "dots:2"}})(frame)
    assert styled["style"].image.shape == frame.shape and styled["style"].style == "dots:2"
    assert train_adain(data, "--steps", "3") == 2 and "--resume" in capsys.readouterr().err
    assert train_adain(data, "--steps", "3", "--resume") == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["steps"] == 3


def test_adain_bad_sources_are_one_line(data, capsys):
    assert main(["train", "adain", "--content", str(data / "content"), "--styles", str(data / "nowhere"),
                 "--out", str(data / "o4"), *ADAIN_TINY, "--steps", "1"]) == 2
    assert "folder of pictures" in capsys.readouterr().err


def test_a_painting_can_be_the_style_of_a_fast_network(data, capsys):
    assert main(["train", "style", "--style", "bands:3", "--content", str(data / "content"),
                 "--out", str(data / "out"), "--quiet", "--json", *TINY, "--steps", "1"]) == 0
    model = data / "out" / "bands_3_style.onnx"
    assert vk.load_model(model).card.provenance["data"]["style"] == {"painting": "bands:3"}
