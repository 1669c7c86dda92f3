"""ImageFolder classification sets: ``ROOT/<label>/<name>.<ext>``, one folder per class.

:func:`write_classify_set` writes a ShapeWorld classification set in that layout;
:func:`read_image_folder` lists any such folder (class ids follow the sorted folder names,
as in every ImageFolder reader) so training runs on user data too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..cards import InputSpec
from ..errors import InputError
from ..imageio import read_image
from ..preprocess import preprocess
from .shapeworld import CLASSES, iter_classify

__all__ = ["IMAGE_EXTENSIONS", "load_image", "load_images", "read_image_folder", "write_classify_set"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


def write_classify_set(out_dir: str | Path, n: int, seed: int, size: int = 128,
                       progress: bool = True) -> dict:
    """Write ``n`` ShapeWorld classification images (set ``seed``) as ``out_dir/<label>/*.png``.

    Returns a summary: directory, n, seed, size, classes and images per class.
    """
    if n < 1:
        raise InputError(f"need at least one image, not {n}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(CLASSES, 0)
    t0 = last = time.monotonic()
    for i, (img, cid) in enumerate(iter_classify(n, seed, size)):
        label = CLASSES[cid]
        path = root / label / f"{label}_{seed}_{i:06d}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            raise InputError(f"{path}: cannot write image")
        counts[label] += 1
        now = time.monotonic()
        if progress and (now - last > 0.5 or i + 1 == n):
            last = now
            print(f"\rwriting {root}: {i + 1}/{n} images", end="", file=sys.stderr, flush=True)
    if progress:
        print(f" ({time.monotonic() - t0:.1f}s)", file=sys.stderr, flush=True)
    return {"out_dir": str(root), "n": n, "seed": seed, "size": size, "generator": "shapeworld",
            "classes": list(CLASSES), "counts": counts}


def read_image_folder(root: str | Path) -> tuple[list[tuple[Path, int]], list[str]]:
    """``([(path, class_id), ...], class_names)`` of an ImageFolder; names sorted, files sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise InputError(f"{root}: no class folders (expected {root}/<label>/<image>)")
    samples: list[tuple[Path, int]] = []
    for cid, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*")
                       if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        samples += [(p, cid) for p in files]
    if not samples:
        raise InputError(f"{root}: class folders hold no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return samples, classes


def load_image(path: str | Path, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """An image file as RGB uint8, read and (with ``size``) resized exactly as inference will
    see it: the core reader (EXIF orientation, alpha over white, 16-bit scaled, damaged files
    refused) and the exported card's geometry (shorter side to ``size``, then a centre crop).
    Training on anything else would teach the model pictures it is never shown."""
    img = read_image(path)
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else size
        spec = InputSpec(size=(h, w), layout="NHWC", dtype="uint8", scale=1.0, resize=min(h, w))
        img = preprocess(img, spec)[0][0]
    return img


def load_images(samples: Sequence[tuple[Path, int]], size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, size, size, 3), labels int64 (n,))`` of listed samples."""
    images = np.empty((len(samples), size, size, 3), np.uint8)
    labels = np.empty(len(samples), np.int64)
    for i, (path, cid) in enumerate(samples):
        images[i], labels[i] = load_image(path, size), cid
    return images, labels
