"""Breaking the network (the torch half): adversarial examples by the fast gradient sign
method (Goodfellow, Shlens & Szegedy 2015) and projected gradient descent (Madry et al. 2018).

Both move every pixel of the picture (never the letterbox bars) by at most ``eps`` grey
levels in the direction that raises the classifier's loss for the class it saw. For a network
that takes uint8 pixels the adversarial picture is rounded to whole levels, so it is a real
image: saving it and classifying it again gives the same flip.
"""

from __future__ import annotations

import numpy as np

from .gradients import Differentiable


def _loss_gradient(model: Differentiable, pixels: np.ndarray, class_id: int,
                   expected: np.ndarray | None = None) -> np.ndarray:
    """d loss / d pixels; with ``expected`` (onnxruntime's probabilities of ``pixels``) the
    same pass first checks the torch copy against them."""
    t = model.torch
    x = model.tensor(pixels)
    scores, _ = model(x)
    if expected is not None:
        model.check(scores, expected)
    loss = t.nn.functional.cross_entropy(scores, t.tensor([class_id]))
    (grad,) = t.autograd.grad(loss, x)
    return grad[0].numpy()


def _finish(pixels: np.ndarray, whole_levels: bool) -> np.ndarray:
    out = np.clip(pixels, 0, 255)
    return np.rint(out) if whole_levels else out


def fgsm(model: Differentiable, pixels: np.ndarray, mask: np.ndarray, class_id: int, eps: float,
         whole_levels: bool = True, expected: np.ndarray | None = None) -> np.ndarray:
    """One step of ``eps`` along the sign of the loss gradient: (H, W, 3) float pixels."""
    step = eps * np.sign(_loss_gradient(model, pixels, class_id, expected)) * mask[..., None]
    return _finish(pixels.astype(np.float32) + step, whole_levels)


def pgd(model: Differentiable, pixels: np.ndarray, mask: np.ndarray, class_id: int, eps: float,
        steps: int = 10, whole_levels: bool = True, expected: np.ndarray | None = None) -> np.ndarray:
    """``steps`` signed steps of ``max(eps / 4, 1 level)``, each projected back into the
    ``eps``-box around the picture (no random start: the same picture gives the same result)."""
    original = pixels.astype(np.float32)
    alpha = max(eps / 4, 1.0 if whole_levels else eps / 10)
    x = original.copy()
    for i in range(max(1, steps)):
        step = alpha * np.sign(_loss_gradient(model, x, class_id, expected if i == 0 else None)) * mask[..., None]
        x = np.clip(x + step, original - eps, original + eps)
        x = _finish(x, whole_levels)
    return x
