"""The torch half of a head on the shared backbone: what the joint training recipe asks of it.

A plugin adds a head to ``visionkit train shapeworld`` (and to ``visionkit export`` of its
checkpoints) by registering a :class:`~visionkit.registry.HeadSpec` whose factory names a
:class:`SharedHead` subclass::

    @hookimpl
    def visionkit_register_heads(registry):
        registry.add(HeadSpec(name="count", summary="objects per picture",
                              factory="mypkg.train:CountHead", task="count"))

The recipe then, for every registered head, in :attr:`SharedHead.order`:

1. **builds** its module on the backbone's channels (``build``) and sets it on the shared model
   under the head's name, so checkpoints hold ``<name>.<parameter>`` keys; the ShapeWorld
   recipes build it for ShapeWorld's classes, ``visionkit train classify|detect|segment|pose
   --data`` for the names of the user's set (``build(channels, labels)``, and the same
   ``labels`` to ``export``);
2. **trains** it: every step computes the backbone's feature maps once and asks each head for
   its loss on that :class:`Batch` (``loss``); the terms of all heads are summed;
3. **exports** it against the exported backbone's hash (``export``, usually through
   :meth:`ExportContext.export`), one ONNX file per role, and checks every file against
   torch on a real scene (``verify``);
4. **measures** the exported files on held-out data the way ``visionkit eval`` does
   (``measure``); the numbers go into the head's cards.

A head's module must be deterministic given the step's random draws: the only randomness a
loss may use is ``batch.rng`` (numpy) and torch's global generator (dropout), which a resumed
run restores, so a run stopped part-way ends with the weights of one that never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
from torch import Tensor, nn

from ..cards import ModelCard
from ..errors import PluginError
from .export import export_head, verify_onnx

if TYPE_CHECKING:
    from ..data.scene_arrays import SceneArrays

__all__ = ["Batch", "ExportContext", "HeadLoss", "SharedHead", "measure_on_coco", "registered_heads"]


@dataclass(frozen=True)
class Batch:
    """One training (or validation) batch, as every head's loss reads it.

    Annotations are in input pixels of the letterboxed picture the backbone saw.
    """

    data: "SceneArrays"  # the whole set; ``index`` picks the batch
    index: np.ndarray
    size: tuple[int, int]  # the input's (height, width)
    #: the step's numpy draws (anchors, regions, jitter); heads draw in turn, in model order,
    #: from this one generator, seeded from the trainer's, so a resumed run draws the same
    rng: np.random.Generator
    train: bool

    def __len__(self) -> int:
        return len(self.index)

    @property
    def boxes(self) -> list[np.ndarray]:
        """Per image, its objects' boxes (k, 4) xyxy."""
        return [self.data.boxes[i] for i in self.index]

    @property
    def classes(self) -> list[np.ndarray]:
        """Per image, its objects' class ids (k,) into ``visionkit.data.scenes.CATEGORIES``."""
        return [self.data.classes[i] for i in self.index]

    @property
    def keypoints(self) -> list[np.ndarray]:
        """Per image, its objects' joints (k, K, 3): x, y, COCO visibility (zeros for shapes)."""
        return [self.data.keypoints[i] for i in self.index]

    @property
    def image_labels(self) -> np.ndarray:
        """Per image, the picture's class id, -1 for scenes."""
        return self.data.image_labels[self.index]


@dataclass
class HeadLoss:
    """A head's part of one step: loss terms (summed into the step's loss, each logged as its
    mean per image, e.g. ``train_seg``) and further sums for the log (the trainer divides them
    by the batch size; ``x_correct`` over ``x_count`` gives an accuracy)."""

    terms: dict[str, Tensor]
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportContext:
    """Where and against what a head is exported; the same for every head of one export."""

    out: Path
    name: str  # files are ``<name>_<role>.onnx``
    backbone: ModelCard  # the exported backbone's card (name and hash)
    #: an example shape of each backbone feature map: one picture at the input size
    feature_shapes: Mapping[str, tuple[int, ...]]
    input_size: tuple[int, int]  # (height, width)
    metrics: Mapping[str, Any]  # this head's measured numbers, recorded in each of its cards
    provenance: Mapping[str, Any]

    def path(self, role: str) -> Path:
        return self.out / f"{self.name}_{role}.onnx"

    def export(
        self,
        module: nn.Module,
        role: str,
        *,
        features: Sequence[str] | Mapping[str, Sequence[int]],
        parts: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        **card: Any,
    ) -> Path:
        """Write ``module`` as the file of ``role`` with this context's backbone, metrics and
        provenance; ``features`` are backbone maps by name, or input shapes by name for a graph
        that reads something else (a box head reads the proposal stage's ``p2``). ``card``
        goes to :func:`visionkit.nn.export.export_head` (task, labels, output, options, ...);
        ``parts`` (role -> file name beside the model) and ``config`` (fixed configuration)
        go into the card as they are."""
        shapes = features if isinstance(features, Mapping) else {k: self.feature_shapes[k] for k in features}
        path = self.path(role)
        export_head(
            module, path, feature_shapes=shapes, backbone_card=self.backbone, name=f"{self.name}_{role}",
            metrics=self.metrics, provenance=self.provenance, parts=parts, config=config, **card,
        )
        return path


