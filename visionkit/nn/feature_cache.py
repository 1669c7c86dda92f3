"""A frozen backbone's feature maps of a ShapeWorld training set, computed once, kept on disk.

A frozen backbone gives a training picture the same feature maps in every epoch, so they are
computed once, by the exported ONNX file in onnxruntime (exactly what inference will see), and
read back memory-mapped: heads then train without running a backbone at all.

One cache is one folder under the cache root, named by a fingerprint of everything that decides
its contents: the backbone's content hash and input geometry, the set's parts
``(kind, pictures, seed)``, the copies kept of each picture (its augmentation) and this
layout's version. A second run with the same inputs reuses it; a change in any of them makes
another. A cache serves any subset of the maps it holds; asked for one it lacks, it is filled
again with both. The folder::

    <root>/<backbone name>-<fingerprint>/
        meta.json         what made it, the maps' shapes, its size
        c2.npy ... c5.npy one float16 array per feature map, (pictures, copies, C, h, w)
        semantic.npy      uint8 (pictures, H, W) class map of each picture as generated
        annotations.npz   every picture's boxes, classes, joints (flattened) and picture class

It is filled in a ``.partial`` folder renamed when complete, so a stopped fill is never
mistaken for a cache (the next run starts that fill again).

Augmentation that works with cached features: each picture is kept as ``copies`` versions
whose features are all computed: copy 0 as generated, copy 1 its mirror image (left-right).
Annotations are not stored twice: the mirror's are derived when a batch is read (boxes and
class maps mirrored, joints mirrored with left and right swapped, so ``l_wrist`` stays the
figure's left wrist). A mirror is the one geometric change that keeps every ShapeWorld label
true (shapes are drawn at any rotation, figures face either way) and keeps the picture whole
(a crop or warp would cut objects and move the letterbox). More copies cost disk and filling
time, not time per epoch: an epoch reads one copy of each picture, drawn at random.

A user's own set (:func:`picture_cache`: an ImageFolder or a COCO set, read by
:mod:`visionkit.nn.recipes.transfer`) is cached the same way; its fingerprint names the set by
what its files hold (see :class:`Pictures`) instead of ``parts``, and its joints, if any, are
mirrored by their names (``left_*`` and ``right_*`` change places as ``l_*`` and ``r_*`` do).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from ..cards import InputSpec, ModelCard
from ..data.figures import JOINTS
from ..data.scene_arrays import SceneArrays, make_scene_arrays, sampler_digest
from ..errors import ModelError, UsageError
from ..progress import Progress

__all__ = ["AUGMENTS", "FeatureCache", "Pictures", "feature_cache", "mirror_boxes", "mirror_keypoints",
           "mirror_order", "picture_cache", "read_backbone"]

FORMAT = 1  # the layout's version: a new one makes new caches
#: what copy k of a picture is
AUGMENTS = ("original", "mirror")
GENERATE_CHUNK = 512  # pictures generated at a time: bounds the memory images take
RUN_BATCH = 32  # pictures per onnxruntime call
_SIDES = {"l_": "r_", "r_": "l_"}
#: joint order after a mirror: each ``l_`` joint takes its ``r_`` partner's place and back
_SWAP = [JOINTS.index(_SIDES[j[:2]] + j[2:]) if j[:2] in _SIDES else i for i, j in enumerate(JOINTS)]


def mirror_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """xyxy boxes (edges in pixels) of the left-right mirrored picture."""
    out = boxes.copy()
    out[:, 0], out[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    return out


def mirror_order(names: Sequence[str]) -> list[int]:
    """Joint order after a mirror for joints called ``names``: each left joint takes its right
    partner's place and back, partners named ``l_x``/``r_x`` or with ``left``/``right`` in the
    name (COCO's ``left_eye``); a joint without a partner keeps its place."""
    index = {name: i for i, name in enumerate(names)}

    def partners(name: str):
        if name[:2] in _SIDES:
            yield _SIDES[name[:2]] + name[2:]
        for a, b in (("left", "right"), ("right", "left"), ("Left", "Right"), ("Right", "Left")):
            if a in name:
                yield name.replace(a, b)

    return [next((index[p] for p in partners(n) if p in index), i) for i, n in enumerate(names)]


def mirror_keypoints(keypoints: np.ndarray, width: int, order: Sequence[int] | None = None) -> np.ndarray:
    """(k, K, 3) joints of the mirrored picture: x mirrored (pixel centres, so ``x -> W-1-x``),
    left and right swapped (``order``, default ShapeWorld's figures'; see :func:`mirror_order`);
    unlabelled joints (``v == 0``, at 0, 0) stay as they are."""
    out = keypoints[:, _SWAP if order is None else list(order)].copy()
    labelled = out[..., 2] > 0
    out[..., 0] = np.where(labelled, width - 1 - out[..., 0], out[..., 0])
    return out


def read_backbone(path: str | Path) -> ModelCard:
    """The card of an exported backbone the cache can run; one line for anything else."""
    import onnx

    from ..onnx_cards import card_of, model_hash

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{path}: no such backbone file")
    try:
        proto = onnx.load(str(p))  # once: the card and the content hash both come from it
        card = card_of(proto, origin=str(p))
        actual = model_hash(proto)
    except Exception as exc:  # noqa: BLE001 - onnx raises its own types for a file that is no model
        raise ModelError(f"{p.name}: not an ONNX model ({' '.join(str(exc).split())[:120]})") from None
    if card is None or card.task != "backbone":
        what = "has no visionkit card" if card is None else f"is a {card.task!r} model"
        raise ModelError(f"{p.name} {what}, not an exported backbone")
    if card.hash != actual:
        raise ModelError(f"{p.name}: its card names hash {card.hash}, but the graph hashes to {actual}; "
                         "export it again")
    if (card.input.layout, card.input.dtype) != ("NHWC", "uint8"):
        raise ModelError(f"{p.name}: takes {card.input.dtype} {card.input.layout}; the feature cache runs "
                         "backbones that take uint8 NHWC pixels (as visionkit exports them)")
    return card


def fingerprint(card: ModelCard, parts: Sequence[tuple[str, int, int]], copies: int) -> dict[str, Any]:
    """Everything that decides a cache's contents, as plain data (its hash names the folder)."""
    return {"format": FORMAT, "backbone": card.hash, "input": asdict(card.input),
            "parts": [[k, int(n), int(s)] for k, n, s in parts], "augment": list(AUGMENTS[:copies]),
            "sampler": sampler_digest()}


class Pictures(Protocol):
    """A set of a user's pictures and their annotations, as :func:`picture_cache` reads it."""

    #: names of the joints each object's keypoints hold (empty: none), for mirroring them
    joints: Sequence[str]

    def __len__(self) -> int: ...

    def fingerprint(self) -> dict[str, Any]:
        """Plain data that changes whenever a picture or an annotation does."""
        ...

    def arrays(self, start: int, stop: int, spec: InputSpec) -> SceneArrays:
        """Pictures ``start`` to ``stop`` put through ``spec``'s geometry, annotations moved along."""
        ...


def _key(made_of: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]


class FeatureCache:
    """A complete cache, opened: feature maps (``maps``, default all it holds) memory-mapped,
    annotations in memory."""

    def __init__(self, folder: str | Path, maps: Sequence[str] | None = None):
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text())
        names = self.meta["maps"] if maps is None else maps
        self.maps = {k: np.load(self.folder / f"{k}.npy", mmap_mode="r") for k in names}
        self.semantic = np.load(self.folder / "semantic.npy", mmap_mode="r")
        # caches made before joints were recorded hold ShapeWorld's figures
        joints = self.meta.get("joints", list(JOINTS))
        self._order = None if list(joints) == list(JOINTS) else mirror_order(joints)
        with np.load(self.folder / "annotations.npz") as a:
            cuts = np.cumsum(a["counts"])[:-1]
            self.boxes = np.split(a["boxes"], cuts)
            self.classes = np.split(a["classes"], cuts)
            self.keypoints = np.split(a["keypoints"], cuts)
            self.image_labels = a["image_labels"]

    def __len__(self) -> int:
        return len(self.image_labels)

    @property
    def copies(self) -> int:
        return int(self.meta["copies"])

    @property
    def input_size(self) -> tuple[int, int]:
        h, w = self.meta["input_size"]
        return int(h), int(w)

    @property
    def feature_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each map's shape for one picture: ``(1, C, h, w)``."""
        return {k: (1, *m.shape[2:]) for k, m in self.maps.items()}

    def features(self, index: np.ndarray, copy: np.ndarray) -> dict[str, np.ndarray]:
        """float32 maps of pictures ``index``, each in its copy ``copy``."""
        return {k: m[index, copy].astype(np.float32) for k, m in self.maps.items()}

    def annotations(self, index: np.ndarray, copy: np.ndarray) -> SceneArrays:
        """The annotations of pictures ``index`` in their copies, as a set of their own (its
        order is ``index``'s). Its images are empty, (n, 0, 0, 3): the features stand for them."""
        index, mirror = np.asarray(index), np.asarray(copy) == 1
        w = self.input_size[1]
        semantic = self.semantic[index]
        semantic[mirror] = semantic[mirror][:, :, ::-1]

        def pick(items: list[np.ndarray], flip) -> list[np.ndarray]:
            return [flip(items[i], w) if m else items[i] for i, m in zip(index, mirror)]

        def mirror_joints(keypoints: np.ndarray, width: int) -> np.ndarray:
            return mirror_keypoints(keypoints, width, self._order)

        return SceneArrays(
            np.zeros((len(index), 0, 0, 3), np.uint8), semantic, pick(self.boxes, mirror_boxes),
            [self.classes[i] for i in index], pick(self.keypoints, mirror_joints), self.image_labels[index],
        )


