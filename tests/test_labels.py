import pytest

from visionkit.errors import CardError
from visionkit.labels import load_labels, parse_labels

from .conftest import realworld


@pytest.mark.parametrize(
    "text",
    [
        "tench\ngoldfish\ngreat white shark\n",
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn01484850 great white shark, white shark\n",
        "0,tench, Tinca tinca\n1,goldfish\n2,great white shark\n",
        "0 tench\n1 goldfish\n2 great white shark\n",
        '["tench", "goldfish", "great white shark"]',
        '{"0": "tench, Tinca tinca", "1": "goldfish", "2": "great white shark"}',
        "{0: 'tench, Tinca tinca',\n 1: 'goldfish',\n 2: 'great white shark'}",
    ],
    ids=["plain", "wnid", "index-comma", "index-space", "json-list", "json-dict", "python-dict"],
)
def test_every_shape_gives_clean_names(text):
    assert parse_labels(text) == ["tench", "goldfish", "great white shark"]


def test_plain_names_with_digits_are_not_mistaken_for_indices():
    assert parse_labels("3d printer\n7 up\n") == ["3d printer", "7 up"]


@pytest.mark.parametrize("text,fragment", [("", "empty"), ('{"0": "a", "2": "b"}', "without gaps"),
                                          ("[1, 2", "does not parse")])
def test_bad_label_files_fail_with_one_line(text, fragment):
    with pytest.raises(CardError, match=fragment):
        parse_labels(text)


@pytest.mark.parametrize("name", ["synset.txt", "winml_Labels.txt", "winml_Labels.json",
                                  "imagenet1000_clsidx_to_labels.txt"])
def test_real_imagenet_label_files_agree(name):
    labels = load_labels(realworld("models", "classification", name))
    assert len(labels) == 1000
    assert labels[0] == "tench" and labels[1] == "goldfish"
    assert labels[999] == "toilet tissue"
