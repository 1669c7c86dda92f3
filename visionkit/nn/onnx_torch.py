"""Run an ONNX graph with torch operations, so that gradients flow through it.

The explain tools need gradients of a model's output with respect to its input or to an inner
feature map (saliency, Grad-CAM, guided backpropagation, adversarial examples, class model
visualisation, feature inversion). visionkit's models exist as ONNX files; so do third-party
ones. :class:`OnnxFunction` interprets such a graph node by node with ``torch.nn.functional``,
in float32, on the ONNX file's own weights, for the operators plain CNN classifiers use.

The library made for this, ``onnx2torch``, requires torchvision, which cannot be installed
beside the CPU torch these machines use, so this module covers the operator subset
visionkit's graphs and common third-party classifiers need. Any other operator is refused by
name when the model is loaded; callers check the result against onnxruntime before they trust
a gradient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import Tensor

from ..errors import ModelError

__all__ = ["OnnxFunction", "SUPPORTED_OPS"]


class _GuidedRelu(torch.autograd.Function):
    """ReLU whose backward pass lets through only positive gradients at positive inputs
    (guided backpropagation, Springenberg et al. 2015)."""

    @staticmethod
    def forward(ctx, x: Tensor, low: float, high: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return x.clamp(low, high)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        inside = (x > ctx.low) & (x < ctx.high)
        return grad.clamp(min=0) * inside, None, None


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _ints(t: Tensor | None) -> list[int]:
    return [] if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _pool_pads(x: Tensor, a: Mapping[str, Any], fill: float) -> tuple[Tensor, list[int], bool]:
    """``(x, torch_padding, padded)``: symmetric pads are left to torch; asymmetric or SAME
    ones are applied here (``padded`` then says so)."""
    k = x.dim() - 2
    pads = list(a.get("pads", [0] * 2 * k))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        kernel, strides = a["kernel_shape"], a.get("strides", [1] * k)
        dilations = a.get("dilations", [1] * k)
        pads = [0] * 2 * k
        for i, (size, kk, s, d) in enumerate(zip(x.shape[2:], kernel, strides, dilations)):
            total = max(0, (int(np.ceil(size / s)) - 1) * s + (kk - 1) * d + 1 - size)
            upper = a["auto_pad"] in (b"SAME_UPPER", "SAME_UPPER")
            pads[i], pads[i + k] = (total // 2, total - total // 2) if upper else (total - total // 2, total // 2)
    if pads[:k] == pads[k:]:
        return x, pads[:k], False
    # asymmetric padding: pad explicitly (torch pads from the last axis backwards)
    explicit = []
    for i in reversed(range(k)):
        explicit += [pads[i], pads[i + k]]
    return F.pad(x, explicit, value=fill), [0] * k, True


def _conv(x: Tensor, w: Tensor, b: Tensor | None, a: Mapping[str, Any]) -> Tensor:
    a = dict(a, kernel_shape=a.get("kernel_shape", list(w.shape[2:])))
    x, pads, _ = _pool_pads(x, a, 0.0)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[w.dim() - 2]
    return conv(x, w, b, stride=a.get("strides", 1), padding=pads, dilation=a.get("dilations", 1),
                groups=a.get("group", 1))


def _max_pool(x: Tensor, a: Mapping[str, Any]) -> Tensor:
    x, pads, _ = _pool_pads(x, a, float("-inf"))
    kernel = a["kernel_shape"]
    # ONNX's strides default to 1, torch's to the kernel size
    return F.max_pool2d(x, kernel, a.get("strides", [1] * len(kernel)), pads,
                        dilation=a.get("dilations", 1), ceil_mode=bool(a.get("ceil_mode", 0)))


def _avg_pool(x: Tensor, a: Mapping[str, Any]) -> Tensor:
    kernel = a["kernel_shape"]
    strides = a.get("strides", [1] * len(kernel))
    include = bool(a.get("count_include_pad", 0))
    ceil = bool(a.get("ceil_mode", 0))
    padded, pads, explicit = _pool_pads(x, a, 0.0)
    out = F.avg_pool2d(padded, kernel, strides, pads, ceil_mode=ceil, count_include_pad=include)
    if explicit and not include:
        # padding applied here counts as pixels to torch: divide by the share of real ones
        ones, _, _ = _pool_pads(torch.ones_like(x[:, :1]), a, 0.0)
        out = out / F.avg_pool2d(ones, kernel, strides, pads, ceil_mode=ceil, count_include_pad=True)
    return out


def _gemm(a_: Tensor, b_: Tensor, c: Tensor | None, a: Mapping[str, Any]) -> Tensor:
    if a.get("transA", 0):
        a_ = a_.t()
    if a.get("transB", 0):
        b_ = b_.t()
    out = a.get("alpha", 1.0) * (a_ @ b_)
    return out if c is None else out + a.get("beta", 1.0) * c


def _axes(node_inputs: list, a: Mapping[str, Any], index: int) -> list[int] | None:
    """Axes given as an attribute (older opsets) or as an input (newer ones)."""
    if "axes" in a:
        return list(a["axes"])
    return _ints(node_inputs[index]) if len(node_inputs) > index and node_inputs[index] is not None else None


def _reduce_mean(x: Tensor, axes: list[int] | None, keep: bool) -> Tensor:
    return x.mean(dim=tuple(axes) if axes else tuple(range(x.dim())), keepdim=keep)


def _reshape(x: Tensor, shape: list[int]) -> Tensor:
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _softmax(x: Tensor, a: Mapping[str, Any], opset: int, log: bool = False) -> Tensor:
    fn = torch.log_softmax if log else torch.softmax
    if opset >= 13:
        return fn(x, dim=a.get("axis", -1))
    axis = a.get("axis", 1) % x.dim()  # before opset 13: over everything from ``axis`` on, flattened
    return fn(_flatten(x, axis), dim=-1).reshape(x.shape)


def _flatten(x: Tensor, axis: int) -> Tensor:
    """ONNX Flatten: the axes before ``axis`` into one, the rest into another (2-D out)."""
    if axis < 0:
        axis += x.dim()
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _gather(x: Tensor, indices: Tensor, axis: int) -> Tensor:
    axis %= x.dim()
    flat = indices.reshape(-1).long() % x.shape[axis]  # negative indices count from the end
    return torch.index_select(x, axis, flat).reshape(x.shape[:axis] + indices.shape + x.shape[axis + 1:])


def _clip_bounds(inputs: list, a: Mapping[str, Any]) -> tuple[float, float]:
    low = a.get("min", float("-inf"))
    high = a.get("max", float("inf"))
    if len(inputs) > 1 and inputs[1] is not None:
        low = float(inputs[1])
    if len(inputs) > 2 and inputs[2] is not None:
        high = float(inputs[2])
    return low, high


_DTYPES = {1: torch.float32, 10: torch.float32, 11: torch.float32, 6: torch.int32, 7: torch.int64,
           2: torch.uint8, 3: torch.int8, 9: torch.bool}

#: ``op -> fn(inputs, attrs, function) -> output or tuple of outputs``
_OPS: dict[str, Callable[..., Any]] = {
    "Conv": lambda i, a, f: _conv(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "Relu": lambda i, a, f: f.activation(i[0], 0.0, float("inf")),
    "Clip": lambda i, a, f: f.activation(i[0], *_clip_bounds(i, a)),
    "LeakyRelu": lambda i, a, f: F.leaky_relu(i[0], a.get("alpha", 0.01)),
    "PRelu": lambda i, a, f: torch.where(i[0] >= 0, i[0], i[0] * i[1]),
    "Sigmoid": lambda i, a, f: torch.sigmoid(i[0]),
    "HardSigmoid": lambda i, a, f: (a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5)).clamp(0, 1),
    "Tanh": lambda i, a, f: torch.tanh(i[0]),
    "Exp": lambda i, a, f: torch.exp(i[0]),
    "Sqrt": lambda i, a, f: torch.sqrt(i[0]),
    "Neg": lambda i, a, f: -i[0],
    "Add": lambda i, a, f: i[0] + i[1],
    "Sub": lambda i, a, f: i[0] - i[1],
    "Mul": lambda i, a, f: i[0] * i[1],
    "Div": lambda i, a, f: i[0] / i[1],
    "Transpose": lambda i, a, f: i[0].permute(*a["perm"]) if "perm" in a else i[0].permute(*reversed(range(i[0].dim()))),
    "Cast": lambda i, a, f: i[0].to(_DTYPES.get(a["to"], torch.float32)),
    "Identity": lambda i, a, f: i[0],
    "Dropout": lambda i, a, f: i[0],
    "Flatten": lambda i, a, f: _flatten(i[0], a.get("axis", 1)),
    "Reshape": lambda i, a, f: _reshape(i[0], _ints(i[1])),
    "Concat": lambda i, a, f: torch.cat([t for t in i if t is not None], dim=a["axis"]),
    "Squeeze": lambda i, a, f: i[0].squeeze(tuple(_axes(i, a, 1))) if _axes(i, a, 1) else i[0].squeeze(),
    "Unsqueeze": lambda i, a, f: _unsqueeze(i[0], _axes(i, a, 1)),
    "Gemm": lambda i, a, f: _gemm(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "MatMul": lambda i, a, f: i[0] @ i[1],
    "MaxPool": lambda i, a, f: _max_pool(i[0], a),
    "AveragePool": lambda i, a, f: _avg_pool(i[0], a),
    "GlobalAveragePool": lambda i, a, f: i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True),
    "GlobalMaxPool": lambda i, a, f: i[0].amax(dim=tuple(range(2, i[0].dim())), keepdim=True),
    "ReduceMean": lambda i, a, f: _reduce_mean(i[0], _axes(i, a, 1), bool(a.get("keepdims", 1))),
    "Softmax": lambda i, a, f: _softmax(i[0], a, f.opset),
    "LogSoftmax": lambda i, a, f: _softmax(i[0], a, f.opset, log=True),
    "BatchNormalization": lambda i, a, f: F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0,
                                                      a.get("epsilon", 1e-5)),
    "Shape": lambda i, a, f: torch.tensor(i[0].shape, dtype=torch.int64),
    "Gather": lambda i, a, f: _gather(i[0], i[1], a.get("axis", 0)),
}

SUPPORTED_OPS = frozenset(_OPS) | {"Constant"}


def _unsqueeze(x: Tensor, axes: list[int] | None) -> Tensor:
    for axis in sorted(ax % (x.dim() + len(axes)) for ax in axes or []):
        x = x.unsqueeze(axis)
    return x


class OnnxFunction(torch.nn.Module):
    """One ONNX graph as a differentiable torch function of its inputs.

    ``guided=True`` runs every ReLU and clip-to-zero (ReLU6) as a guided ReLU, for guided
    backpropagation. Weights are float32 copies of the file's initialisers (float16 models
    run in float32) and never require gradients.
    """

    def __init__(self, path: str | Path, *, guided: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            proto = onnx.load(str(self.path))
        except Exception as exc:  # protobuf raises its own DecodeError types
            raise ModelError(f"{self.path.name}: cannot be read as ONNX ({exc})") from None
        graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
        missing = sorted({n.op_type for n in graph.node if n.op_type not in SUPPORTED_OPS or n.domain not in ("", "ai.onnx")})
        if missing:
            raise ModelError(f"{self.path.name}: operator {missing[0]} has no torch equivalent in visionkit, so no "
                             f"gradients for this model (occlusion and activations need none)")
        self.guided = guided
        self.constants: dict[str, Tensor] = {t.name: self._tensor(numpy_helper.to_array(t)) for t in graph.initializer}
        self.nodes = [n for n in graph.node if n.op_type != "Constant"]
        for node in graph.node:  # Constant nodes are values, made once like the initialisers
            if node.op_type == "Constant":
                value = _attrs(node).get("value")
                if value is None:
                    raise ModelError(f"{self.path.name}: Constant node {node.name!r} without a tensor value")
                self.constants[node.output[0]] = self._tensor(numpy_helper.to_array(value))
        # attributes parsed once: an optimisation runs the graph hundreds of times
        self._steps = [(_OPS[n.op_type], list(n.input), list(n.output), _attrs(n)) for n in self.nodes]
        initialised = set(self.constants)
        self.input_names = [i.name for i in graph.input if i.name not in initialised]
        self.output_names = [o.name for o in graph.output]
        #: every tensor the graph computes, by name (what ``keep`` may ask for)
        self.tensor_names = frozenset(self.input_names) | {o for n in graph.node for o in n.output}
        #: the operator that makes each tensor
        self.producers = {o: n.op_type for n in graph.node for o in n.output}

    @staticmethod
    def _tensor(array: np.ndarray) -> Tensor:
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        return torch.from_numpy(np.array(array, copy=True))  # onnx may hand out read-only buffers

    def activation(self, x: Tensor, low: float, high: float) -> Tensor:
        if self.guided and low == 0.0 and x.is_floating_point():
            return _GuidedRelu.apply(x, low, high)
        return x.clamp(low, high) if np.isfinite(high) else (F.relu(x) if low == 0.0 else x.clamp(min=low))

    def forward(self, feeds: Mapping[str, Tensor], keep: Iterable[str] = ()) -> dict[str, Tensor]:
        """The graph's outputs (and the tensors named in ``keep``) for ``feeds`` (input name ->
        tensor; float inputs as float32)."""
        env: dict[str, Tensor | None] = dict(self.constants)
        env[""] = None  # an omitted optional input
        for name in self.input_names:
            if name not in feeds:
                raise ModelError(f"{self.path.name}: no value for input {name!r}")
            env[name] = feeds[name]
        for op, inputs, outputs, attrs in self._steps:
            out = op([env[n] for n in inputs], attrs, self)
            if isinstance(out, tuple):
                for name, value in zip(outputs, out):
                    env[name] = value
            else:
                env[outputs[0]] = out
        wanted = list(self.output_names) + [k for k in keep if k not in self.output_names]
        unknown = [k for k in wanted if k not in env]
        if unknown:
            raise ModelError(f"{self.path.name}: the graph has no tensor named {unknown[0]!r}")
        return {k: env[k] for k in wanted}