def feature_cache(
    backbone: str | Path, parts: Sequence[tuple[str, int, int]], root: str | Path, *, copies: int = 2,
    maps: Sequence[str] | None = None, limit_gb: float = 8.0, workers: int = 2, progress: bool = True,
    log: Callable[[str], None] = print,
) -> FeatureCache:
    """The cache of ``backbone``'s maps (``maps``; default all) over the set ``parts``, in
    ``copies`` versions per picture: the one under ``root`` if these inputs made one, else filled
    now. Refuses in one line, before any work, when it would take more than ``limit_gb``."""
    card, maps = _opened(backbone, copies, maps)
    made_of = fingerprint(card, parts, copies)
    n = sum(int(p[1]) for p in parts)

    def make(start: int, stop: int) -> SceneArrays:
        return make_scene_arrays([tuple(p) for p in parts], card.input, workers=workers, window=(start, stop))

    return _cached(backbone, card, made_of, n, make, JOINTS, maps, root, limit_gb, progress, log)


def picture_cache(
    backbone: str | Path, pictures: Pictures, root: str | Path, *, copies: int = 2,
    maps: Sequence[str] | None = None, limit_gb: float = 8.0, progress: bool = True,
    log: Callable[[str], None] = print,
) -> FeatureCache:
    """The cache of ``backbone``'s maps of a user's ``pictures``, as :func:`feature_cache` makes
    one of a ShapeWorld set: reused while the backbone, the pictures' files and the copies are
    the same, else filled now."""
    card, maps = _opened(backbone, copies, maps)
    made_of = {"format": FORMAT, "backbone": card.hash, "input": asdict(card.input),
               "pictures": pictures.fingerprint(), "augment": list(AUGMENTS[:copies])}

    def make(start: int, stop: int) -> SceneArrays:
        return pictures.arrays(start, stop, card.input)

    return _cached(backbone, card, made_of, len(pictures), make, tuple(pictures.joints), maps, root, limit_gb,
                   progress, log)


