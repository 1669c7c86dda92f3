"""Between the network's input and the frame: where the picture lies in the input, heat maps
stretched back over the frame, and the grids and insets explanations are shown as."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from visionkit.preprocess import Transform


@dataclass(frozen=True)
class Region:
    """Where the frame lies in the network's input (a letterbox leaves bars around it)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @classmethod
    def of(cls, transform: Transform, frame_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> "Region":
        h, w = frame_shape[:2]
        x1, y1, x2, y2 = transform.to_input(np.array([0, 0, w, h], np.float32)).tolist()
        H, W = input_shape[:2]
        return cls(max(0, round(x1)), max(0, round(y1)), min(W, round(x2)), min(H, round(y2)))

    def mask(self, input_shape: tuple[int, ...]) -> np.ndarray:
        """(H, W) 1 inside the frame's part of the input, 0 on the bars."""
        m = np.zeros(input_shape[:2], np.float32)
        m[self.y1 : self.y2, self.x1 : self.x2] = 1
        return m

    def crop(self, pixels: np.ndarray) -> np.ndarray:
        return pixels[self.y1 : self.y2, self.x1 : self.x2]


def to_frame(heat: np.ndarray, transform: Transform, frame_shape: tuple[int, ...]) -> np.ndarray:
    """A map over the network input (any resolution proportional to it is fine: a feature map
    is first stretched to ``input_size``) -> the same map over the frame's pixels."""
    h, w = frame_shape[:2]
    sx, sy, ox, oy = transform.scale_x, transform.scale_y, transform.offset_x, transform.offset_y
    # pixel centres to pixel centres: frame pixel x sits at input (x + 0.5) * sx + ox - 0.5
    warp = np.array([[sx, 0, ox + 0.5 * sx - 0.5], [0, sy, oy + 0.5 * sy - 0.5]])
    # what a crop cut away the network never saw: no heat there
    return cv2.warpAffine(np.ascontiguousarray(heat, np.float32), warp, (w, h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def upsample(grid: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """A feature-map grid stretched over the input it was computed from (cell centres kept)."""
    return cv2.resize(np.ascontiguousarray(grid, np.float32), (input_hw[1], input_hw[0]),
                      interpolation=cv2.INTER_LINEAR)


def mosaic(tiles: list[np.ndarray], columns: int | None = None, size: int = 96, gap: int = 4) -> np.ndarray:
    """RGB tiles (any sizes) in a grid of ``size``-px squares on a dark ground."""
    n = max(1, len(tiles))
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    out = np.full((rows * (size + gap) + gap, columns * (size + gap) + gap, 3), 24, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = gap + r * (size + gap), gap + c * (size + gap)
        out[y : y + size, x : x + size] = cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA
                                                     if tile.shape[0] > size else cv2.INTER_NEAREST)
    return out


def fit(picture: np.ndarray, frame_shape: tuple[int, ...], fill: int = 24) -> np.ndarray:
    """``picture`` scaled to fit the frame's size, centred on a dark ground (a square grid over
    a wide frame keeps its shape)."""
    h, w = frame_shape[:2]
    ph, pw = picture.shape[:2]
    s = min(w / pw, h / ph)
    nw, nh = max(1, round(pw * s)), max(1, round(ph * s))
    scaled = cv2.resize(picture, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_NEAREST)
    out = np.full((h, w, 3), fill, np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    out[y : y + nh, x : x + nw] = scaled
    return out


def signed_picture(delta: np.ndarray) -> np.ndarray:
    """A perturbation (H, W, 3), any sign, as a picture: grey is zero, stretched to its largest
    magnitude."""
    peak = float(np.abs(delta).max()) or 1.0
    return np.clip(127.5 + 127.5 * delta / peak, 0, 255).astype(np.uint8)


def with_inset(picture: np.ndarray, inset: np.ndarray, share: float = 0.3) -> np.ndarray:
    """``inset`` in the bottom-right corner of ``picture``, ``share`` of its width, framed."""
    out = picture.copy()
    h, w = out.shape[:2]
    iw = max(8, round(w * share))
    ih = max(8, round(inset.shape[0] * iw / inset.shape[1]))
    if ih >= h:
        return out
    small = cv2.resize(inset, (iw, ih), interpolation=cv2.INTER_AREA)
    out[h - ih - 2 : h, w - iw - 2 : w] = 255
    out[h - ih : h, w - iw : w] = small
    return out
