"""Typed results: what every task returns, and what the CLI, the API and the GUI show.

Every result follows one protocol, :class:`Result`: a ``kind`` (what painters and panels are
registered for), ``to_dict()`` (JSON-safe data in the schema of the CLI contract, README
"JSON output"), ``summary()`` (one line for terminals and status bars) and a
``schema_version`` of its own keys. A result may also offer ``base_image()``: a picture that
replaces the frame under every overlay (a stylised image). The pipeline checks each task's
result against the protocol (:func:`check_result`) and names the plugin when one does not
follow it. ``FrameResult`` bundles one frame's results. The built-in types live here, so one
module holds the schema that tasks share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

#: Bumped whenever a key of ``FrameResult.to_dict()`` or of a result changes meaning.
SCHEMA_VERSION = 1


@runtime_checkable
class Result(Protocol):
    """What every task's result offers. ``summary`` is optional: :func:`summarize` makes one
    from ``to_dict()`` for a type that lacks it."""

    kind: ClassVar[str]
    #: version of this type's own ``to_dict()`` keys; bumped when one changes meaning
    schema_version: ClassVar[int]

    def to_dict(self) -> dict[str, Any]: ...


def result_problem(result: Any) -> str | None:
    """Why ``result`` does not follow :class:`Result`, or None when it does."""
    kind = getattr(type(result), "kind", None)
    if not isinstance(kind, str) or not kind:
        return f"{type(result).__name__} has no 'kind' class attribute (a non-empty string)"
    if not callable(getattr(result, "to_dict", None)):
        return f"{type(result).__name__} has no to_dict() method"
    base = getattr(result, "base_image", None)
    if base is not None and not callable(base):
        return f"{type(result).__name__}.base_image is not a method"
    return None


def summarize(result: Any, k: int = 3) -> str:
    """The result's own ``summary()``, or one made from the first keys of its ``to_dict()``."""
    own = getattr(result, "summary", None)
    if callable(own):
        return str(own())
    data = result.to_dict()
    if not isinstance(data, dict) or not data:
        return getattr(result, "kind", type(result).__name__)
    shown = []
    for key, value in list(data.items())[:k]:
        if isinstance(value, (list, tuple, dict)):
            value = f"{len(value)} item(s)"
        elif isinstance(value, float):
            value = f"{value:.3g}"
        shown.append(f"{key} {value}")
    return ", ".join(shown)


def base_image(result: Any) -> np.ndarray | None:
    """The picture a result puts under the overlays (RGB uint8), or None."""
    fn = getattr(result, "base_image", None)
    return fn() if callable(fn) else None


