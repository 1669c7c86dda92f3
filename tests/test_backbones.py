"""ResNet backbones: published parameter counts, torchvision key names, named feature maps."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from visionkit.nn.backbones import ARCHS, FEATURE_STRIDES, Backbone, resnet18, resnet50, resnet_mini  # noqa: E402


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_published_parameter_counts():
    assert n_params(resnet18()) == 11_689_512
    assert n_params(resnet50()) == 25_557_032


def test_small_backbone_is_small():
    assert n_params(resnet_mini(num_classes=0)) <= 1_500_000


def test_torchvision_key_names():
    keys = set(resnet18().state_dict())
    for k in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
              "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
              "layer4.1.conv2.weight", "fc.weight", "fc.bias"):
        assert k in keys, k
    assert "layer1.0.downsample.0.weight" not in keys  # resnet18's first stage keeps its width
    keys50 = set(resnet50().state_dict())
    assert {"layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer3.5.bn3.weight"} <= keys50
    assert resnet50().state_dict()["fc.weight"].shape == (1000, 2048)


@pytest.mark.parametrize("arch,channels", [("resnet_mini", (32, 64, 128, 256)), ("resnet18", (64, 128, 256, 512)),
                                           ("resnet50", (256, 512, 1024, 2048))])
def test_feature_names_strides_shapes(arch, channels):
    model = ARCHS[arch](num_classes=0).eval()
    x = torch.zeros(2, 3, 64, 96)
    with torch.no_grad():
        feats = model.forward_features(x)
    assert list(feats) == ["c2", "c3", "c4", "c5"]
    assert FEATURE_STRIDES == {"c2": 4, "c3": 8, "c4": 16, "c5": 32}
    for (name, f), c in zip(feats.items(), channels):
        s = FEATURE_STRIDES[name]
        assert tuple(f.shape) == (2, c, 64 // s, 96 // s)
        assert model.feature_channels[name] == c
    with torch.no_grad():
        out = Backbone(model)(x)
    assert isinstance(out, tuple) and len(out) == 4
    assert all(torch.equal(a, b) for a, b in zip(out, feats.values()))


def test_classifier_output_and_he_init():
    torch.manual_seed(0)
    model = resnet_mini(num_classes=7).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)
    w = model.layer3[0].conv2.weight  # fan_out = 128 * 9: std sqrt(2 / fan_out)
    expected = (2.0 / (w.shape[0] * 9)) ** 0.5
    assert abs(float(w.detach().std()) - expected) / expected < 0.05


def test_state_dict_round_trip_between_same_depths():
    a, b = resnet18(), resnet18()
    b.load_state_dict(a.state_dict())  # strict: every torchvision-style key matches
    assert torch.equal(a.conv1.weight, b.conv1.weight)
