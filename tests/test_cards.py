import pytest

from visionkit.cards import (BackboneRef, InputSpec, ModelCard, check_against_inputs, read_sidecar,
                             sidecar_path, write_sidecar)
from visionkit.errors import CardError


def test_card_round_trips_through_json(tmp_path):
    card = ModelCard(task="classify", name="m", input=InputSpec(size=(224, 224), mean=(0.5, 0.5, 0.5)),
                     labels=("a", "b"), backbone=BackboneRef("bb", "abc"), metrics={"top1": 0.99})
    again = ModelCard.from_json(card.to_json())
    assert again == card
    path = write_sidecar(card, tmp_path / "m.onnx")
    assert path == sidecar_path(tmp_path / "m.onnx") == tmp_path / "m.card.json"
    assert read_sidecar(tmp_path / "m.onnx") == card


@pytest.mark.parametrize("text,fragment", [
    ("{not json", "not valid JSON"),
    ("[1]", "JSON object"),
    ('{"task": "classify"}', "malformed"),
    ('{"task": "classify", "name": "x", "input": {"size": [224, 224], "layout": "CHW"}}', "layout"),
    ('{"task": "classify", "name": "x", "version": 99}', "newer"),
])
def test_bad_cards_fail_with_one_line(text, fragment):
    with pytest.raises(CardError, match=fragment) as info:
        ModelCard.from_json(text)
    assert "\n" not in str(info.value)


def _card(**inp):
    return ModelCard(task="classify", name="m", input=InputSpec(**{"size": (224, 224), **inp}))


def test_card_must_match_model_inputs():
    nchw = [("data", [1, 3, 224, 224], "tensor(float)")]
    check_against_inputs(_card(), nchw, "m.onnx")
    check_against_inputs(_card(), [("data", ["n", 3, "h", "w"], "tensor(float)")], "m.onnx")  # dynamic fits
    with pytest.raises(CardError, match="NHWC 224x224x3, model input is"):
        check_against_inputs(_card(layout="NHWC"), nchw, "m.onnx")
    with pytest.raises(CardError, match="257x257"):
        check_against_inputs(_card(size=(257, 257)), nchw, "m.onnx")
    with pytest.raises(CardError, match="float16 input, model takes float32"):
        check_against_inputs(_card(dtype="float16"), nchw, "m.onnx")
    with pytest.raises(CardError, match="names input 'x'"):
        check_against_inputs(_card(name="x"), nchw, "m.onnx")