@dataclass(frozen=True)
class Classification:
    """Top-k classes of a whole image, best first."""

    class_ids: tuple[int, ...]
    labels: tuple[str, ...]
    scores: tuple[float, ...]
    #: every class's probability, in class-id order (for bar charts); not part of to_dict()
    probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)

    kind: ClassVar[str] = "classification"
    schema_version: ClassVar[int] = 1

    @property
    def top(self) -> tuple[str, float]:
        """The best label and its score."""
        return self.labels[0], self.scores[0]

    def summary(self, k: int = 3) -> str:
        """One line for terminals and status bars: ``star 0.99, hexagon 0.01``."""
        return ", ".join(f"{lab} {s:.3f}" for lab, s in zip(self.labels[:k], self.scores[:k]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_ids": [int(i) for i in self.class_ids],
            "labels": list(self.labels),
            "scores": [round(float(s), 6) for s in self.scores],
        }


@dataclass(frozen=True)
class Detections:
    """Objects found in an image: boxes ``[x1, y1, x2, y2]`` in original-image pixels."""

    boxes: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32, best first
    class_ids: np.ndarray  # (N,) int
    labels: tuple[str, ...]

    kind: ClassVar[str] = "detections"
    schema_version: ClassVar[int] = 1

    def __len__(self) -> int:
        return len(self.labels)

    def summary(self, k: int = 3) -> str:
        if not len(self):
            return "nothing found"
        counts: dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        return f"{len(self)} found: " + ", ".join(f"{n} {lab}" for lab, n in list(counts.items())[:k + 2])

    def to_dict(self) -> dict[str, Any]:
        return {
            "boxes": [[round(float(v), 2) for v in box] for box in self.boxes],
            "scores": [round(float(s), 6) for s in self.scores],
            "class_ids": [int(i) for i in self.class_ids],
            "labels": list(self.labels),
        }


@dataclass(frozen=True)
class SegmentationMask:
    """A class id per pixel of the original image (0 = background)."""

    label_map: np.ndarray = field(repr=False)  # (H, W) uint8
    class_names: tuple[str, ...]  # every class the model knows, by id

    kind: ClassVar[str] = "segmentation"
    schema_version: ClassVar[int] = 1

    def areas(self) -> dict[str, int]:
        """Pixels per class present, background (id 0) left out, largest first."""
        counts = np.bincount(self.label_map.ravel(), minlength=len(self.class_names))
        present = [(int(n), i) for i, n in enumerate(counts) if n and i != 0]
        return {self._name(i): n for n, i in sorted(present, reverse=True)}

    def _name(self, class_id: int) -> str:
        return self.class_names[class_id] if class_id < len(self.class_names) else str(class_id)

    def summary(self, k: int = 3) -> str:
        areas = self.areas()
        total = self.label_map.size
        shown = ", ".join(f"{lab} {100 * n / total:.0f}%" for lab, n in list(areas.items())[:k])
        return shown or "background only"

    def to_dict(self) -> dict[str, Any]:
        areas = self.areas()
        return {"labels": list(areas), "areas": areas}


@dataclass(frozen=True)
class Keypoints:
    """Named keypoints of each instance (e.g. a figure's joints) and the skeleton joining them."""

    boxes: np.ndarray  # (N, 4) float32 [x1, y1, x2, y2], image pixels
    scores: np.ndarray  # (N,) float32, best first
    points: np.ndarray  # (N, K, 3) float32: x, y in image pixels, confidence 0..1
    names: tuple[str, ...]  # the K keypoint names
    skeleton: tuple[tuple[int, int], ...] = ()  # pairs of keypoint indices to join

    kind: ClassVar[str] = "keypoints"
    schema_version: ClassVar[int] = 1

    def __len__(self) -> int:
        return len(self.scores)

    def summary(self, k: int = 3) -> str:
        if not len(self):
            return "no instances"
        return f"{len(self)} instance(s), {len(self.names)} keypoints each"

    def to_dict(self) -> dict[str, Any]:
        return {
            "instances": [
                {"box": [round(float(v), 2) for v in box], "score": round(float(score), 6),
                 "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(c), 4)] for x, y, c in pts]}
                for box, score, pts in zip(self.boxes, self.scores, self.points)
            ],
            "keypoint_names": list(self.names),
            "skeleton": [[int(i), int(j)] for i, j in self.skeleton],
        }


@dataclass(frozen=True)
class Tracks:
    """Objects followed across the frames of one source: each has an id that stays with it
    while it is in view (and a short while after), and that no other object gets later."""

    ids: np.ndarray  # (N,) int, 1 upwards within a source
    boxes: np.ndarray  # (N, 4) float32 [x1, y1, x2, y2], image pixels (the filtered box)
    scores: np.ndarray  # (N,) float32, of the detection matched in this frame
    class_ids: np.ndarray  # (N,) int
    labels: tuple[str, ...]
    ages: np.ndarray  # (N,) int, frames since the track began
    #: (N, L, 2) float32 past box centres, oldest first, NaN where the track is younger than L
    trails: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2), np.float32), repr=False)

    kind: ClassVar[str] = "tracks"
    schema_version: ClassVar[int] = 1

    def __len__(self) -> int:
        return len(self.ids)

    def summary(self, k: int = 3) -> str:
        if not len(self):
            return "no tracks"
        shown = ", ".join(f"#{int(i)} {lab}" for i, lab in list(zip(self.ids, self.labels))[:k])
        return f"{len(self)} tracked: {shown}" + (" ..." if len(self) > k else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ids": [int(i) for i in self.ids],
            "boxes": [[round(float(v), 2) for v in box] for box in self.boxes],
            "scores": [round(float(s), 6) for s in self.scores],
            "class_ids": [int(i) for i in self.class_ids],
            "labels": list(self.labels),
            "ages": [int(a) for a in self.ages],
        }


@dataclass(frozen=True)
class Caption:
    """Sentences about the whole picture, best first, each with where its words looked.

    ``attention[i]`` is caption ``i``'s attention, one ``(grid_h, grid_w)`` map per word (each
    sums to 1) over the cells of the map the decoder read; ``region`` is the part of the image
    that map covers, ``[x1, y1, x2, y2]`` in image pixels (beyond the image where the network
    input was letterboxed). A word is picked (the app's ``highlight``) by its place in all the
    captions' words, one after another: :meth:`word_at`.
    """

    texts: tuple[str, ...]
    scores: np.ndarray  # (K,) float32: each caption's probability under the model
    words: tuple[tuple[str, ...], ...] = ()
    attention: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)  # K x (words, gh, gw)
    region: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    kind: ClassVar[str] = "caption"
    schema_version: ClassVar[int] = 1

    def word_at(self, index: int) -> tuple[int, int] | None:
        """``(caption, word)`` of the ``index``-th word of all captions, or None past the last."""
        for i, words in enumerate(self.words):
            if 0 <= index < len(words):
                return i, index
            index -= len(words)
        return None

    def word_index(self, caption: int, word: int) -> int:
        """The inverse of :meth:`word_at`."""
        return sum(len(w) for w in self.words[:caption]) + word

    @property
    def text(self) -> str:
        """The best caption ("" when there is none)."""
        return self.texts[0] if self.texts else ""

    def summary(self) -> str:
        return f'"{self.text}" ({float(self.scores[0]):.2f})' if self.texts else "no caption"

    def to_dict(self) -> dict[str, Any]:
        return {"captions": [{"text": t, "score": round(float(s), 6)} for t, s in zip(self.texts, self.scores)]}


