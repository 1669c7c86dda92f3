"""Where the style networks' training pictures come from: a folder, or photos a wheel ships.

Nothing is downloaded. Besides the user's own folder, ``scikit-image`` names the sample photos
that the scikit-image wheel carries inside its ``skimage/data`` folder (``pip install
scikit-image``; the package is not imported, only its files are read), those whose licence
lets anyone use them, as scikit-image's own data docstrings state.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from visionkit.errors import UsageError, VisionkitError
from visionkit.imageio import IMAGE_EXTENSIONS, read_image

#: the keyword that names the scikit-image wheel's photos
WHEEL = "scikit-image"
#: content photos in the wheel: file -> licence (scikit-image 0.25, ``skimage/data/_fetchers.py``)
WHEEL_PHOTOS = {
    "astronaut.png": "public domain (NASA)",
    "camera.png": "CC0 (Lav Varshney)",
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "coffee.png": "CC0 (Rachel Michetti)",
    "rocket.jpg": "public domain (SpaceX)",
}
#: textures in the wheel, usable as style pictures
WHEEL_TEXTURES = {
    "brick.png": "CC0 (CC0Textures)",
    "grass.png": "CC0 (DeviantArt linolafett)",
    "gravel.png": "CC0 (CC0Textures)",
    "hubble_deep_field.jpg": "public domain (NASA)",
    "retina.jpg": "CC0 (Mikael Häggström)",
}


def wheel_folder() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"{WHEEL} pictures need the scikit-image wheel: pip install scikit-image")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def picture_files(source: str | Path, wheel_files: dict[str, str]) -> list[Path]:
    """The picture files of a folder (recursively), or of the wheel's list for ``scikit-image``."""
    if str(source) == WHEEL:
        folder = wheel_folder()
        files = [folder / name for name in wheel_files if (folder / name).is_file()]
        if not files:
            raise UsageError(f"{folder}: the scikit-image wheel here carries none of {', '.join(wheel_files)}")
        return files
    root = Path(source)
    if not root.is_dir():
        raise UsageError(f"{source}: give a folder of pictures, or {WHEEL}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def load_pictures(source: str | Path, size: int, log: Callable[[str], None], *,
                  wheel_files: dict[str, str] = WHEEL_PHOTOS) -> tuple[list[np.ndarray], list[str]]:
    """The readable pictures of ``source``, each at least ``size`` on its short side (smaller
    ones enlarged), and their names; unreadable files are counted and left out."""
    pictures, names, bad = [], [], 0
    for path in picture_files(source, wheel_files):
        try:
            image = read_image(path)
        except VisionkitError:  # one unreadable file must not end the run
            bad += 1
            continue
        s = size / min(image.shape[:2])
        if s > 1:
            image = cv2.resize(image, (round(image.shape[1] * s) + 1, round(image.shape[0] * s) + 1),
                               interpolation=cv2.INTER_CUBIC)
        pictures.append(image)
        names.append(path.name)
    if bad:
        log(f"{bad} unreadable file(s) in {source} left out")
    if not pictures:
        raise UsageError(f"{source}: no readable pictures to train on")
    return pictures, names


def random_crop(rng: np.random.Generator, image: np.ndarray, size: int, zoom: tuple[float, float] = (1.0, 1.0)
                ) -> np.ndarray:
    """A ``size`` square cut from ``image`` at a random place, covering ``zoom`` (a range of
    fractions of the short side; 1 = a square as wide as the short side can hold ``size`` px
    as they are), some flipped left to right."""
    h, w = image.shape[:2]
    side = size if zoom == (1.0, 1.0) else max(size // 2, round(min(h, w) * rng.uniform(*zoom)))
    side = min(side, h, w)
    y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    crop = image[y : y + side, x : x + side]
    if side != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
    return crop[:, ::-1] if rng.random() < 0.5 else crop
