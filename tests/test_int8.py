"""The int8 backbone: a quantized copy that keeps the fp32 hash, so the fp32 backbone's heads
run on it through ``precision="int8"``, with features close to fp32 and the normalisation in float."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="quantizing needs the onnx package (pip install 'visionkit[train]')")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import visionkit as vk  # noqa: E402
from visionkit.cards import METADATA_KEY, BackboneRef, ModelCard, card_from_metadata  # noqa: E402
from visionkit.errors import ModelError, UsageError  # noqa: E402
from visionkit.imageio import write_image  # noqa: E402
from visionkit.quantize import cosine, int8_path, quantize_backbone  # noqa: E402
from visionkit.testing.models import CHANNELS, NAME, make_tiny_backbone, model_hash  # noqa: E402

LABELS = ("red", "green", "blue")


def make_head(path: Path, backbone_hash: str) -> Path:
    """A classify head on the tiny backbone's ``c5``: pooling and a seeded linear layer."""
    weight = np.random.default_rng(3).normal(0, 1, (CHANNELS["c5"], len(LABELS))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["c5"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "tiny_int8_head",
        [helper.make_tensor_value_info("c5", TensorProto.FLOAT, ["n", CHANNELS["c5"], "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", len(LABELS)])],
        initializer=[numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = ModelCard(task="classify", name="tiny_int8_head", labels=LABELS, output="logits",
                     backbone=BackboneRef(NAME, backbone_hash), features=("c5",))
    helper.set_model_props(model, {METADATA_KEY: card.to_json()})
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """A tiny backbone, a head made for it, and the backbone's int8 copy beside them."""
    folder = tmp_path_factory.mktemp("int8")
    fp32 = make_tiny_backbone(folder / f"{NAME}.onnx", size=64)
    head = make_head(folder / "head.onnx", fp32.hash)
    done = quantize_backbone(fp32.path, n=12)
    return fp32, head, done


def _card(path: Path) -> ModelCard:
    model = onnx.load(str(path))
    return card_from_metadata({p.key: p.value for p in model.metadata_props}, path.name)


def test_the_int8_copy_keeps_the_fp32_hash_and_says_int8(quantized):
    fp32, _, done = quantized
    assert done.path == int8_path(fp32.path) == fp32.path.with_name(f"{NAME}_int8.onnx")
    card = _card(done.path)
    assert card == done.card
    assert card.hash == fp32.hash  # what heads are checked against
    assert card.config["precision"] == "int8"
    assert card.provenance["quantized_from"] == {"file": fp32.path.name, "hash": fp32.hash}
    own = model_hash(onnx.load(str(done.path)))
    assert card.provenance["quantization"]["graph_hash"] == own != fp32.hash
    for field in ("task", "name", "input", "features", "strides", "output"):
        assert getattr(card, field) == getattr(fp32.card, field), field
    assert done.generated == 12 and done.user == 0


def test_a_head_made_for_the_fp32_backbone_runs_on_the_int8_one(quantized, sample_images):
    fp32, head, done = quantized
    plain = vk.Pipeline(["classify"], model=head, device="cpu")
    int8 = vk.Pipeline(["classify"], model=head, device="cpu", precision="int8")
    assert plain.backbone.path == fp32.path and plain.precision == "fp32"
    assert int8.backbone.path == done.path and int8.precision == "int8"
    for image in sample_images:
        a, b = plain(image)["classify"], int8(image)["classify"]
        assert a.top[0] == b.top[0]
        assert np.allclose(a.scores, b.scores, atol=0.05)


def test_int8_features_are_close_to_fp32(quantized, sample_images):
    fp32, head, _ = quantized
    plain = vk.Pipeline(["classify"], model=head, device="cpu").context
    int8 = vk.Pipeline(["classify"], model=head, device="cpu", precision="int8").context
    for image in sample_images:
        a, b = plain.features(image)[0], int8.features(image)[0]
        assert set(a) == set(b) == set(fp32.card.features)
        for name in a:
            assert a[name].shape == b[name].shape and b[name].dtype == np.float32
            assert cosine(a[name], b[name]) > 0.99, name


def test_the_normalisation_stays_float_and_the_convolutions_run_int8(quantized, tmp_path):
    import onnxruntime as ort

    fp32, _, done = quantized
    graph = onnx.load(str(done.path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    # from the uint8 input to the first convolution: Cast, Transpose, Mul, Add, nothing quantized
    first = next(node for node in graph.node if node.op_type == "Conv")
    chain, pending = [], [first.input[0]]
    while pending:
        node = producer.get(pending.pop())
        if node is not None:
            chain.append(node)
            pending.extend(node.input)
    assert {n.op_type for n in chain} == {"Cast", "Transpose", "Mul", "Add"}
    for node in chain:
        around = [producer.get(i) for i in node.input]
        around += [c for out in node.output for c in consumers.get(out, [])]
        assert not [n.op_type for n in around if n is not None and "Quantize" in n.op_type], node.name
    # the rest is int8: onnxruntime fuses the QDQ pairs into int8 convolutions
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(done.path), options, providers=["CPUExecutionProvider"])
    ops = [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]
    assert ops.count("QLinearConv") == len(CHANNELS) - 1  # all but the first, which reads the picture
    assert "QLinearMul" not in ops and "QLinearAdd" not in ops  # the tiny one has no residual sums


def test_a_missing_int8_copy_is_one_clear_line(tmp_path, capsys):
    from visionkit.cli import main

    fp32 = make_tiny_backbone(tmp_path / f"{NAME}.onnx", size=64)
    head = make_head(tmp_path / "head.onnx", fp32.hash)
    with pytest.raises(ModelError) as info:
        vk.Pipeline(["classify"], model=head, device="cpu", precision="int8")
    message = str(info.value)
    assert "\n" not in message
    assert f"no int8 copy of {NAME}.onnx" in message and "visionkit models quantize" in message
    write_image(tmp_path / "red.png", np.full((64, 64, 3), (255, 0, 0), np.uint8))
    code = main(["predict", str(tmp_path / "red.png"), "--model", str(head), "--precision", "int8"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "visionkit models quantize" in err


def test_precision_is_checked(quantized, tmp_path):
    from .conftest import make_standalone_classifier

    _, head, _ = quantized
    with pytest.raises(UsageError, match="precision must be fp32 or int8"):
        vk.Pipeline(["classify"], model=head, precision="fp16")
    standalone = make_standalone_classifier(tmp_path / "standalone.onnx")
    with pytest.raises(UsageError, match="none of these tasks reads it"):
        vk.Pipeline(["classify"], model=standalone, device="cpu", precision="int8")


def test_only_an_fp32_backbone_with_convolutions_is_quantized(quantized, tmp_path):
    from .conftest import make_tiny_backbone as make_pooling_backbone

    _, head, done = quantized
    with pytest.raises(UsageError, match="only a shared backbone"):
        quantize_backbone(head, tmp_path / "x.onnx", n=2)
    with pytest.raises(UsageError, match="already int8"):
        quantize_backbone(done.path, tmp_path / "x.onnx", n=2)
    with pytest.raises(UsageError, match="no calibration pictures"):
        quantize_backbone(quantized[0].path, tmp_path / "x.onnx", n=0)
    pools_only = make_pooling_backbone(tmp_path / "pools.onnx")  # no convolutions at all
    with pytest.raises(UsageError, match="nothing in it runs in int8"):
        quantize_backbone(pools_only, tmp_path / "x.onnx", n=2)
    assert not (tmp_path / "x.onnx").exists()


def test_the_cli_calibrates_on_the_users_pictures_too(quantized, tmp_path, sample_images, capsys):
    from visionkit.cli import main

    fp32, _, _ = quantized
    folder = tmp_path / "mine"
    for i, image in enumerate(sample_images):
        write_image(folder / f"{i}.png", image)
    out = tmp_path / "elsewhere.onnx"
    code = main(["models", "quantize", str(fp32.path), "--calibrate", str(folder), "--n", "0",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    card = _card(out)
    assert card.provenance["quantization"]["calibration"] == {"shapeworld": 0, "seed": 0, "user": 3}
    assert f"wrote {out}" in printed and f"--backbone {out}" in printed  # not where --precision looks
    with pytest.raises(UsageError, match="not a camera"):
        quantize_backbone(fp32.path, tmp_path / "y.onnx", calibrate=["0"], n=0)


def test_the_cli_states_the_default_number_of_pictures(capsys):
    from visionkit.cli import main
    from visionkit.quantize import DEFAULT_PICTURES

    with pytest.raises(SystemExit):
        main(["models", "quantize", "--help"])
    assert f"(default {DEFAULT_PICTURES};" in " ".join(capsys.readouterr().out.split())