@dataclass(frozen=True)
class StyledImage:
    """A new picture made from the frame (style transfer, enhancement): drawn as the base of
    the overlays, written by ``--save``; its JSON holds what it is, not its pixels."""

    image: np.ndarray = field(repr=False, compare=False)  # (H, W, 3) RGB uint8
    style: str = ""  # what made it: a style's name, a model's
    info: Mapping[str, Any] = field(default_factory=dict)  # JSON-safe extras (strength, ...)
    #: the frame it was made from, for a before/after view (not part of to_dict())
    original: np.ndarray | None = field(default=None, repr=False, compare=False)

    kind: ClassVar[str] = "styled_image"
    schema_version: ClassVar[int] = 1

    def base_image(self) -> np.ndarray:
        return self.image

    def summary(self) -> str:
        h, w = self.image.shape[:2]
        return f"{w}x{h} image" + (f" in the style of {self.style}" if self.style else "")

    def to_dict(self) -> dict[str, Any]:
        h, w = self.image.shape[:2]
        return {"width": int(w), "height": int(h), "style": self.style, **dict(self.info)}


@dataclass(frozen=True)
class Explanation:
    """What a network saw: a map over the frame of where a class or a unit looked (occlusion,
    gradients, activations), or a picture made for it (an adversarial copy, a class model, a
    feature inversion, a unit's top patches), with the numbers that go with it.

    ``heatmap`` is (H, W) float32 in the frame's pixels, at least 0, largest where the evidence
    is; ``picture`` is an RGB uint8 image that replaces the frame under the overlays; ``images``
    are further pictures by name that the painter shows beside it (an adversarial example's
    perturbation). ``numbers`` holds JSON-safe figures (scores before and after, epsilon)."""

    method: str  # "occlusion", "gradcam", "fgsm", ...
    target: str  # what is explained: "class 'goldfish' (1)", "c4 channel 17"
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    picture: np.ndarray | None = field(default=None, repr=False, compare=False)
    numbers: Mapping[str, Any] = field(default_factory=dict)
    images: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    kind: ClassVar[str] = "explanation"
    schema_version: ClassVar[int] = 1

    def base_image(self) -> np.ndarray | None:
        return self.picture

    def peak(self) -> tuple[int, int] | None:
        """Where the heat map is largest, ``(x, y)`` in frame pixels."""
        if self.heatmap is None or not self.heatmap.size:
            return None
        y, x = np.unravel_index(int(np.argmax(self.heatmap)), self.heatmap.shape)
        return int(x), int(y)

    def summary(self) -> str:
        text = f"{self.method} of {self.target}"
        peak = self.peak()
        if peak is not None:
            text += f", peak at {peak}"
        if "flipped" in self.numbers:
            text += ", flipped" if self.numbers["flipped"] else ", not flipped"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "target": self.target, "numbers": dict(self.numbers)}
        if self.heatmap is not None:
            h, w = self.heatmap.shape
            out["heatmap"] = {"width": int(w), "height": int(h), "max": round(float(self.heatmap.max()), 6),
                              "peak": list(self.peak() or ())}
        if self.picture is not None:
            h, w = self.picture.shape[:2]
            out["picture"] = {"width": int(w), "height": int(h)}
        if self.images:
            out["images"] = {name: {"width": int(im.shape[1]), "height": int(im.shape[0])}
                             for name, im in self.images.items()}
        return out


@dataclass(frozen=True)
class FrameResult:
    """Everything computed for one image or video frame.

    ``error`` is set (and ``results`` empty) when the input could not be processed; a
    stream yields such a result instead of stopping, so a batch loses nothing else.
    """

    source: str
    frame: int
    width: int
    height: int
    provider: str
    timings_ms: Mapping[str, float]
    results: Mapping[str, Any]
    error: str | None = None
    #: the decoded RGB frame, kept for rendering; not serialised
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the source's frame rate where it has one (a video's), for writers; not serialised
    fps: float | None = field(default=None, compare=False)
    #: the tasks whose overlays :meth:`plot` draws when it is not told (None: all); a pipeline
    #: leaves out a task it ran only for another that draws the same boxes (see ``Pipeline.drawn``)
    shown: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def __getitem__(self, task: str) -> Any:
        return self.results[task]

    def plot(self, tasks: Any = None) -> np.ndarray:
        """The annotated picture (RGB uint8): what ``--save`` writes; ``tasks`` picks layers
        (default: :attr:`shown`)."""
        from .overlays import render

        return render(self, tasks=tasks)

    def save(self, path: Any, *, overwrite: bool = True) -> Any:
        """Write :meth:`plot` to ``path`` (the suffix picks the format); returns the path."""
        from .imageio import write_image

        return write_image(path, self.plot(), overwrite=overwrite)

    def to_json(self) -> str:
        """One line of the ``--json`` schema."""
        import json

        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "frame": self.frame,
            "width": self.width,
            "height": self.height,
            "provider": self.provider,
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
            "results": {task: r.to_dict() for task, r in self.results.items()},
        }
        if self.error is not None:
            out["error"] = self.error
        return out
