"""The explanation overlay: a heat map blended over the frame (or over the picture the
explanation made), strongest where the evidence is, an adversarial example's perturbation as
an inset, and the numbers in the top-left panel."""

from __future__ import annotations

import cv2
import numpy as np

from visionkit.overlays import Label
from visionkit.results import Explanation

from .pictures import with_inset

HEAT_ALPHA = 0.6  # the heat map's weight where it peaks
#: heat maps are drawn only for these; the others' pictures are the point
DRAWN_OVER = ("occlusion", "saliency", "gradcam", "activation")


def normalised(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The map at ``shape`` in [0, 1]; its top percentile counts as the peak, so one hot pixel
    (a saliency map's usual case) does not leave the rest black."""
    if heat.shape != shape:
        heat = cv2.resize(heat, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    peak = float(np.percentile(heat, 99.5))
    peak = peak if peak > 0 else float(heat.max())
    return np.clip(heat / peak, 0, 1) if peak > 0 else np.zeros_like(heat)


def lines(result: Explanation) -> list[str]:
    n = result.numbers
    out = [f"{result.method}: {result.target}"]
    if "before" in n and "after" in n:
        b, a = n["before"], n["after"]
        out.append(f"before {b['class']} {b['score']:.3f}")
        out.append(f"after eps {n['eps']:g}/255: {a['class']} {a['score']:.3f}" + (" (flipped)" if n["flipped"] else ""))
        if "target_score" in a and b["target_score"] != b["score"]:  # a class other than the top one
            out.append(f"explained class {b['target_score']:.3f} -> {a['target_score']:.3f}")
    elif "score" in n:
        out.append(f"score {n['score']:.3f}" + (f", largest drop {n['largest_drop']:.3f}" if "largest_drop" in n else ""))
    if "probability" in n:
        out.append(f"probability {n['probability']:.3f} after {n['steps']} steps")
    if "relative_feature_error" in n:
        out.append(f"feature error {n['relative_feature_error']:.3f} after {n['steps']} steps")
    if "pictures" in n:
        out.append(f"top {len(n['top'])} of {n['pictures']} pictures, {n['field_px']} px field")
    return out


def draw_explanation(canvas: np.ndarray, result: Explanation, highlight: int | None = None) -> list[Label]:
    if result.heatmap is not None and result.method in DRAWN_OVER:
        heat = normalised(result.heatmap, canvas.shape[:2])
        colours = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        weight = (HEAT_ALPHA * np.sqrt(heat))[..., None]
        canvas[:] = (canvas * (1 - weight) + colours * weight).astype(np.uint8)
    if "perturbation" in result.images:  # bottom right, where the summary panel is not
        canvas[:] = with_inset(canvas, result.images["perturbation"])
    return [Label(text, kind="panel") for text in lines(result)]
