"""The caption overlay: the best caption along the bottom; for a picked word, where it looked.

A picked word (the app's ``highlight``, see :meth:`visionkit.results.Caption.word_at`) tints the
picture by that word's attention: the map over the decoder's cells is stretched over the part of
the picture the network saw, smoothly, and blended in as a heat map, strongest where the word
looked most; its caption is then the one written along the bottom, the word in brackets.
"""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label
from visionkit.results import Caption

HEAT_ALPHA = 0.6  # the heat map's weight where the attention is at its peak


def attention_image(result: Caption, caption: int, word: int, shape: tuple[int, int]) -> np.ndarray:
    """Word ``word`` of caption ``caption``'s attention, as a (H, W) float map in [0, 1] over a
    picture of ``shape`` (its peak is 1)."""
    grid = np.asarray(result.attention[caption][word], np.float32)
    h, w = shape
    x1, y1, x2, y2 = result.region
    sx, sy = (x2 - x1) / grid.shape[1], (y2 - y1) / grid.shape[0]
    # cell centres map to picture pixels; the affine warp keeps the letterbox's offset
    warp = np.array([[1 / sx, 0, -x1 / sx - 0.5], [0, 1 / sy, -y1 / sy - 0.5]], np.float64)
    heat = cv2.warpAffine(grid, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    peak = float(heat.max())
    return heat / peak if peak > 0 else heat


def draw_caption(canvas: np.ndarray, result: Caption, highlight: int | None = None) -> list[Label]:
    if not result.texts:
        return [Label("(no caption)", kind="caption")]
    picked = result.word_at(highlight) if highlight is not None else None
    if picked is None or not result.attention:
        return [Label(result.text, kind="caption")]
    caption, word = picked
    heat = attention_image(result, caption, word, canvas.shape[:2])
    colours = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    weight = (HEAT_ALPHA * heat)[..., None]
    canvas[:] = (canvas * (1 - weight) + colours * weight).astype(np.uint8)
    words = list(result.words[caption])
    words[word] = f"[{words[word]}]"
    return [Label(" ".join(words), kind="caption", emphasis="strong")]
