"""What the backbone's units respond to: a channel's activation map over the frame, and the
patches of a folder of pictures that excite a unit most (the lectures' "top-9 patches").

numpy and onnxruntime only: the feature maps are the backbone's own outputs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from visionkit.errors import UsageError
from visionkit.preprocess import network_pixels, to_tensor

from .pictures import Region

#: how much of its peak a feature's response to a changed pixel must keep to count as inside the
#: unit's receptive field (the effective receptive field, Luo et al. 2016, is far smaller than
#: the theoretical one: in EfficientNet-Lite0 every c5 unit sees the whole 224-px input)
ERF_SHARE = 0.05


def layer_map(features: dict[str, np.ndarray], layer: str) -> np.ndarray:
    if layer not in features:
        raise UsageError(f"the backbone has no feature map {layer!r} (it has {', '.join(sorted(features))})")
    return features[layer][0]


def strongest_channel(maps: np.ndarray, cells: tuple[slice, slice]) -> int:
    """The channel with the largest activation inside the picture's cells."""
    return int(np.argmax(maps[(slice(None),) + cells].reshape(len(maps), -1).max(axis=1)))


def picture_cells(region: Region, stride: int, grid_hw: tuple[int, int]) -> tuple[slice, slice]:
    """The feature-map cells whose centres lie on the picture, not on the letterbox bars."""
    y1, x1 = region.y1 // stride, region.x1 // stride
    y2 = max(y1 + 1, min(grid_hw[0], -(-region.y2 // stride)))
    x2 = max(x1 + 1, min(grid_hw[1], -(-region.x2 // stride)))
    return slice(y1, y2), slice(x1, x2)


def effective_field(features_batch: Callable[[np.ndarray], dict[str, np.ndarray]], spec: Any, layer: str,
                    seed: int = 0) -> int:
    """The side in input pixels of the region whose pixels move a ``layer`` unit: the span of
    units that a 4-px change at the centre of a noise picture moves by at least
    :data:`ERF_SHARE` of the largest change, times the stride (one backbone call, two pictures)."""
    h, w = spec.size
    rng = np.random.default_rng(seed)
    base = np.clip(rng.normal(114, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    probe = base.copy()
    cy, cx = h // 2, w // 2
    probe[cy - 2 : cy + 2, cx - 2 : cx + 2] = 255 - probe[cy - 2 : cy + 2, cx - 2 : cx + 2]
    maps = features_batch(np.concatenate([to_tensor(base, spec), to_tensor(probe, spec)]))[layer]
    change = np.abs(maps[0] - maps[1]).sum(axis=0)
    ys, xs = np.nonzero(change >= ERF_SHARE * change.max()) if change.max() > 0 else ([0], [0])
    stride = h / maps.shape[2]
    return int(min(max(h, w), round(max(np.ptp(ys) + 1, np.ptp(xs) + 1) * stride)))


def crop_around(pixels: np.ndarray, cx: float, cy: float, side: int) -> np.ndarray:
    """A ``side``-px square of ``pixels`` centred at (cx, cy), edges reflected where it leaves."""
    pad = side
    padded = np.pad(pixels, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    x1, y1 = int(round(cx - side / 2)) + pad, int(round(cy - side / 2)) + pad
    return padded[y1 : y1 + side, x1 : x1 + side]


class TopPatches:
    """The ``k`` pictures' patches with the strongest response of one unit, best first.

    ``features_batch`` is the backbone (N preprocessed inputs -> feature maps), ``spec`` its
    input. Each picture counts once, with its strongest cell."""

    def __init__(self, features_batch, spec, layer: str, channel: int, *, k: int = 9, side: int | None = None,
                 stride: int | None = None) -> None:
        self.features_batch, self.spec, self.layer, self.channel, self.k = features_batch, spec, layer, channel, k
        self.side = side or effective_field(features_batch, spec, layer)
        self.stride = stride
        self.found: list[tuple[float, str, np.ndarray]] = []  # (activation, name, patch)
        self.seen = 0

    def add(self, images: Iterable[tuple[str, np.ndarray]], batch: int = 16) -> None:
        chunk: list[tuple[str, np.ndarray, Region]] = []
        for name, image in images:
            pixels, transform = network_pixels(image, self.spec)
            chunk.append((name, pixels, Region.of(transform, image.shape, pixels.shape)))
            if len(chunk) == batch:
                self._score(chunk)
                chunk = []
        if chunk:
            self._score(chunk)

    def _score(self, chunk: list[tuple[str, np.ndarray, Region]]) -> None:
        maps = self.features_batch(np.concatenate([to_tensor(p, self.spec) for _, p, _ in chunk]))[self.layer]
        if not 0 <= self.channel < maps.shape[1]:
            raise UsageError(f"{self.layer} has channels 0-{maps.shape[1] - 1}, not {self.channel}")
        stride = self.stride or self.spec.size[0] // maps.shape[2]
        for (name, pixels, region), units in zip(chunk, maps[:, self.channel]):
            ys, xs = picture_cells(region, stride, units.shape)
            cells = units[ys, xs]
            y, x = np.unravel_index(int(np.argmax(cells)), cells.shape)
            value = float(cells[y, x])
            cy, cx = (ys.start + y + 0.5) * stride, (xs.start + x + 0.5) * stride
            self.found.append((value, name, crop_around(pixels, cx, cy, self.side)))
            self.seen += 1
        self.found.sort(key=lambda t: -t[0])
        del self.found[self.k :]


def folder_images(folder: str | Path, limit: int) -> Iterable[tuple[str, np.ndarray]]:
    """Up to ``limit`` readable pictures of a folder (sorted names); unreadable ones skipped."""
    from visionkit.errors import VisionkitError
    from visionkit.imageio import IMAGE_EXTENSIONS, read_image

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{folder}: not a folder of pictures")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
    if not paths:
        raise UsageError(f"{folder}: no pictures in it")
    for path in paths[:limit]:
        try:
            yield str(path.relative_to(root)), read_image(path)
        except VisionkitError:
            continue
