"""Model cards, label files and image headers come from outside: whatever they hold, the answer
is a working card or one line naming the file, the field and what the field allows."""

import importlib.util
import json
import os
import random
import time
from pathlib import Path

import pytest

from visionkit import imageheaders, runtime
from visionkit.cards import ModelCard, read_sidecar, sidecar_path, write_sidecar
from visionkit.cli import main
from visionkit.errors import CardError, VisionkitError
from visionkit.labels import load_labels, parse_labels

from .conftest import make_standalone_classifier

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
ORIGIN = "m.card.json"
NAN, INF = float("nan"), float("inf")


def _one_line(exc: BaseException, start: str) -> str:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(start), message
    return message


def _standalone() -> dict:
    return {"task": "classify", "name": "m", "labels": ["a", "b", "c"], "output": "probs",
            "input": {"size": [224, 224], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}


def _with(path: str, value):
    card = _standalone()
    *parents, key = path.split(".")
    target = card
    for p in parents:
        target = target[p]
    if value is KeyError:
        target.pop(key)
    else:
        target[key] = value
    return card


_FINITE = "must be a finite number"
_SIZE = "input.size must be (height, width), each a whole number 1..16384"


@pytest.mark.parametrize("path,value,expected", [
    ("input.std", [0, 1, 1], "input.std must be three finite numbers above 0, not [0, 1, 1]"),
    ("input.std", [-0.5, 1, 1], "input.std must be three finite numbers above 0"),
    ("input.scale", 0, "input.scale must be a finite number above 0, not 0"),
    ("input.scale", -1, "input.scale must be a finite number above 0"),
    ("input.mean", [NAN, 0, 0], f"input.mean[0] {_FINITE}, not nan"),
    ("input.scale", INF, f"input.scale {_FINITE}, not inf"),
    ("input.pad_value", -INF, f"input.pad_value {_FINITE}, not -inf"),
    ("metrics", {"top1": NAN}, f"metrics.top1 {_FINITE}, not nan"),
    ("provenance", {"loss": [1.0, INF]}, f"provenance.loss[1] {_FINITE}, not inf"),
    ("input.size", ["224", "224"], f"{_SIZE}, not ['224', '224']"),
    ("input.size", [224], _SIZE),
    ("input.size", [0, 224], _SIZE),
    ("input.size", [True, 224], _SIZE),
    ("input.size", [20000, 20], f"{_SIZE}, not [20000, 20]"),
    ("input.size", [16384, 16384], "input.size must be at most 67108864 pixels in all (8192x8192)"),
    ("input.size", KeyError, f"{_SIZE}, not missing"),
    ("input.mean", "0.5", "input.mean must be three finite numbers, not '0.5'"),
    ("input.std", ["1", "1", "1"], "input.std must be three finite numbers above 0"),
    ("input.scale", "1/255", "input.scale must be a finite number above 0, not '1/255'"),
    ("input.crop", "224", "input.crop must be a whole number 1..16384 or null, not '224'"),
    ("input.crop", -1, "input.crop must be a whole number 1..16384 or null, not -1"),
    ("input.resize", 0, "input.resize must be a whole number 1..16384 or null, not 0"),
    ("input.resize", 2.5, "input.resize must be a whole number 1..16384 or null"),
    ("input", {"size": [224, 224], "resize": 256, "crop": 300}, "input.crop must be at most input.resize (256), not 300"),
    ("input.pad_value", "114", "input.pad_value must be a number 0..255, not '114'"),
    ("input.pad_value", 300, "input.pad_value must be a number 0..255, not 300"),
    ("input.pad_value", -1, "input.pad_value must be a number 0..255"),
    ("input.letterbox", "yes", "input.letterbox must be true or false, not 'yes'"),
    ("input.layout", "CHW", "input.layout must be NCHW or NHWC, not 'CHW'"),
    ("input.dtype", "float64", "input.dtype must be float32, float16, uint8 or int8"),
    ("input.letterbox_align", "left", "input.letterbox_align must be center or topleft"),
    ("input.sizes", [1, 1], "unknown input key 'sizes' (keys: size, layout,"),
    ("strides", {"c5": "32"}, "strides.c5 must be a whole number 1..16384, not '32'"),
    ("strides", {"c5": 0}, "strides.c5 must be a whole number 1..16384, not 0"),
    ("metrics", {"top1": "0.9"}, "metrics.top1 must be a finite number, not '0.9'"),
    ("labels", "abc", "labels must be a list of strings, not 'abc'"),
    ("labels", ["a", 1, "c"], "labels[1] must be a string, not 1"),
    ("labels", {"0": "a"}, "labels must be a list of strings"),
    ("features", "c5", "features must be a list of strings, not 'c5'"),
    ("input", None, "input must be given for a model that takes the image (no backbone), not null"),
    ("input", KeyError, "input must be given for a model that takes the image (no backbone)"),
    ("input", [224, 224], "input must be an input object or null"),
    ("lables", ["a"], "unknown card key 'lables' (keys: version, task, name, input, labels, output, "
                      "backbone, features, strides, hash, metrics, provenance, options, config, parts)"),
    ("parts", {"box_head": 3}, "parts.box_head must be a non-empty string, not 3"),
    ("parts", ["x.onnx"], "parts must be an object of role: file name"),
    ("config", [], "config must be an object, not []"),
    ("options", "topk=5", "options must be an object, not 'topk=5'"),
    ("provenance", "me", "provenance must be an object"),
    ("version", "2", "version must be a whole number 1..2, not '2'"),
    ("version", 2.0, "version must be a whole number 1..2, not 2.0"),
    ("version", True, "version must be a whole number 1..2, not true"),
    ("version", 0, "version must be a whole number 1..2, not 0"),
    ("version", 3, "card version 3 is newer than this visionkit reads (2); upgrade visionkit"),
    ("task", "", "task must be a non-empty string"),
    ("name", 7, "name must be a string, not 7"),
    ("output", None, "output must be a non-empty string, not null"),
    ("backbone", {"name": "bb"}, "backbone.hash must be a non-empty string, not missing"),
    ("backbone", {"name": "bb", "hash": "h", "sha": "x"}, "unknown backbone key 'sha'"),
    ("task", KeyError, "malformed model card: no 'task'"),
])
def test_a_bad_field_is_refused_in_one_line_naming_card_field_and_range(path, value, expected):
    card = _with(path, value)
    with pytest.raises(CardError) as info:
        ModelCard.from_json(json.dumps(card), origin=ORIGIN)
    assert _one_line(info.value, f"{ORIGIN}: ").startswith(f"{ORIGIN}: {expected}")


@pytest.mark.parametrize("text,expected", [
    ("[" * 100_000, "card nests deeper than 32 levels"),
    ("{" * 100_000, "not valid JSON"),
    (json.dumps({**_standalone(), "provenance": {"recipe": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}),
     "provenance nests deeper than 32 levels"),
    ('{"task": "classify", "name": "m", "input": {"size": [' + "9" * 5000 + ", 1]}}",
     "not valid JSON (Exceeds the limit (4300 digits) for integer string conversion)"),
    ('{"task": "classify", "name": "m", "input": {"size": [1e999, 1]}}', f"input.size[0] {_FINITE}, not inf"),
    ('{"task": "classify", "name": "\\ud800", "input": {"size": [1, 1]}}', "name must be text without lone"),
    ('"a card"', "a card is a JSON object"),
    ("{not json", "not valid JSON (Expecting property name"),
    (" " * (16 * 2**20 + 1), "16777217 characters is too large for a card"),
])
def test_card_text_that_is_no_card_is_refused_in_one_line(text, expected):
    with pytest.raises(CardError) as info:
        ModelCard.from_json(text, origin=ORIGIN)
    assert _one_line(info.value, f"{ORIGIN}: ").startswith(f"{ORIGIN}: {expected}")


def _bad_sidecar(tmp_path: Path, content: bytes) -> Path:
    model = tmp_path / "m.onnx"
    sidecar_path(model).write_bytes(content)
    return model


@pytest.mark.parametrize("case,expected", [
    ("binary", "m.card.json: not a card file (not UTF-8 text)"),
    ("directory", "m.card.json: is a directory, not a card file"),
    ("bad field", "m.card.json: input.std must be three finite numbers above 0, not [0, 1, 1]"),
])
def test_a_sidecar_that_is_no_card_is_refused_in_one_line(tmp_path, case, expected):
    model = tmp_path / "m.onnx"
    if case == "binary":
        sidecar_path(model).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    elif case == "directory":
        sidecar_path(model).mkdir()
    else:
        sidecar_path(model).write_text(json.dumps(_with("input.std", [0, 1, 1])))
    if case == "directory":  # not a file: no sidecar at all, as before; an explicit card is read
        assert read_sidecar(model) is None
        with pytest.raises(CardError) as info:
            runtime.read_card(model, None, sidecar_path(model))
    else:
        with pytest.raises(CardError) as info:
            read_sidecar(model)
    assert _one_line(info.value, str(tmp_path)).endswith(expected)


def _embed(path: Path, text: str) -> Path:
    import onnx

    from visionkit.cards import METADATA_KEY

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, text
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("text,expected", [
    (json.dumps({"task": "classify", "name": "m", "input": {"size": [32, 32], "std": [0, 1, 1]}}),
     "m.onnx (embedded card): input.std must be three finite numbers above 0, not [0, 1, 1]"),
    ("[" * 100_000, "m.onnx (embedded card): card nests deeper than 32 levels"),
    (json.dumps({"task": "classify", "name": "m", "input": {"size": [32, 32]}, "labels": "abc"}),
     "m.onnx (embedded card): labels must be a list of strings, not 'abc'"),
])
def test_an_embedded_card_is_checked_as_it_loads(tmp_path, text, expected):
    path = _embed(make_standalone_classifier(tmp_path / "m.onnx", card=False), text)
    with pytest.raises(CardError) as info:
        runtime.load_model(path, device="cpu")
    assert _one_line(info.value, expected) == expected


@pytest.mark.parametrize("flags,expected", [
    (["--std", "0,1,1"], "--std must be three finite numbers above 0, not (0.0, 1.0, 1.0)"),
    (["--mean", "nan,0,0"], "--mean must be three finite numbers, not (nan, 0.0, 0.0)"),
    (["--scale", "0"], "--scale must be a finite number above 0, not 0.0"),
    (["--scale", "inf"], "--scale must be a finite number above 0, not inf"),
    (["--pad-value", "300"], "--pad-value must be a number 0..255, not 300.0"),
    (["--resize=-1"], "--resize must be a whole number 1..16384, not -1"),
    (["--crop", "0", "--size", "32x32"], "--crop must be a whole number 1..16384, not 0"),
    (["--resize", "32", "--crop", "48"], "--crop must be at most input.resize (32), not 48"),
    (["--size", "20000x20000"], "--size must be (height, width), each a whole number 1..16384"),
    (["--size", "0x32"], "--size must be (height, width), each a whole number 1..16384, not (0, 32)"),
])
def test_models_card_flags_meet_the_limits_of_a_loaded_card(tmp_path, capsys, flags, expected):
    model = make_standalone_classifier(tmp_path / "m.onnx", card=False)
    code = main(["models", "card", str(model), "--task", "classify", "--output", "probs", *flags])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"visionkit: error: {expected}"), err
    assert not sidecar_path(model).exists()


@pytest.mark.parametrize("options,expected", [
    ({"topk": 0}, "m.onnx: card option classify.topk must be a positive whole number, not 0"),
    ({"topk": "5"}, "m.onnx: card option classify.topk must be a positive whole number, not '5'"),
    ({"topk": 2.5}, "m.onnx: card option classify.topk must be a positive whole number, not 2.5"),
])
def test_card_options_meet_the_tasks_limits(tmp_path, options, expected):
    from visionkit.plugins.classify.runtime import ClassifyTask

    path = make_standalone_classifier(tmp_path / "m.onnx")
    card = runtime.load_model(path, device="cpu").card
    write_sidecar(card.with_(options=options), path)
    with pytest.raises(CardError) as info:
        ClassifyTask(runtime.load_model(path, device="cpu"))
    assert _one_line(info.value, expected) == expected


@pytest.mark.parametrize("text,expected", [
    ("[" * 100_000, "label file nests too deeply to be a list of labels"),
    ("[" + "-" * 100_000 + "1]", "label file nests too deeply to be a list of labels"),
    ("{" * 100_000, "looks like JSON but does not parse"),
    ("[" * 150 + "]" * 150, "label 0 must be a name (text), not [[[...]]]"),
    ('{"0": "tench", "1": 7}', "label 1 must be a name (text), not 7"),
    ('{"0": null}', "label 0 must be a name (text), not None"),
    ("{0: 'tench', 1: {'goldfish'}}", "label 1 must be a name (text), not {'goldfish'}"),
    ('["tench", ["goldfish"]]', "label 1 must be a name (text), not ['goldfish']"),
    ("[1e999]", "label 0 must be a name (text), not inf"),
    ('{"a": "tench"}', "label keys must be class indices"),
    ("{0: 'tench', 1.5: 'goldfish'}", "label keys must be class indices"),
    ("{1e999: 'tench'}", "label keys must be class indices"),
    ("[1and 2]", "looks like JSON but does not parse"),
    ("\x00\x01\x02ELF\x7f", "holds control characters, not label text (a binary file?)"),
    ("tench\ngold\x1bfish\n", "holds control characters, not label text (a binary file?)"),
])
def test_label_text_that_is_no_labels_is_refused_in_one_line(text, expected, recwarn):
    with pytest.raises(CardError) as info:
        parse_labels(text, origin="labels.txt")
    assert _one_line(info.value, "labels.txt: ") == f"labels.txt: {expected}"
    assert not recwarn.list  # nothing printed besides the one line (the parser warns on "1and")


@pytest.mark.parametrize("case,expected", [
    ("huge", "bytes is too large for a label file (at most 16 MB)"),
    ("binary", "not a label file (not UTF-8 text)"),
    ("directory", "is a directory, not a label file"),
    ("missing", "no such label file"),
])
def test_a_label_file_that_is_no_labels_is_refused_in_one_line(tmp_path, case, expected):
    path = tmp_path / "labels.txt"
    if case == "huge":
        with open(path, "wb") as f:
            f.truncate(17 * 2**20)  # sparse: the size is what is refused, before any reading
    elif case == "binary":
        path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    elif case == "directory":
        path.mkdir()
    with pytest.raises(CardError) as info:
        load_labels(path)
    assert _one_line(info.value, str(path)).endswith(expected)


def test_names_come_out_on_one_line():
    assert parse_labels('["great\\nwhite  shark", " tench,\\tTinca tinca"]') == ["great white shark", "tench"]


@pytest.mark.parametrize("edit", ["link", "edited sidecar", "explicit card"])
def test_a_model_through_a_link_reads_the_sidecar_beside_the_link(tmp_path, edit):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").mkdir()
    real = make_standalone_classifier(tmp_path / "real" / "m.onnx")
    link = tmp_path / "alias" / "other.onnx"
    link.symlink_to(real)
    direct = runtime.load_model(real, device="cpu")
    card = direct.card
    write_sidecar(card.with_(labels=("a", "b", "c")), link)
    via_link = runtime.load_model(link, device="cpu")
    assert direct.card.labels == ("red", "green", "blue") and via_link.card.labels == ("a", "b", "c")
    assert via_link.session is direct.session  # one file, one onnxruntime session
    assert runtime.load_model(link, device="cpu") is via_link
    if edit == "edited sidecar":
        sidecar = write_sidecar(card.with_(labels=("x", "y", "z")), link)
        st = sidecar.stat()
        os.utime(sidecar, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse clocks see a change
        assert runtime.load_model(link, device="cpu").card.labels == ("x", "y", "z")
    elif edit == "explicit card":
        other = write_sidecar(card.with_(labels=("p", "q", "r")), link, tmp_path / "explicit.json")
        assert runtime.load_model(link, device="cpu", card=other).card.labels == ("p", "q", "r")
        assert runtime.load_model(real, device="cpu", card=other).session is direct.session
    assert runtime.load_model(real, device="cpu").card.labels == ("red", "green", "blue")


# --- replaying what the fuzzers found, and seeded mutations of the seeds (fuzz/README.md) ------

def _card_mutations():
    spec = importlib.util.spec_from_file_location("card_mutations", FUZZ / "card_mutations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _byte_mutation(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(4)
        if kind == 0 and data:
            del data[at:at + rng.randrange(1, 9)]
        elif kind == 1:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif kind == 2 and at < len(data):
            data[at] ^= 1 << rng.randrange(8)
        else:  # a piece of itself elsewhere: lengths and offsets that point anywhere
            start = rng.randrange(len(data) + 1)
            data[at:at] = data[start:start + rng.randrange(1, 17)]
    return bytes(data)


def _replay_cards(rng: random.Random) -> None:
    mutations = _card_mutations()
    seeds = mutations.seed_cards()
    texts = [json.dumps(card) for card in seeds]
    texts += [mutations.to_text(mutations.mutate(rng.choice(seeds), rng.randrange)) for _ in range(300)]
    texts += [_byte_mutation(t.encode(), rng).decode("utf-8", "replace") for t in texts[:len(seeds)] * 40]
    for text in texts:
        try:
            card = ModelCard.from_json(text, origin=ORIGIN)
        except VisionkitError as exc:
            _one_line(exc, ORIGIN)
            continue
        assert ModelCard.from_json(card.to_json()) == card


def _replay_labels(rng: random.Random) -> None:
    seeds = [p.read_bytes() for p in sorted((FUZZ / "seeds" / "labels").iterdir())]
    for data in seeds + [_byte_mutation(rng.choice(seeds), rng) for _ in range(400)]:
        try:
            labels = parse_labels(data.decode("utf-8", "replace"), origin="labels.txt")
        except VisionkitError as exc:
            _one_line(exc, "labels.txt")
            continue
        assert all(isinstance(v, str) and "\n" not in v for v in labels)


def _replay_images(rng: random.Random) -> None:
    seeds = [p.read_bytes() for p in sorted((FUZZ / "seeds" / "images").iterdir())]
    for data in seeds + [_byte_mutation(rng.choice(seeds), rng) for _ in range(600)]:
        fmt = imageheaders.sniff_format(data[:64])
        assert "\n" not in imageheaders.describe_start(data)
        size = imageheaders.image_size(data)
        assert size is None or (len(size) == 2 and min(size) >= 0)
        if fmt is not None:
            size, orientation, problem = imageheaders._header(fmt, data, to_end=True)
            assert orientation in (None, *range(1, 9))
            assert problem is None or "\n" not in problem


@pytest.mark.parametrize("replay", [_replay_cards, _replay_labels, _replay_images],
                         ids=["cards", "labels", "image-headers"])
def test_seeded_mutations_of_the_fuzz_seeds_give_answers_or_one_line(replay):
    replay(random.Random(20261201))


def test_a_png_chunk_type_of_control_bytes_stays_on_one_line():
    data = (FUZZ / "seeds" / "images" / "tiny.png").read_bytes()
    data = data[:-8] + b"ND\r\n" + data[-4:]  # the end chunk, retyped with a line break
    _, _, problem = imageheaders._header("PNG", data, to_end=True)
    assert problem is not None and "\n" not in problem and "\r" not in problem


def test_a_pnm_header_of_whitespace_is_read_at_once():
    # what the fuzzer found, shortened: a run of whitespace that ends in no number; each more
    # byte of it doubles the time a backtracking pattern takes
    start = time.perf_counter()
    imageheaders.image_size(b"P5\n4 " + b"\x0b" * 21 + b"\xc8")
    imageheaders.image_size(b"P1" + b" " * 21 + b"x")
    assert time.perf_counter() - start < 0.02


def test_an_elongated_image_cannot_make_a_huge_intermediate_picture():
    import numpy as np

    from visionkit.cards import InputSpec
    from visionkit.errors import InputError
    from visionkit.preprocess import preprocess

    spec = InputSpec(size=(224, 224), resize=256, crop=224)
    with pytest.raises(InputError, match="too elongated"):
        preprocess(np.zeros((1, 300_000, 3), np.uint8), spec)
    tensor, _ = preprocess(np.zeros((100, 300, 3), np.uint8), spec)
    assert tensor.shape == (1, 3, 224, 224)


def test_a_fifo_named_like_a_card_or_labels_is_refused_without_waiting(tmp_path):
    import os

    from visionkit.cards import read_card_file
    from visionkit.errors import CardError
    from visionkit.labels import load_labels

    os.mkfifo(tmp_path / "m.card.json")
    os.mkfifo(tmp_path / "labels.txt")
    with pytest.raises(CardError, match="is a FIFO"):
        read_card_file(tmp_path / "m.card.json")
    with pytest.raises(CardError, match="is a FIFO"):
        load_labels(tmp_path / "labels.txt")
