"""ImageFolder: writing a ShapeWorld classify set and reading it back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionkit.data.imagefolder import load_image, load_images, read_image_folder, write_classify_set
from visionkit.data.shapeworld import CLASSES, classify_dataset
from visionkit.errors import InputError


def test_write_then_read_round_trip(tmp_path):
    summary = write_classify_set(tmp_path / "set", n=2 * len(CLASSES), seed=5, size=48, progress=False)
    assert summary["n"] == 2 * len(CLASSES) and summary["seed"] == 5
    assert sum(summary["counts"].values()) == summary["n"]
    samples, classes = read_image_folder(tmp_path / "set")
    assert classes == sorted(CLASSES)
    assert len(samples) == summary["n"]
    images, labels = load_images(samples, size=48)
    # PNG is lossless: the pixels are the generator's, under the sorted class ids
    ref_images, ref_labels = classify_dataset(summary["n"], seed=5, size=48)
    ref = {img.tobytes(): CLASSES[lab] for img, lab in zip(ref_images, ref_labels)}
    for img, lab in zip(images, labels):
        assert ref[img.tobytes()] == classes[lab]


def test_read_user_folder_and_resize(tmp_path):
    import cv2

    for label, colour in (("cat", 10), ("dog", 200)):
        (tmp_path / label).mkdir()
        for i in range(2):
            cv2.imwrite(str(tmp_path / label / f"{i}.jpg"), np.full((30, 50, 3), colour, np.uint8))
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    samples, classes = read_image_folder(tmp_path)
    assert classes == ["cat", "dog"] and [c for _, c in samples] == [0, 0, 1, 1]
    img = load_image(samples[0][0], size=16)
    assert img.shape == (16, 16, 3) and img.dtype == np.uint8


def test_read_errors(tmp_path):
    with pytest.raises(InputError):
        read_image_folder(tmp_path / "missing")
    with pytest.raises(InputError):
        read_image_folder(tmp_path)  # no class folders
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        read_image_folder(tmp_path)  # no images
    bad = tmp_path / "empty" / "x.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(InputError):
        load_image(bad)


def test_data_cli_writes_set(tmp_path, capsys):
    import argparse

    from visionkit.cli import data_cmd
    from visionkit.errors import UsageError

    parser = argparse.ArgumentParser()
    data_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "shapeworld", "--task", "classify", "--n", "14", "--seed", "2",
                              "--out", str(tmp_path / "d"), "--size", "32", "--quiet"])
    assert args.func(args) == 0
    assert "wrote 14" in capsys.readouterr().out
    samples, classes = read_image_folder(tmp_path / "d")
    assert len(samples) == 14 and len(classes) == len(CLASSES)
    bad = parser.parse_args(["data", "shapeworld", "--n", "0", "--out", str(tmp_path / "e")])
    with pytest.raises(UsageError):
        bad.func(bad)


def test_training_images_are_read_and_cropped_as_inference_sees_them(tmp_path):
    from visionkit.cards import InputSpec
    from visionkit.imageio import read_image
    from visionkit.preprocess import preprocess

    rgba = np.zeros((60, 120, 4), np.uint8)
    rgba[:, :60] = (0, 0, 255, 255)  # opaque red on the left (BGRA), transparent on the right
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), rgba)
    # the geometry `visionkit train classify` exports with its backbone (shorter side + crop)
    spec = InputSpec(size=(128, 128), layout="NHWC", dtype="uint8", scale=1.0, resize=128)
    expected = preprocess(read_image(path), spec)[0][0]  # what that backbone receives
    np.testing.assert_array_equal(load_image(path, size=spec.size[0]), expected)
    assert tuple(expected[0, -1]) == (255, 255, 255)  # transparency over white, not black