def _opened(backbone: str | Path, copies: int,
            maps: Sequence[str] | None) -> tuple[ModelCard, tuple[str, ...]]:
    """The backbone's card and the maps asked for, each checked in one line."""
    if not 1 <= copies <= len(AUGMENTS):
        raise UsageError(f"copies must be 1 to {len(AUGMENTS)} ({', '.join(AUGMENTS)}), not {copies}")
    card = read_backbone(backbone)
    maps = tuple(card.features if maps is None else maps)
    missing = [m for m in maps if m not in card.features]
    if missing:
        raise ModelError(f"{Path(backbone).name} gives {', '.join(card.features)}, not {', '.join(missing)}")
    return card, maps


def _cached(backbone: str | Path, card: ModelCard, made_of: dict[str, Any], n: int,
            make: Callable[[int, int], SceneArrays], joints: Sequence[str], maps: Sequence[str],
            root: str | Path, limit_gb: float, progress: bool, log: Callable[[str], None]) -> FeatureCache:
    folder = Path(root) / f"{card.name}-{_key(made_of)}"
    if (folder / "meta.json").is_file():
        held = json.loads((folder / "meta.json").read_text())["maps"]
        if set(maps) <= set(held):
            log(f"feature cache: reusing {folder}")
            return FeatureCache(folder, maps)
        log(f"feature cache: {folder} lacks {', '.join(m for m in maps if m not in held)}; filling it again")
        maps = tuple(m for m in card.features if m in held or m in maps)
    _fill(backbone, card, made_of, n, make, joints, maps, folder, limit_gb, progress, log)
    return FeatureCache(folder, maps)


