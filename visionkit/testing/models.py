"""A tiny shared backbone built with the ``onnx`` package alone (no torch), for tests of heads
and of tasks that call the backbone.

It has the shape of the shipped one: NHWC uint8 pixels in, the normalisation inside the graph,
strided 3x3 convolutions with ReLU giving ``c2``..``c5`` at strides 4 to 32, and a backbone
card embedded in ``metadata_props`` with the content hash that heads name. Its weights are
seeded random numbers: the features mean nothing, but they are the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cards import METADATA_KEY, InputSpec, ModelCard
from ..onnx_cards import model_hash

NAME = "tiny_backbone"
#: channels of each stride-2 stage; ``c1`` (stride 2) is internal, ``c2``..``c5`` are outputs
CHANNELS = {"c1": 8, "c2": 16, "c3": 24, "c4": 32, "c5": 48}
STRIDES = {"c2": 4, "c3": 8, "c4": 16, "c5": 32}
#: what the graph does to the pixels, as the shipped backbone's card records it
NORMALISATION = {"scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
# onnxruntime reads older IR versions than the onnx package writes by default
_IR_VERSION, _OPSET = 8, 17


@dataclass(frozen=True)
class TinyBackbone:
    """A tiny backbone file and its card."""

    path: Path
    card: ModelCard

    @property
    def hash(self) -> str:
        """The content hash a head's card names (``BackboneRef(name, hash)``)."""
        return self.card.hash or ""

    @property
    def channels(self) -> dict[str, int]:
        return {f: CHANNELS[f] for f in STRIDES}


def _graph(seed: int):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    mean, std = np.array(NORMALISATION["mean"]), np.array(NORMALISATION["std"])
    inits = [
        numpy_helper.from_array((NORMALISATION["scale"] / std).astype(np.float32).reshape(1, 3, 1, 1), "mul"),
        numpy_helper.from_array((-mean / std).astype(np.float32).reshape(1, 3, 1, 1), "add"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["nchw", "mul"], ["scaled"]),
        helper.make_node("Add", ["scaled", "add"], ["x"]),
    ]
    prev, c_in = "x", 3
    for name, c_out in CHANNELS.items():
        # He initialisation keeps activations in range through the ReLUs
        w = rng.normal(0.0, np.sqrt(2.0 / (c_in * 9)), (c_out, c_in, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"{name}.w"),
                  numpy_helper.from_array(np.zeros(c_out, np.float32), f"{name}.b")]
        nodes += [helper.make_node("Conv", [prev, f"{name}.w", f"{name}.b"], [f"{name}.conv"],
                                   kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"{name}.conv"], [name])]
        prev, c_in = name, c_out
    outputs = [helper.make_tensor_value_info(f, TensorProto.FLOAT,
                                             ["batch", CHANNELS[f], f"{f}_height", f"{f}_width"])
               for f in STRIDES]
    image = helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", "height", "width", 3])
    return helper.make_graph(nodes, NAME, [image], outputs, initializer=inits)


def make_tiny_backbone(path: str | Path, *, size: int = 64, seed: int = 0) -> TinyBackbone:
    """Write the tiny backbone to ``path`` (``size`` x ``size`` letterboxed input) and return
    it with its card. Needs the ``onnx`` package (``pip install visionkit[train]``)."""
    import onnx
    from onnx import helper

    model = helper.make_model(_graph(seed), opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = _IR_VERSION
    onnx.checker.check_model(model)
    card = ModelCard(
        task="backbone", name=NAME, output="features",
        input=InputSpec(size=(size, size), layout="NHWC", dtype="uint8", scale=1.0, letterbox=True),
        features=tuple(STRIDES), strides=dict(STRIDES), hash=model_hash(model),
        provenance={"generator": "visionkit.testing.models", "seed": seed},
        options={"channels": {f: CHANNELS[f] for f in STRIDES}, "normalization_in_graph": NORMALISATION},
    )
    helper.set_model_props(model, {METADATA_KEY: card.to_json()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return TinyBackbone(path, card)
