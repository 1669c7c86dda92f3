"""The bundled ShapeWorld models, checked against their card on freshly generated data.

The seed below was used by nothing else (training: 0, validation: 5000, the card's test set:
10000, samples: 424242), so this is a held-out set the model has never seen.
"""

import numpy as np
import pytest

import visionkit as vk
from visionkit.bundled import resolve_model, samples
from visionkit.data.shapeworld import CLASSES, iter_classify
from visionkit.runtime import load_model

HELD_OUT_SEED = 31337
N = 1400  # 100 per class on average; a 99 % model fails this by chance far less than once in 1000


@pytest.fixture(scope="module")
def pipe():
    return vk.Pipeline(["classify"], device="cpu")


def test_cards_are_consistent():
    backbone = load_model(resolve_model("asset:shapeworld_backbone.onnx"), device="cpu").card
    head = load_model(resolve_model("asset:shapeworld_classify.onnx"), device="cpu").card
    assert head.backbone.name == backbone.name and head.backbone.hash == backbone.hash
    assert head.labels == CLASSES
    assert backbone.features == ("c3", "c4", "c5") and backbone.strides == {"c3": 8, "c4": 16, "c5": 32}
    assert head.metrics["top1"] >= 0.99
    assert "command" in head.provenance and "seed" in str(head.provenance)


def test_top1_on_fresh_held_out_data_matches_the_card(pipe):
    correct = 0
    for image, label in iter_classify(N, seed=HELD_OUT_SEED):
        correct += pipe(image)["classify"].class_ids[0] == label
    accuracy = correct / N
    stated = pipe.tasks["classify"].card.metrics["top1"]
    assert accuracy >= 0.99, f"top-1 {accuracy:.4f} on fresh data; the card states {stated:.4f}"


def test_every_bundled_sample_is_classified_as_its_name(pipe):
    for path in samples():
        expected = path.stem.split("_")[1]
        assert pipe(path)["classify"].top[0] == expected, path.name


def test_non_square_input_is_centre_cropped_not_stretched(pipe):
    rng = np.random.default_rng([HELD_OUT_SEED, 1])
    from visionkit.data.shapeworld import classify_sample

    hits = sum(pipe(img)["classify"].class_ids[0] == y
               for img, y in (classify_sample(rng, size=(240, 320)) for _ in range(200)))
    assert hits / 200 >= 0.95