class SharedHead:
    """The torch half of a head on the shared backbone (see the module's docstring).

    Subclasses set the class attributes and implement :meth:`build`, :meth:`loss` and
    :meth:`export`; :meth:`verify` and :meth:`measure` have defaults for the simple case (one
    file whose inputs are :attr:`features`, no held-out measurement).
    """

    #: the head's attribute in the shared model (checkpoint keys ``<name>.*``) and the suffix
    #: of its main file; equal to its HeadSpec's name
    name: ClassVar[str]
    task: ClassVar[str]  # the run-time task whose model the main file is
    features: ClassVar[tuple[str, ...]]  # the backbone maps it reads
    #: the files it writes (``<prefix>_<role>.onnx``), its main file first; a subclass that
    #: sets ``name`` and not ``roles`` writes one file, ``name``
    roles: ClassVar[tuple[str, ...]] = ()
    #: where it sits in the shared model: heads are built, their parameters ordered (which a
    #: saved optimizer state depends on) and their losses computed by (order, name). A
    #: released head keeps its order; the built-ins take 10..40
    order: ClassVar[int] = 100
    #: the metrics a summary shows (keys of what :meth:`measure` returns)
    headline: ClassVar[tuple[str, ...]] = ()
    #: the held-out set :meth:`measure` uses by default: (seed, pictures); the seed is used
    #: by nothing else
    held_out: ClassVar[tuple[int, int]] = (10000, 300)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "roles" not in cls.__dict__:
            cls.roles = (cls.name,)

    def build(self, channels: Mapping[str, int], labels: Sequence[str] | None = None) -> nn.Module:
        """The head's module for a backbone whose feature maps have ``channels``, telling
        ``labels`` apart (the names its card will list; a segmenter adds ``background``
        itself). None: the ShapeWorld names the bundled models have."""
        raise NotImplementedError

    def loss(self, module: nn.Module, features: Mapping[str, Tensor], batch: Batch) -> HeadLoss:
        """The head's loss terms on one batch; ``features`` are the backbone's maps of it."""
        raise NotImplementedError

    def export(
        self, module: nn.Module, ctx: ExportContext, labels: Sequence[str] | None = None
    ) -> dict[str, Path]:
        """Write every file of :attr:`roles`, its cards naming the ``labels`` the module was
        built for (None: as :meth:`build`); returns role -> path."""
        raise NotImplementedError

    def verify(
        self, module: nn.Module, paths: Mapping[str, Path], features: Mapping[str, np.ndarray]
    ) -> float:
        """Run the exported files in onnxruntime on a real scene's ``features`` and compare
        with torch; raise on a mismatch, return the worst relative error."""
        return verify_onnx(paths[self.name], module, {k: features[k] for k in self.features})

    def measure(
        self, models: Mapping[str, Path], held_out: tuple[int, int], log: Callable[[str], None]
    ) -> dict[str, Any]:
        """Numbers of the exported files on a freshly generated held-out set ``(seed, n)``,
        measured as a user would (``visionkit.evaluation``); ``models`` maps every exported
        role (``backbone`` and every head's) to its file."""
        return {}


def registered_heads(names: Sequence[str] | None = None) -> list[SharedHead]:
    """The heads the plugins register (or those of ``names``), in model order."""
    from ..plugin_manager import get_plugins
    from ..registry import load_object

    registry = get_plugins().heads
    if names is not None:
        missing = [n for n in names if n not in registry]
        if missing:
            known = ", ".join(s.name for s in registry) or "none"
            raise PluginError(f"no plugin provides head {', '.join(map(repr, missing))} (installed: {known})")
    heads = []
    for spec in registry:
        if names is not None and spec.name not in names:
            continue
        cls = load_object(spec.factory)
        if not (isinstance(cls, type) and issubclass(cls, SharedHead)):
            raise PluginError(
                f"head {spec.name!r} of plugin {spec.plugin!r}: {spec.factory} is not a SharedHead"
            )
        if getattr(cls, "name", None) != spec.name:
            raise PluginError(f"head {spec.name!r} of plugin {spec.plugin!r}: {spec.factory} is named "
                              f"{getattr(cls, 'name', None)!r}")
        heads.append(cls())
    return sorted(heads, key=lambda h: (h.order, h.name))


def measure_on_coco(
    task: str, models: Mapping[str, Path], held_out: tuple[int, int], log: Callable[[str], None]
) -> dict[str, Any]:
    """A scene task's numbers as ``visionkit eval TASK --data DIR`` gives them, on a set
    written as ``visionkit data shapeworld TASK --seed SEED`` writes it. ``models`` maps the
    tasks the pipeline runs (the task and any it needs) to their files, and ``backbone``."""
    import tempfile

    from ..data.coco import load_coco, write_coco
    from ..coco_evaluator import evaluate_pipeline
    from ..pipeline import Pipeline

    seed, n = held_out
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / task
        write_coco(folder, task, n, seed)
        data = load_coco(folder / "annotations.json")
        heads = {k: v for k, v in models.items() if k != "backbone"}
        pipe = Pipeline([task], models=heads, backbone=models["backbone"])
        metrics, failures = evaluate_pipeline(data, pipe, task, progress=False)
    if failures:
        raise RuntimeError(f"{task}: {len(failures)} held-out images failed: {failures[0]}")
    # the headline numbers (what a card records), not the tables
    numbers = {
        k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    log(f"{task}: " + ", ".join(f"{k} {v:.4f}" for k, v in numbers.items()))
    return {**numbers, "test_n": n, "test_seed": seed}
