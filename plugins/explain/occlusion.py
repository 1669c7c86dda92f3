"""Occlusion sensitivity (Zeiler & Fergus 2014): grey out one square of the picture at a time
and watch the class score fall.

Works with any classifier onnxruntime runs, a third-party one included: it needs no
gradients, only forward passes, and the occluded copies go through the network in batches.
"""

from __future__ import annotations

import numpy as np

from visionkit.errors import UsageError

from .pictures import Region


def patch_starts(low: int, high: int, patch: int, stride: int) -> list[int]:
    """Starts of ``patch``-long windows every ``stride`` from ``low``, the last one ending at
    ``high`` so that the whole span is covered."""
    last = max(low, high - patch)
    starts = list(range(low, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


#: squares one occlusion map may take: stride 1 over a 224-px input would be 37,000 forward passes
MAX_SQUARES = 20_000
#: occluded copies made and scored at a time (memory: 64 x 224 x 224 x 3 bytes)
BATCH = 64


def squares(region: Region, patch: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of the ``patch``-px squares every ``stride`` px over ``region``."""
    return [(x, y) for y in patch_starts(region.y1, region.y2, patch, stride)
            for x in patch_starts(region.x1, region.x2, patch, stride)]


def occluded_copies(pixels: np.ndarray, corners: list[tuple[int, int]], patch: int,
                    fill: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) copies of ``pixels``, the i-th with the square at ``corners[i]`` painted ``fill``."""
    copies = np.repeat(pixels[None], len(corners), axis=0)
    for copy, (x, y) in zip(copies, corners):
        copy[y : y + patch, x : x + patch] = fill
    return copies


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
    corners = squares(region, patch, stride)
    if len(corners) > MAX_SQUARES:
        raise UsageError(f"occlusion: a {patch}-px square every {stride} px makes {len(corners)} copies "
                         f"(at most {MAX_SQUARES}); use a larger stride")
    fill = region.crop(pixels).reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    base = float(probabilities(pixels[None])[0, class_id])
    falls = np.empty(len(corners), np.float64)
    for start in range(0, len(corners), BATCH):
        chunk = corners[start : start + BATCH]
        falls[start : start + len(chunk)] = base - probabilities(occluded_copies(pixels, chunk, patch, fill))[:, class_id]
    total = np.zeros(pixels.shape[:2], np.float64)
    count = np.zeros(pixels.shape[:2], np.float64)
    for fall, (x, y) in zip(falls, corners):
        total[y : y + patch, x : x + patch] += fall
        count[y : y + patch, x : x + patch] += 1
    heat = np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)
    return heat, {"score": round(base, 6), "largest_drop": round(float(falls.max()), 6),
                  "copies": len(corners), "patch": patch, "stride": stride}
