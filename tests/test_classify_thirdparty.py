"""Third-party ImageNet classifiers run through the classify plugin with sidecar cards.

The models and photos are read from ../shared/realworld (never copied into the project); the
models are linked into a temporary folder so their sidecar cards can be written beside them.
"""

import json

import pytest

from visionkit.cli import main

from .conftest import realworld

CAT_LIKE = {"Egyptian cat", "tabby", "tiger cat"}
EXPECTED = {  # photo -> acceptable top-1 labels
    ("winml", "cat.jpg"): CAT_LIKE,
    ("winml", "kitten_224.png"): CAT_LIKE,
    ("winml", "dog.jpg"): {"golden retriever"},
    ("winml", "hummingbird.jpg"): {"hummingbird"},
    ("winml", "fish.png"): {"tench"},
    ("ortex", "goldfish.jpg"): {"goldfish"},
    ("ortex", "horse-cart.jpg"): {"horse cart"},
    ("ortex", "kimono.jpg"): {"kimono"},
    ("ortex", "wolves.jpg"): {"white wolf", "timber wolf"},
    (None, "imagenet_finch.jpeg"): {"house finch"},
}


def photo(folder, name):
    return realworld("images", folder, name) if folder else realworld("images", name)


@pytest.fixture
def linked(tmp_path):
    def link(name):
        target = tmp_path / name
        target.symlink_to(realworld("models", "classification", name))
        return target
    return link


def predict_json(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_int8_mobilenetv2_names_the_real_photos(linked, capsys):
    model = linked("mobilenetv2-12-int8.onnx")
    labels = realworld("models", "classification", "synset.txt")
    assert main(["models", "card", str(model), "--task", "classify", "--labels", str(labels),
                 "--resize", "256", "--crop", "224", "--mean", "0.485,0.456,0.406",
                 "--std", "0.229,0.224,0.225"]) == 0
    capsys.readouterr()
    photos = [photo(*key) for key in EXPECTED]
    lines = predict_json(["predict", *photos, "--model", model, "--json", "--topk", "3"], capsys)
    got = {line["source"]: line["results"]["classify"]["labels"][0] for line in lines}
    for key, ok in EXPECTED.items():
        assert got[str(photo(*key))] in ok, (key, got[str(photo(*key))])


def test_fp16_squeezenet_bgr_raw_pixels_probabilities(linked, capsys):
    model = linked("squeezenet1.1_winml_fp16.onnx")
    labels = realworld("models", "classification", "winml_Labels.txt")
    assert main(["models", "card", str(model), "--task", "classify", "--labels", str(labels),
                 "--channel-order", "bgr", "--scale", "1", "--output", "probs"]) == 0
    capsys.readouterr()
    [line] = predict_json(["predict", photo("winml", "fish.png"), "--model", model, "--json"], capsys)
    result = line["results"]["classify"]
    assert result["labels"][0] == "tench"
    assert result["scores"][0] == pytest.approx(0.738, abs=0.01)
