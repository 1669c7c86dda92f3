"""ShapeWorld caption scenes: one or two groups of alike shapes, and what people would say of them.

A caption scene holds one group of one to three shapes of one class and colour, or two such
groups side by side or one above the other. Everything a caption says is true of the pixels by
construction: every shape shows whole (nothing overlaps, nothing is cut by the border), a
group's shapes share a size class (small, medium or large, the medium one unmarked in words),
and two groups lie in opposite halves of the picture, their centres clearly further apart
along that split than across it, so "to the left of" or "above" is never a judgement call.
The first group of a scene is the one a reader meets first (the left one of two side by side,
the upper one of two stacked), so the plainest caption, which names it first, follows from the
pixels alone; the other phrasings name either group first. Scene ``i`` of set ``seed`` depends
only on ``(seed, i)``.

Each scene gets :data:`REFERENCES` captions from a small grammar with varied phrasings
("two red hearts to the left of a large blue ring", "a large blue ring is to the right of
two red hearts", "there are two red hearts left of a large blue ring", ...): the words that
change from scene to scene are the counts, sizes, colours, classes, the relation and the
background, so a model must look at the picture to say them. :func:`mentions` reads those
phrases back out of any caption, which is how an evaluation checks the counts and colours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .shapes import CLASSES, sample_params
from .shapeworld import PALETTE, Scene, SceneObject, contrasting_colour, random_background, random_clutter

__all__ = ["CAPTION_SIZE", "REFERENCES", "VERSION", "CaptionScene", "Group", "caption_scene", "captions_for",
           "mentions", "plural", "scene_captions"]

#: the picture side: the shipped backbone's input, so no pixel is resampled on the way in
CAPTION_SIZE = 224
#: reference captions per scene
REFERENCES = 5
#: the sampler's version: a change that alters any scene of a seed bumps it, so caches made of
#: the old scenes are not taken for the new
VERSION = 3
MIN_SIZE = 64  # below this the small shapes are a few pixels: no caption could be told from them
_TAG = 4  # the task tag in the seed sequence (detect 1, segment 2, pose 3)

#: half-extent of a shape, as a fraction of the picture side, per size class
SIZES: dict[str, tuple[float, float]] = {"small": (0.05, 0.065), "medium": (0.085, 0.1), "large": (0.125, 0.145)}
SIZE_WORDS = {"small": ("small", "little"), "medium": ("",), "large": ("large", "big")}
COUNT_WORDS = {1: ("a", "one"), 2: ("two",), 3: ("three",)}
RELATIONS = {"left": ("to the left of", "left of", "on the left of"),
             "right": ("to the right of", "right of", "on the right of"),
             "above": ("above", "over"), "below": ("below", "under", "beneath")}
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
BACKGROUND_WORDS = {"flat": "plain", "gradient": "shaded", "stripes": "striped", "checker": "checkered",
                    "blotches": "mottled"}
_GAP = 0.06  # the empty band between two groups' halves, as a fraction of the side
CLEAR_RATIO = 1.5


def plural(name: str) -> str:
    """The plural of a class name: ``cross`` -> ``crosses``, ``ellipse`` -> ``ellipses``."""
    return name + ("es" if name.endswith(("s", "x", "sh", "ch")) else "s")


@dataclass(frozen=True)
class Group:
    """Alike shapes: ``count`` of class ``label`` in colour ``colour``, all of size class ``size``."""

    label: str
    colour: str
    count: int
    size: str = "medium"

    def key(self) -> tuple[int, str, str]:
        return self.count, self.colour, self.label


@dataclass(frozen=True)
class CaptionScene:
    """A rendered-to-be scene and the truth its captions say: the groups, and where the first
    lies relative to the second (``"left"`` or ``"above"``: the first is the one read first; None
    for one group)."""

    scene: Scene
    groups: tuple[Group, ...]
    relation: str | None
    background: str  # a word of BACKGROUND_WORDS


def _radius(obj: SceneObject) -> float:
    pts = obj.polygon()[0]
    return float(np.linalg.norm(pts - np.asarray(obj.centre), axis=1).max())


def _place(rng: np.random.Generator, objs: list[SceneObject], region: tuple[float, float, float, float],
           placed: list[SceneObject]) -> bool:
    """Move ``objs`` to free spots wholly inside ``region`` (x0, y0, x1, y1); False if no room."""
    x0, y0, x1, y1 = region
    for obj in objs:
        r = _radius(obj)
        if x1 - x0 < 2 * r + 2 or y1 - y0 < 2 * r + 2:
            return False
        for _ in range(60):
            cx, cy = rng.uniform(x0 + r + 1, x1 - r - 1), rng.uniform(y0 + r + 1, y1 - r - 1)
            if all(np.hypot(cx - o.centre[0], cy - o.centre[1]) >= r + _radius(o) + 3 for o in placed):
                obj.centre = (float(cx), float(cy))
                placed.append(obj)
                break
        else:
            return False
    return True


def _clear(first: list[SceneObject], second: list[SceneObject], relation: str) -> bool:
    """Whether the relation is the plain one to say: the groups' centres lie at least
    :data:`CLEAR_RATIO` times further apart along the relation's axis than across it (two
    groups one diagonal from the other are as much "above" as "to the right of")."""
    a = np.mean([o.centre for o in first], axis=0)
    b = np.mean([o.centre for o in second], axis=0)
    along = 0 if relation in ("left", "right") else 1
    return abs(a[along] - b[along]) >= CLEAR_RATIO * abs(a[1 - along] - b[1 - along])


def _sample(rng: np.random.Generator, h: int, w: int) -> CaptionScene | None:
    bg = random_background(rng)
    against = (bg.colour, bg.colour2)
    n_groups = 1 if rng.random() < 0.35 else 2
    groups: list[Group] = []
    while len(groups) < n_groups:
        colour, _ = contrasting_colour(rng, against)
        g = Group(CLASSES[int(rng.integers(len(CLASSES)))], colour, int(rng.integers(1, 4)),
                  ("small", "medium", "large")[int(rng.integers(3))])
        if all((g.label, g.colour) != (o.label, o.colour) for o in groups):
            groups.append(g)
    s = min(h, w)
    relation = None
    if n_groups == 1:
        regions = [(0.0, 0.0, float(w), float(h))]
    else:
        # the first group is the left or the upper one: the plainest caption names groups in reading
        # order, which a model can see (two of the other phrasings name the second group first)
        relation = ("left", "above")[int(rng.integers(2))]
        gap = _GAP * s / 2
        left, right = (0.0, 0.0, w / 2 - gap, float(h)), (w / 2 + gap, 0.0, float(w), float(h))
        top, bottom = (0.0, 0.0, float(w), h / 2 - gap), (0.0, h / 2 + gap, float(w), float(h))
        regions = {"left": [left, right], "above": [top, bottom]}[relation]
    items: list = []
    placed: list[SceneObject] = []
    for z0, (g, region) in enumerate(zip(groups, regions)):
        cid = CLASSES.index(g.label)
        objs = []
        for k in range(g.count):
            rgb = np.clip(np.asarray(PALETTE[g.colour]) + rng.integers(-20, 21, 3), 0, 255)
            objs.append(SceneObject(
                class_id=cid, centre=(0.0, 0.0), size=float(rng.uniform(*SIZES[g.size]) * s),
                rotation=float(rng.uniform(0, 2 * np.pi)), colour=tuple(int(v) for v in rgb), colour_name=g.colour,
                params=sample_params(g.label, rng), z=10 * z0 + k,
                shading=(float(rng.uniform(-0.12, 0.12)), float(rng.uniform(-0.12, 0.12)))))
        if not _place(rng, objs, region, placed):
            return None
        items += objs
    if relation is not None and not _clear(placed[:groups[0].count], placed[groups[0].count:], relation):
        return None
    for _ in range(int(rng.integers(0, 3))):  # clutter under the shapes: lines, dots, blobs
        items.append(random_clutter(rng, h, w, z=-1, small=True))
    scene = Scene(h, w, bg, items, noise_sigma=float(rng.uniform(0, 4)) if rng.random() < 0.5 else 0.0,
                  noise_seed=int(rng.integers(2**31)))
    return CaptionScene(scene, tuple(groups), relation, BACKGROUND_WORDS[bg.kind])


def caption_scene(seed: int, index: int, size: int = CAPTION_SIZE) -> CaptionScene:
    """Scene ``index`` of caption set ``seed`` (drawn again, from the same generator, until its
    shapes fit)."""
    if size < MIN_SIZE:
        raise ValueError(f"caption scenes are at least {MIN_SIZE} pixels wide, not {size}")
    rng = np.random.default_rng([int(seed), _TAG, int(index)])
    for _ in range(1000):
        found = _sample(rng, size, size)
        if found is not None:
            return found
    raise RuntimeError(f"caption scene {index} of set {seed} found no room for its shapes at {size} px")


def _phrase(g: Group, rng: np.random.Generator | None) -> str:
    """``two small red hearts``; ``rng`` None: the first word of every choice."""
    def pick(options: Sequence[str]) -> str:
        return options[0] if rng is None else options[int(rng.integers(len(options)))]

    words = [pick(COUNT_WORDS[g.count]), pick(SIZE_WORDS[g.size]), g.colour,
             g.label if g.count == 1 else plural(g.label)]
    words = [w for w in words if w]
    if words[0] == "a" and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def _be(g: Group) -> str:
    return "is" if g.count == 1 else "are"


def captions_for(truth: CaptionScene, rng: np.random.Generator, n: int = REFERENCES) -> list[str]:
    """``n`` different captions of ``truth``: the first in the plainest words, the others in
    phrasings drawn by ``rng``."""
    def parts(plain: bool):
        r = None if plain else rng
        a = _phrase(truth.groups[0], r)
        b = _phrase(truth.groups[1], r) if len(truth.groups) > 1 else ""
        rel = inv = ""
        if truth.relation is not None:
            options, back = RELATIONS[truth.relation], RELATIONS[INVERSE[truth.relation]]
            rel = options[0] if plain else options[int(rng.integers(len(options)))]
            inv = back[0] if plain else back[int(rng.integers(len(back)))]
        return a, b, rel, inv

    g0 = truth.groups[0]
    bg = truth.background
    if truth.relation is None:
        templates = [
            lambda a, b, r, i: a,
            lambda a, b, r, i: f"there {_be(g0)} {a}",
            lambda a, b, r, i: f"{a} on a {bg} background",
            lambda a, b, r, i: f"a picture of {a}",
            lambda a, b, r, i: f"there {_be(g0)} {a} on a {bg} background",
            lambda a, b, r, i: f"{a} {_be(g0)} in the picture",
        ]
    else:
        g1 = truth.groups[1]
        templates = [
            lambda a, b, r, i: f"{a} {r} {b}",
            lambda a, b, r, i: f"{b} {i} {a}",
            lambda a, b, r, i: f"there {_be(g0)} {a} {r} {b}",
            lambda a, b, r, i: f"{a} {_be(g0)} {r} {b}",
            lambda a, b, r, i: f"{b} {_be(g1)} {i} {a}",
            lambda a, b, r, i: f"{a} {r} {b} on a {bg} background",
        ]
    out = [templates[0](*parts(True))]
    order = 1 + rng.permutation(len(templates) - 1)
    tries = 0
    while len(out) < n and tries < 50:
        text = templates[int(order[tries % len(order)])](*parts(False))
        tries += 1
        if text not in out:
            out.append(text)
    return out


def scene_captions(seed: int, index: int, size: int = CAPTION_SIZE) -> tuple[CaptionScene, list[str]]:
    """Scene ``index`` of set ``seed`` and its :data:`REFERENCES` captions."""
    truth = caption_scene(seed, index, size)
    return truth, captions_for(truth, np.random.default_rng([int(seed), _TAG, int(index), 1]))


_SIZES = {w: name for name, words in SIZE_WORDS.items() for w in words if w}
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_NOUNS = {**{c: c for c in CLASSES}, **{plural(c): c for c in CLASSES}}


def mentions(caption: str) -> list[Group]:
    """The groups a caption names, in its order: every "COUNT [SIZE] COLOUR CLASS" phrase
    (``"there are two small red hearts"`` -> ``[Group("heart", "red", 2, "small")]``)."""
    words = re.findall(r"[a-z]+", caption.lower())
    found = []
    for i, word in enumerate(words):
        if word not in _COUNTS:
            continue
        j = i + 1
        size = "medium"
        if j < len(words) and words[j] in _SIZES:
            size, j = _SIZES[words[j]], j + 1
        if j + 1 < len(words) and words[j] in PALETTE and words[j + 1] in _NOUNS:
            found.append(Group(_NOUNS[words[j + 1]], words[j], _COUNTS[word], size))
    return found
