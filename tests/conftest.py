"""Shared fixtures: tiny hand-built ONNX models, so core tests need no trained model.

The tiny backbone average-pools the image into c3/c4/c5 (strides 8/16/32); the tiny head
averages c5 and maps mean R, G, B through an identity matrix, so a red image is "red". That
makes every pipeline result predictable by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# the shared material sits beside the checkout (../shared/realworld), in CI as here
REALWORLD = Path(os.environ.get("VISIONKIT_REALWORLD",
                                Path(__file__).resolve().parents[2] / "shared" / "realworld"))


def realworld(*parts: str) -> Path:
    """A file of the shared real-world material; skips the test where it is absent."""
    path = REALWORLD.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real-world material not present: {path}")
    return path


def _save(model, path: Path, card) -> Path:
    import onnx

    from visionkit.cards import METADATA_KEY

    if card is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, card.to_json()
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_tiny_backbone(path: Path, hash_: str = "feedc0de00000000", size: int = 64) -> Path:
    from onnx import TensorProto, helper

    from visionkit.cards import InputSpec, ModelCard

    nodes = [helper.make_node("AveragePool", ["image"], [f"c{i}"], kernel_shape=[s, s], strides=[s, s])
             for i, s in ((3, 8), (4, 16), (5, 32))]
    graph = helper.make_graph(
        nodes, "tiny_backbone",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info(f"c{i}", TensorProto.FLOAT, ["n", 3, f"h{i}", f"w{i}"]) for i in (3, 4, 5)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = ModelCard(task="backbone", name="tiny_backbone", input=InputSpec(size=(size, size)),
                     output="features", features=("c3", "c4", "c5"),
                     strides={"c3": 8, "c4": 16, "c5": 32}, hash=hash_)
    return _save(model, path, card)


def make_tiny_head(path: Path, backbone_hash: str = "feedc0de00000000", labels=("red", "green", "blue")) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    from visionkit.cards import BackboneRef, ModelCard

    weight = numpy_helper.from_array(np.eye(3, dtype=np.float32) * 10.0, "w")
    nodes = [
        helper.make_node("GlobalAveragePool", ["c5"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_head",
        [helper.make_tensor_value_info("c5", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = ModelCard(task="classify", name="tiny_head", labels=tuple(labels), output="logits",
                     backbone=BackboneRef("tiny_backbone", backbone_hash), features=("c5",),
                     options={"topk": 3})
    return _save(model, path, card)


def make_standalone_classifier(path: Path, *, dtype: str = "float32", layout: str = "NCHW",
                               size: int = 32, card=True) -> Path:
    """An image -> probabilities model (mean colour), with or without an embedded card."""
    from onnx import TensorProto, helper, numpy_helper

    from visionkit.cards import InputSpec, ModelCard

    elem = TensorProto.FLOAT16 if dtype == "float16" else TensorProto.FLOAT
    shape = [1, 3, size, size] if layout == "NCHW" else [1, size, size, 3]
    nodes = []
    src = "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        src = "nchw"
    if dtype == "float16":
        nodes.append(helper.make_node("Cast", [src], ["f32"], to=TensorProto.FLOAT))
        src = "f32"
    nodes += [
        helper.make_node("GlobalAveragePool", [src], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs32"], axis=1),
    ]
    out = "probs32"
    if dtype == "float16":
        nodes.append(helper.make_node("Cast", ["probs32"], ["probs"], to=TensorProto.FLOAT16))
        out = "probs"
    graph = helper.make_graph(
        nodes, "tiny_standalone",
        [helper.make_tensor_value_info("image", elem, shape)],
        [helper.make_tensor_value_info(out, elem, [1, 3])],
        initializer=[numpy_helper.from_array(np.eye(3, dtype=np.float32) * 10.0, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model_card = None
    if card:
        model_card = ModelCard(task="classify", name="tiny_standalone",
                               input=InputSpec(size=(size, size), layout=layout, dtype=dtype),
                               labels=("red", "green", "blue"), output="probs")
    return _save(model, path, model_card)


@pytest.fixture
def tiny_models(tmp_path: Path) -> dict[str, Path]:
    """A tiny backbone and a head beside it, as ``{"backbone": path, "head": path}``."""
    folder = tmp_path / "models"
    folder.mkdir()
    return {
        "backbone": make_tiny_backbone(folder / "tiny_backbone.onnx"),
        "head": make_tiny_head(folder / "tiny_head.onnx"),
    }


@pytest.fixture
def solid_image():
    """``solid_image((255, 0, 0), 64, 48)`` -> an RGB uint8 image of one colour."""

    def make(rgb=(255, 0, 0), w: int = 64, h: int = 64) -> np.ndarray:
        img = np.zeros((h, w, 3), dtype=np.uint8)
        img[:] = rgb
        return img

    return make


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Sessions and plugins are process-wide caches; tests must not see each other's."""
    from visionkit import plugin_manager, runtime

    runtime.clear_cache()
    plugin_manager.set_plugins(None)
    yield
    runtime.clear_cache()
    plugin_manager.set_plugins(None)
