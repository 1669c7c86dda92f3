"""Occlusion sensitivity (Zeiler & Fergus 2014): grey out one square of the picture at a time
and watch the class score fall.

Works with any classifier onnxruntime runs, a third-party one included: it needs no
gradients, only forward passes, and the occluded copies go through the network in batches.
"""

from __future__ import annotations

import numpy as np

from .pictures import Region


def patch_starts(low: int, high: int, patch: int, stride: int) -> list[int]:
    """Starts of ``patch``-long windows every ``stride`` from ``low``, the last one ending at
    ``high`` so that the whole span is covered."""
    last = max(low, high - patch)
    starts = list(range(low, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


def occluded_copies(pixels: np.ndarray, region: Region, patch: int, stride: int,
                    fill: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(N, H, W, 3) copies of ``pixels``, each with one ``patch``-px square inside ``region``
    painted ``fill``, and the squares' top-left corners."""
    corners = [(x, y) for y in patch_starts(region.y1, region.y2, patch, stride)
               for x in patch_starts(region.x1, region.x2, patch, stride)]
    copies = np.repeat(pixels[None], len(corners), axis=0)
    for copy, (x, y) in zip(copies, corners):
        copy[y : y + patch, x : x + patch] = fill
    return copies, corners


def occlusion_map(probabilities, pixels: np.ndarray, region: Region, class_id: int, *, patch: int = 32,
                  stride: int = 16) -> tuple[np.ndarray, dict[str, float]]:
    """The fall in ``class_id``'s probability when each pixel is covered, averaged over the
    squares that cover it: an (H, W) map over the network input, positive where the evidence is.

    ``probabilities(pixels[N, H, W, 3]) -> [N, classes]`` scores a batch. The squares are
    painted the picture's mean colour, so an occluder adds no edge of a colour the picture
    lacks. Returns the map and the numbers: the unoccluded score, the largest fall, the copies.
    """
    patch = max(1, min(patch, region.x2 - region.x1, region.y2 - region.y1))
    stride = max(1, stride)
    fill = region.crop(pixels).reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    copies, corners = occluded_copies(pixels, region, patch, stride, fill)
    scores = probabilities(np.concatenate([pixels[None], copies]))[:, class_id]
    base, occluded = float(scores[0]), scores[1:]
    total = np.zeros(pixels.shape[:2], np.float64)
    count = np.zeros(pixels.shape[:2], np.float64)
    for fall, (x, y) in zip(base - occluded, corners):
        total[y : y + patch, x : x + patch] += fall
        count[y : y + patch, x : x + patch] += 1
    heat = np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)
    return heat, {"score": round(base, 6), "largest_drop": round(float((base - occluded).max()), 6),
                  "copies": len(corners), "patch": patch, "stride": stride}
