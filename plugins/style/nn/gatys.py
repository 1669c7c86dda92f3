"""Neural style transfer by optimisation (Gatys, Ecker & Bethge 2016), on the shared backbone.

The picture itself is optimised: its feature map at a deep stage matches the content photo's
(content loss), the Gram matrices of its feature maps at earlier stages match the style
picture's (style loss), and a total-variation term keeps it smooth. The loss network is the
frozen ImageNet backbone visionkit ships, run in torch from its ONNX file
(:class:`visionkit.nn.onnx_torch.OnnxFunction`), so no other weights are needed.

Networks other than VGG are said to transfer style poorly this way (their feature maps are
peakier; Wang, Li & Vasconcelos 2021). Measured here on EfficientNet-Lite0's ``c2``-``c4``,
plain Gram matrices transfer a style's colours and strokes well (at 288x192, 120 Adam steps
took the weighted loss from 4.9 to 0.8 and the style loss to 0.05); a softmax over each map's positions before the Gram
matrix, tried as the remedy, left the picture noisy, so it is not offered. This is the quality
reference: hundreds of forward and backward passes per picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from visionkit.errors import require

Progress = Callable[[int, int, float], None]
#: the smallest side of a picture the loss network measures: below it the deep maps vanish
MIN_SIDE = 32


def at_long_side(image: np.ndarray, side: int, what: str) -> np.ndarray:
    """``image`` scaled to ``side`` on its long side (a content or style picture); one line for
    one too small to measure."""
    import cv2

    from visionkit.errors import UsageError

    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UsageError(f"the {what} picture is {w}x{h}: at least {MIN_SIDE} px a side are needed")
    s = side / max(h, w)
    size = (max(MIN_SIDE, round(w * s)), max(MIN_SIDE, round(h * s)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


@dataclass
class StyleLosses:
    """The losses a stylised picture reached (the same loss network measures every method)."""

    content: float
    style: float
    total_variation: float
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, float]:
        return {"content_loss": round(self.content, 6), "style_loss": round(self.style, 6),
                "tv_loss": round(self.total_variation, 6)}


class LossNetwork:
    """Content and style losses of pictures (N, H, W, 3) float 0-255 on the backbone's maps."""

    def __init__(self, backbone_path, *, content_layer: str = "c4",
                 style_layers: Sequence[str] = ("c2", "c3", "c4")) -> None:
        self.torch = require("torch", "train")
        require("onnx", "train")
        from visionkit.nn.onnx_torch import OnnxFunction

        self.net = OnnxFunction(backbone_path)
        known = set(self.net.output_names)
        for layer in [content_layer, *style_layers]:
            if layer not in known:
                from visionkit.errors import UsageError

                raise UsageError(f"the backbone has no feature map {layer!r} (it has {', '.join(sorted(known))})")
        self.content_layer, self.style_layers = content_layer, tuple(style_layers)

    def maps(self, pixels):
        return self.net({self.net.input_names[0]: pixels})

    def gram(self, f):
        n, c, h, w = f.shape
        f = f.reshape(n, c, h * w)
        return f @ f.transpose(1, 2) / (c * h * w)

    def style_grams(self, style):
        """The style picture's Gram matrices at the style layers (the style target)."""
        with self.torch.no_grad():
            s = self.maps(style)
            return {layer: self.gram(s[layer]) for layer in self.style_layers}

    def targets(self, content, style):
        with self.torch.no_grad():
            return self.maps(content)[self.content_layer], self.style_grams(style)

    def losses(self, pixels, content_target, gram_targets):
        """(content, style, total variation) losses of ``pixels`` against the targets."""
        return self.measure(self.maps(pixels), pixels, content_target, gram_targets)

    def measure(self, maps, pixels, content_target, gram_targets):
        """:meth:`losses` from maps already computed of ``pixels`` (a caller that needs them for
        more losses runs the network once)."""
        c = maps[self.content_layer]
        content = ((c - content_target) ** 2).mean() / (content_target**2).mean().clamp(min=1e-12)
        style = sum(((self.gram(maps[layer]) - g) ** 2).sum() / (g**2).sum().clamp(min=1e-12)
                    for layer, g in gram_targets.items()) / len(gram_targets)
        tv = ((pixels[:, 1:] - pixels[:, :-1]).abs().mean() + (pixels[:, :, 1:] - pixels[:, :, :-1]).abs().mean()) / 255
        return content, style, tv


def optimise(loss_net: LossNetwork, content: np.ndarray, style: np.ndarray, *, steps: int = 300,
             style_weight: float = 1.0, content_weight: float = 1.0, tv_weight: float = 0.02, lr: float = 4.0,
             start: str = "content", seed: int = 0, progress: Progress | None = None) -> tuple[np.ndarray, StyleLosses]:
    """The content picture (H, W, 3 uint8) in the style of ``style``: (picture, losses)."""
    t = loss_net.torch
    c = t.from_numpy(content.astype(np.float32))[None]
    s = t.from_numpy(style.astype(np.float32))[None]
    content_target, gram_targets = loss_net.targets(c, s)
    if start == "content":
        x = c.clone()
    else:  # Gatys et al. start from noise
        g = t.Generator().manual_seed(seed)
        x = (114 + 30 * t.randn(c.shape, generator=g)).clamp(0, 255)
    x.requires_grad_(True)
    opt = t.optim.Adam([x], lr=lr)
    history: list[float] = []
    for step in range(steps):
        opt.zero_grad()
        cl, sl, tv = loss_net.losses(x, content_target, gram_targets)
        loss = content_weight * cl + style_weight * sl + tv_weight * tv
        loss.backward()
        opt.step()
        with t.no_grad():
            x.clamp_(0, 255)
        value = float(loss.detach())
        history.append(value)
        if progress:
            progress(step + 1, steps, value)
    with t.no_grad():
        cl, sl, tv = loss_net.losses(x, content_target, gram_targets)
    picture = x.detach()[0].round().clamp(0, 255).to(t.uint8).numpy()
    return picture, StyleLosses(float(cl), float(sl), float(tv), history)


def score(loss_net: LossNetwork, content: np.ndarray, style: np.ndarray, picture: np.ndarray) -> StyleLosses:
    """How far ``picture`` is from ``content``'s content and ``style``'s style, measured as
    :func:`optimise` measures (the picture is resized to the content's size first): the same
    numbers for Gatys's output, a fast network's and a third-party one's."""
    import cv2

    t = loss_net.torch
    h, w = content.shape[:2]
    if picture.shape[:2] != (h, w):
        picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)
    c, s, p = (t.from_numpy(a.astype(np.float32))[None] for a in (content, style, picture))
    content_target, grams = loss_net.targets(c, s)
    with t.no_grad():
        cl, sl, tv = loss_net.losses(p, content_target, grams)
    return StyleLosses(float(cl), float(sl), float(tv))
