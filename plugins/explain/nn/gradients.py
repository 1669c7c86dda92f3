"""Gradient explanations (the torch half): saliency, Grad-CAM and guided backpropagation.

The classifier is run in torch from its own ONNX files (:class:`visionkit.nn.onnx_torch.OnnxFunction`):
the shared backbone and the classify head chained on their feature maps, or a standalone
classifier alone, fed network-input pixels that are normalised as the card says. Before any
gradient is used, the torch copy's probabilities on the frame are compared with the ones
onnxruntime gave (:meth:`Differentiable.check`).

* saliency (Simonyan, Vedaldi & Zisserman 2014): ``max_c |d score / d pixel|``;
* Grad-CAM (Selvaraju et al. 2017): a layer's channels weighted by their mean gradient, summed,
  rectified;
* guided backpropagation (Springenberg et al. 2015): the gradient through ReLUs that pass only
  positive gradients at positive inputs.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from visionkit.errors import ModelError, require

#: largest |torch - onnxruntime| of a class probability before gradients are refused
PARITY_TOLERANCE = 2e-3
_POOLING = ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "AveragePool", "Flatten", "Gemm")


class Differentiable:
    """The classifier of a :class:`~.scorer.ClassScorer`, as a torch function of network-input
    pixels ``(N, H, W, 3)`` float in 0-255 -> ``(N, classes)`` scores (logits, or log
    probabilities for a model that outputs probabilities)."""

    def __init__(self, scorer: Any, *, guided: bool = False) -> None:
        self.torch = require("torch", "train")
        require("onnx", "train")  # the graphs are read with it
        from visionkit.nn.onnx_torch import OnnxFunction

        self.scorer = scorer
        self.spec = scorer.spec
        self.backbone = OnnxFunction(scorer.backbone.path, guided=guided) if scorer.on_backbone else None
        self.head = OnnxFunction(scorer.model.path, guided=guided)
        self.log_probs = scorer.card.output == "probs"
        t = self.torch
        std = np.asarray(self.spec.std, np.float32)
        self._a = t.tensor(np.float32(self.spec.scale) / std)
        self._b = t.tensor(-np.asarray(self.spec.mean, np.float32) / std)

    @property
    def layers(self) -> Sequence[str]:
        """Tensors Grad-CAM and inversion may read: the backbone's feature maps first."""
        if self.backbone is not None:
            return tuple(self.backbone.output_names)
        return tuple(self.head.tensor_names)

    def default_layer(self) -> str:
        """The last spatial map before the classifier pools: the backbone feature map the head
        reads deepest, or a standalone model's last activation before its first pooling."""
        if self.backbone is not None:
            read = [n for n in self.backbone.output_names if n in self.head.input_names]
            return read[-1] if read else self.backbone.output_names[-1]
        last = None
        for node in self.head.nodes:
            if node.op_type in _POOLING:
                break
            if node.op_type in ("Relu", "Clip", "Conv", "LeakyRelu", "PRelu"):
                last = node.output[0]
        if last is None:
            raise ModelError(f"{self.head.path.name}: no convolutional layer found for Grad-CAM; name one with layer=")
        return last

    def inputs(self, pixels):
        """Network-input pixels -> the tensor the model's first graph takes (layout, channel
        order, scale, mean and std of its card), differentiably."""
        x = pixels.flip(-1) if self.spec.channel_order == "bgr" else pixels
        x = x * self._a + self._b
        return x.permute(0, 3, 1, 2) if self.spec.layout == "NCHW" else x

    def __call__(self, pixels, keep: Sequence[str] = ()):
        """``(scores, kept)``: the scores and the named inner tensors (for Grad-CAM)."""
        keep = [k for k in keep if k]
        x = self.inputs(pixels)
        kept: dict[str, Any] = {}
        if self.backbone is not None:
            mine = [k for k in keep if k in self.backbone.tensor_names]
            feats = self.backbone({self.backbone.input_names[0]: x}, keep=mine)
            kept.update({k: feats[k] for k in mine})
            out = self.head({n: feats[n] for n in self.head.input_names},
                            keep=[k for k in keep if k not in kept and k in self.head.tensor_names])
        else:
            out = self.head({self.head.input_names[0]: x}, keep=[k for k in keep if k in self.head.tensor_names])
        kept.update({k: out[k] for k in keep if k in out and k not in kept})
        missing = [k for k in keep if k not in kept]
        if missing:
            known = ", ".join(self.layers[:8])
            raise ModelError(f"the model has no layer {missing[0]!r} (e.g. {known})")
        scores = out[self.head.output_names[0]].reshape(pixels.shape[0], -1)
        if self.log_probs:
            scores = self.torch.log(scores.clamp(min=1e-12))
        return scores, kept

    def probabilities(self, scores):
        return self.torch.softmax(scores, dim=1)

    def check(self, scores, expected: np.ndarray) -> float:
        """Refuse gradients when the torch copy's probabilities differ from onnxruntime's."""
        got = self.probabilities(scores.detach())[0].numpy()
        expected = np.asarray(expected, np.float32).reshape(-1)
        diff = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
        if not diff <= PARITY_TOLERANCE:
            raise ModelError(f"{self.head.path.name}: its torch copy disagrees with onnxruntime (probabilities "
                             f"differ by {diff:.2g}), so its gradients are not trusted; occlusion needs none")
        return diff

    def tensor(self, pixels: np.ndarray, grad: bool = True):
        x = self.torch.from_numpy(np.ascontiguousarray(pixels, np.float32))[None]
        return x.requires_grad_(grad)


def input_gradient(model: Differentiable, pixels: np.ndarray, class_id: int, expected: np.ndarray | None = None):
    """d score[class_id] / d pixels as (H, W, 3), and the torch probabilities."""
    x = model.tensor(pixels)
    scores, _ = model(x)
    if expected is not None:
        model.check(scores, expected)
    (grad,) = model.torch.autograd.grad(scores[0, class_id], x)
    return grad[0].numpy(), model.probabilities(scores.detach())[0].numpy()


def saliency(model: Differentiable, pixels: np.ndarray, class_id: int, expected=None) -> np.ndarray:
    """Simonyan et al.'s map: the largest absolute gradient over the colour channels, (H, W)."""
    grad, _ = input_gradient(model, pixels, class_id, expected)
    return np.abs(grad).max(axis=2)


def grad_cam(model: Differentiable, pixels: np.ndarray, class_id: int, layer: str, expected=None) -> np.ndarray:
    """Selvaraju et al.'s map on ``layer``'s grid, (h, w), at least 0."""
    t = model.torch
    # the input needs a gradient for the layer's maps to have one; it is never read
    scores, kept = model(model.tensor(pixels), keep=[layer])
    if expected is not None:
        model.check(scores, expected)
    maps = kept[layer]
    if maps.dim() != 4:
        raise ModelError(f"layer {layer!r} is not a feature map (its shape is {tuple(maps.shape)})")
    (grads,) = t.autograd.grad(scores[0, class_id], maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = t.relu((weights * maps).sum(dim=1))[0]
    return cam.detach().numpy()
