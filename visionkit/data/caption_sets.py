"""Caption sets on disk in the COCO captions format: written from ShapeWorld, read from anyone.

The format is COCO's ``captions_*.json``::

    {"images": [{"id": 1, "file_name": "images/000000.png", "width": 224, "height": 224}],
     "annotations": [{"id": 1, "image_id": 1, "caption": "two red hearts to the left of a blue ring"}]}

:func:`write_caption_set` writes ``DIR/captions.json`` and the pictures under ``DIR/images``;
:func:`read_caption_set` reads a folder holding one such file (``captions.json``, or a single
``captions_*.json`` as COCO names them) or the file itself, and checks what training and
evaluation need, with one-line errors that name the file and the field.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..progress import Progress
from .captions import CAPTION_SIZE, MIN_SIZE, REFERENCES, scene_captions
from .shapeworld import render

__all__ = ["MIN_SIZE", "CaptionSet", "read_caption_set", "write_caption_set"]

CAPTIONS_FILE = "captions.json"


@dataclass(frozen=True)
class CaptionSet:
    """Pictures and their reference captions, in the file's image order."""

    paths: tuple[Path, ...]
    captions: tuple[tuple[str, ...], ...]
    image_ids: tuple[int, ...]
    source: Path  # the captions file

    def __len__(self) -> int:
        return len(self.paths)


def write_caption_set(out_dir: str | Path, n: int, seed: int, size: int = CAPTION_SIZE,
                      progress: bool = True) -> dict:
    """Scenes ``0..n-1`` of caption set ``seed`` as PNGs and ``captions.json``; returns a summary."""
    import cv2

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    t0 = time.monotonic()
    with Progress(n, f"caption scenes (seed {seed})", enabled=progress) as bar:
        for i in range(n):
            truth, refs = scene_captions(seed, i, size)
            name = f"images/{i:06d}.png"
            if not cv2.imwrite(str(out / name), render(truth.scene)[..., ::-1]):
                raise InputError(f"{out / name}: could not be written")
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
            annotations += [{"id": len(annotations) + 1, "image_id": i + 1, "caption": c} for c in refs]
            bar.update(1)
    data = {"info": {"description": f"ShapeWorld captions, seed {seed}", "seed": seed,
                     "references_per_image": REFERENCES},
            "images": images, "annotations": annotations}
    path = out / CAPTIONS_FILE
    path.write_text(json.dumps(data, indent=1))
    return {"n": n, "num_captions": len(annotations), "annotations": str(path), "out_dir": str(out),
            "seconds": round(time.monotonic() - t0, 1)}


def _captions_file(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError(f"{path}: no such caption set (a folder with {CAPTIONS_FILE}, or a COCO captions file)")
    if (path / CAPTIONS_FILE).is_file():
        return path / CAPTIONS_FILE
    found = sorted(path.glob("captions_*.json")) + sorted(path.glob("annotations/captions_*.json"))
    if len(found) == 1:
        return found[0]
    if found:
        raise InputError(f"{path}: holds {len(found)} caption files ({found[0].name}, ...); name one")
    raise InputError(f"{path}: no {CAPTIONS_FILE} or captions_*.json in it")


def read_caption_set(path: str | Path, image_root: str | Path | None = None) -> CaptionSet:
    """The pictures and captions of a COCO captions file (or the folder holding one); images
    are found under ``image_root``, else beside the file, or in the folder above ``annotations/``
    (in its ``val2017/`` for ``captions_val2017.json``, as COCO lays them out)."""
    file = _captions_file(Path(path))
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: not a JSON captions file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(f"{file}: a COCO captions file has lists 'images' and 'annotations'")
    root = Path(image_root) if image_root is not None else \
        (file.parent.parent if file.parent.name == "annotations" else file.parent)
    split = root / file.stem.removeprefix("captions_")
    by_image: dict[int, list[str]] = {}
    for k, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or not isinstance(ann.get("image_id"), int) \
                or not isinstance(ann.get("caption"), str):
            raise InputError(f"{file}: annotations[{k}] needs an integer 'image_id' and a string 'caption'")
        if ann["caption"].strip():
            by_image.setdefault(ann["image_id"], []).append(ann["caption"].strip())
    paths, captions, ids = [], [], []
    for k, img in enumerate(data["images"]):
        if not isinstance(img, dict) or not isinstance(img.get("id"), int) \
                or not isinstance(img.get("file_name"), str):
            raise InputError(f"{file}: images[{k}] needs an integer 'id' and a string 'file_name'")
        if img["id"] in by_image:
            path = root / img["file_name"]
            if image_root is None and not path.exists() and (split / img["file_name"]).exists():
                path = split / img["file_name"]
            paths.append(path)
            captions.append(tuple(by_image[img["id"]]))
            ids.append(img["id"])
    if not paths:
        raise InputError(f"{file}: no image has a caption")
    return CaptionSet(tuple(paths), tuple(captions), tuple(ids), file)
