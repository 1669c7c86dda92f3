"""Pictures made for the network (the torch half): class model visualisation and feature
inversion.

* Class model (Simonyan, Vedaldi & Zisserman 2014; the regularisers of Yosinski et al. 2015):
  gradient ascent on one class's score from faint noise, with an L2 pull towards grey, a
  small random shift each step (jitter) and a light blur every few steps, so that the picture
  shows structure rather than high-frequency noise.
* Feature inversion (Mahendran & Vedaldi 2015): from noise, find a picture whose feature map
  at one layer matches the frame's, under a total-variation prior; what survives shows what
  the layer keeps of the picture.

Both return network-input pixels (H, W, 3) float in 0-255 and the figures they reached.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .gradients import Differentiable

Progress = Callable[[int, int], None]


def _blur(t, x, sigma: float):
    radius = 2
    k = t.exp(-(t.arange(-radius, radius + 1, dtype=t.float32) ** 2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, -1)
    c = x.permute(0, 3, 1, 2).reshape(-1, 1, x.shape[1], x.shape[2])
    c = t.nn.functional.conv2d(t.nn.functional.pad(c, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    c = t.nn.functional.conv2d(t.nn.functional.pad(c, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
    return c.reshape(x.shape[0], 3, x.shape[1], x.shape[2]).permute(0, 2, 3, 1)


def class_model(model: Differentiable, size: tuple[int, int], class_id: int, *, steps: int = 150, seed: int = 0,
                lr: float = 6.0, decay: float = 0.002, blur_every: int = 4, jitter: int = 8,
                progress: Progress | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """A picture that the classifier finds full of ``class_id``."""
    t = model.torch
    g = t.Generator().manual_seed(seed)
    h, w = size
    x = (114 + 8 * t.randn(1, h, w, 3, generator=g)).clamp(0, 255)
    for step in range(steps):
        dy, dx = (int(v) for v in t.randint(-jitter, jitter + 1, (2,), generator=g))
        moved = t.roll(x, shifts=(dy, dx), dims=(1, 2)).requires_grad_(True)
        scores, _ = model(moved)
        (grad,) = t.autograd.grad(scores[0, class_id], moved)
        grad = t.roll(grad, shifts=(-dy, -dx), dims=(1, 2))
        with t.no_grad():
            # a step of ``lr`` grey levels on average, whatever the gradient's scale
            x = x + lr * grad / (grad.abs().mean() + 1e-12)
            x = 114 + (x - 114) * (1 - decay)
            if blur_every and step % blur_every == blur_every - 1:
                x = _blur(t, x, 0.5)
            x = x.clamp(0, 255)
        if progress:
            progress(step + 1, steps)
    with t.no_grad():
        probs = model.probabilities(model(x)[0])[0]
    return x[0].numpy(), {"probability": round(float(probs[class_id]), 6), "steps": steps}


def invert(model: Differentiable, pixels: np.ndarray, layer: str, *, steps: int = 200, seed: int = 0,
           lr: float = 3.0, tv_weight: float = 0.05, expected: np.ndarray | None = None,
           progress: Progress | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """A picture whose ``layer`` features match those of ``pixels``, found from noise; with
    ``expected`` (onnxruntime's probabilities of ``pixels``) the pass that reads the target
    features checks the torch copy first."""
    t = model.torch
    with t.no_grad():
        scores, kept = model(model.tensor(pixels, grad=False), keep=[layer])
        target = kept[layer]
    if expected is not None:
        model.check(scores, expected)
    scale = float((target**2).sum())
    if scale == 0:
        from visionkit.errors import ModelError

        raise ModelError(f"layer {layer!r} is all zeros on this picture: there is nothing to invert")
    g = t.Generator().manual_seed(seed)
    h, w = pixels.shape[:2]
    x = (114 + 8 * t.randn(1, h, w, 3, generator=g)).requires_grad_(True)
    opt = t.optim.Adam([x], lr=lr)
    relative = 1.0
    for step in range(steps):
        opt.zero_grad()
        _, kept = model(x, keep=[layer])
        match = ((kept[layer] - target) ** 2).sum() / scale
        # total variation in grey levels per pixel: keeps the picture piecewise smooth
        tv = ((x[:, 1:] - x[:, :-1]).abs().mean() + (x[:, :, 1:] - x[:, :, :-1]).abs().mean()) / 255
        (match + tv_weight * tv).backward()
        opt.step()
        with t.no_grad():
            x.clamp_(0, 255)
        relative = float(match.detach())
        if progress:
            progress(step + 1, steps)
    return x.detach()[0].numpy(), {"relative_feature_error": round(relative, 6), "steps": steps}