def _fill(backbone: str | Path, card: ModelCard, made_of: dict[str, Any], n: int,
          make: Callable[[int, int], SceneArrays], joints: Sequence[str], maps: Sequence[str], folder: Path,
          limit_gb: float, progress: bool, log: Callable[[str], None]) -> None:
    from ..runtime import load_model

    t0 = time.monotonic()
    model = load_model(backbone)
    copies = len(made_of["augment"])
    h, w = card.input.size
    feed = model.inputs[0].name
    probe = dict(zip(model.outputs, model.run({feed: np.zeros((1, h, w, 3), np.uint8)})))
    shapes = {k: (n, copies, *probe[k].shape[1:]) for k in maps}
    need = sum(2 * int(np.prod(s)) for s in shapes.values()) + n * h * w
    folder.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder.parent).free
    if need > limit_gb * 1e9 or need > free:
        why = f"the limit is {limit_gb:g} GB" if need > limit_gb * 1e9 else f"{free / 1e9:.1f} GB are free there"
        raise UsageError(f"the feature cache would take {need / 1e9:.2f} GB in {folder.parent} and {why}: "
                         "give fewer pictures or copies, or a larger --cache-limit-gb")
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)  # a fill stopped part-way starts again
    tmp.mkdir()
    log(f"feature cache: {n} pictures x {copies} copies ({need / 1e9:.2f} GB) -> {folder}")
    out = {k: np.lib.format.open_memmap(tmp / f"{k}.npy", "w+", np.float16, s) for k, s in shapes.items()}
    semantic = np.lib.format.open_memmap(tmp / "semantic.npy", "w+", np.uint8, (n, h, w))
    boxes, classes, keypoints, labels = [], [], [], []
    bar = Progress(n * copies, "features", enabled=progress)
    for start in range(0, n, GENERATE_CHUNK):
        stop = min(start + GENERATE_CHUNK, n)
        data = make(start, stop)
        semantic[start:stop] = data.semantic
        boxes += data.boxes
        classes += data.classes
        keypoints += data.keypoints
        labels.append(data.image_labels)
        for copy in range(copies):
            images = data.images if copy == 0 else data.images[:, :, ::-1]
            for b in range(0, stop - start, RUN_BATCH):
                got = dict(zip(model.outputs, model.run({feed: np.ascontiguousarray(images[b : b + RUN_BATCH])})))
                for k in maps:
                    half = got[k].astype(np.float16)
                    if not np.isfinite(half).all():  # float16 tops out at 65504
                        raise ModelError(f"{Path(backbone).name}: feature map {k} exceeds float16's range")
                    out[k][start + b : start + b + len(half), copy] = half
                bar.update(len(half))
    bar.close()
    for array in (*out.values(), semantic):
        array.flush()
    del out, semantic  # closes the memory maps before the folder is renamed
    counts = np.array([len(b) for b in boxes], np.int64)
    np.savez(tmp / "annotations.npz", counts=counts, boxes=np.concatenate(boxes).reshape(-1, 4),
             classes=np.concatenate(classes).astype(np.int64),
             keypoints=np.concatenate(keypoints),  # each picture's is (objects, joints, 3) already
             image_labels=np.concatenate(labels))
    meta = {"made_of": made_of, "backbone": {"name": card.name, "hash": card.hash, "file": str(backbone)},
            "n": n, "copies": copies, "maps": {k: list(s) for k, s in shapes.items()}, "input_size": [h, w],
            "joints": list(joints),
            "bytes": need, "seconds": round(time.monotonic() - t0, 1), "provider": model.provider}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(folder, ignore_errors=True)  # a folder without meta.json: an older stopped rename
    tmp.rename(folder)
    log(f"feature cache: filled in {meta['seconds']:.0f}s")
