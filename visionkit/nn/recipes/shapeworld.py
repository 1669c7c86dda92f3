"""Training from scratch: one ResNet backbone and every registered head, trained together.

    visionkit train shapeworld --out runs/shapeworld --seed 0

(This recipe, with the pooled-``c5`` classify head of its day, made visionkit's bundle until
0.2.0; the bundled heads now train on the frozen ImageNet backbone, :mod:`.frozen`.)

The lectures' transfer-learning picture, with the step DESIGN.md adds where frozen
classification features fall short (box precision, masks). Stage 1 pre-trains the backbone
on classification (the ``visionkit train classify`` recipe). Stage 2 trains it *jointly* with
every head on every head's loss, so one backbone serves all heads, and every head (classify
included) is exported against that backbone's hash. Each stage-2 batch mixes multi-object
scenes, figure scenes and single-shape pictures; every image contributes to every loss it has
labels for.

The heads are whatever plugins register (:mod:`visionkit.nn.heads`): each brings its module,
its loss, its export and its measurement, so a new head needs no change here. The built-ins
are classify (convolutions on ``c4`` and ``c5``; stage 1's pooled-``c5`` probe does not carry
over), detect (two-stage R-CNN), segment (FCN) and pose (DeepPose).

The input is letterboxed to 256 x 256 (scenes are square; a 4:3 video frame keeps its whole
picture, which detection and segmentation need). Recipes sit above the plugins (like the CLI);
the plugins never import them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from visionkit.cards import InputSpec
from visionkit.data.scene_arrays import SceneArrays, make_scene_arrays
from visionkit.errors import ModelError, VisionkitError
from visionkit.nn.backbones import ARCHS
from visionkit.nn.checkpoints import load_checkpoint
from visionkit.nn.heads import Batch, SharedHead, registered_heads
from visionkit.nn.train_state import saved_state
from visionkit.nn.trainer import TrainConfig, fit

SIZE = 256
INPUT = InputSpec(
    size=(SIZE, SIZE),
    layout="NHWC",
    dtype="uint8",
    channel_order="rgb",
    scale=1.0,
    letterbox=True,
    letterbox_align="center",
    pad_value=114.0,
)
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


@dataclass
class Recipe:
    """Everything that decides the models."""

    seed: int = 0
    arch: str = "resnet_mini"
    n_detect: int = 10500
    n_pose: int = 3750
    n_classify: int = 3750
    n_val: int = 96  # per kind
    epochs: int = 8
    batch_size: int = 16
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    #: start from the classify recipe's backbone and head (``visionkit train classify``'s
    #: defaults: 24,000 pictures at 128 px): the lectures' pre-train-then-transfer, which the
    #: scene losses alone, from scratch, did not replace (3 epochs: top-1 50 %, mIoU 0.13)
    pretrain: bool = True
    pretrain_options: dict = field(default_factory=dict)  # overrides of the classify recipe (tests)
    #: a ``train shapeworld`` checkpoint whose weights start stage 2 (stage 1 is then skipped)
    init: str | None = None
    warmup_epochs: float = 0.3
    threads: int | None = None
    workers: int = 2  # processes generating the data

    def train_parts(self) -> list[tuple[str, int, int]]:
        return [
            ("detect", self.n_detect, self.seed),
            ("pose", self.n_pose, self.seed),
            ("classify", self.n_classify, self.seed),
        ]

    def val_parts(self) -> list[tuple[str, int, int]]:
        s = self.seed + 5000
        return [("detect", self.n_val, s), ("pose", self.n_val, s), ("classify", self.n_val, s)]


class SharedModel(nn.Module):
    """The backbone and every head, as trained; each part is exported on its own.

    Each head's module is the attribute of its name (``model.detect``), set in model order
    after the backbone, so checkpoints hold ``backbone.*``, ``classify.*``, ... and the
    parameters (which a saved optimizer state refers to by position) keep their order.
    ``heads`` picks registered heads by name (a checkpoint's, see :meth:`heads_in`); the
    default is every registered head.
    """

    def __init__(self, arch: str = "resnet_mini", heads: Sequence[str] | None = None):
        super().__init__()
        self.arch = arch
        self.backbone = ARCHS[arch](num_classes=0)
        channels = dict(self.backbone.feature_channels)
        self.heads: dict[str, SharedHead] = {}
        for head in registered_heads(heads):
            if not head.name.isidentifier() or hasattr(self, head.name):
                raise ValueError(f"head name {head.name!r} cannot be an attribute of the shared model")
            setattr(self, head.name, head.build(channels))
            self.heads[head.name] = head

    def parts(self) -> list[tuple[SharedHead, nn.Module]]:
        """Every head with its module, in model order."""
        return [(head, getattr(self, name)) for name, head in self.heads.items()]

    @staticmethod
    def heads_in(state_dict: Mapping[str, Tensor]) -> list[str]:
        """The heads a state dict of this model holds weights of."""
        return list(dict.fromkeys(k.split(".", 1)[0] for k in state_dict if not k.startswith("backbone.")))


def normalise(images: np.ndarray) -> Tensor:
    """uint8 NHWC -> float NCHW as the exported backbone's PixelInput computes it."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD).view(1, 3, 1, 1) * 255
    return (x - mean) / std


class SceneBatches:
    """Index batches over a :class:`SceneArrays`, reshuffled every epoch (trainer protocol)."""

    def __init__(self, data: SceneArrays, batch_size: int, shuffle: bool):
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle

    def num_batches(self) -> int:
        return len(self.data) // self.batch_size if self.shuffle else -(-len(self.data) // self.batch_size)

    def batches(self, epoch: int, generator: torch.Generator):
        n = len(self.data)
        order = torch.randperm(n, generator=generator).numpy() if self.shuffle else np.arange(n)
        for i in range(self.num_batches()):
            yield order[i * self.batch_size : (i + 1) * self.batch_size]


def make_step(data_of: Callable[[bool], SceneArrays]):
    """The trainer's step: every head's loss terms on the images it has labels for, summed."""

    def step(model: SharedModel, idx: np.ndarray, generator: torch.Generator, train: bool):
        # the sampling of anchors, regions and jitter draws from the trainer's generator, so a
        # resumed run continues exactly where it stopped
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        data = data_of(train)
        feats = model.backbone.forward_features(normalise(data.images[idx]))
        batch = Batch(data, idx, INPUT.size, rng, train)
        n = len(idx)
        terms: list[Tensor] = []
        stats: dict[str, float] = {"count": n}
        for head, module in model.parts():
            part = head.loss(module, feats, batch)
            logged = {k: float(t.detach()) * n for k, t in part.terms.items()} | part.stats
            taken = logged.keys() & stats.keys()
            if taken:
                raise ValueError(f"head {head.name!r} logs {', '.join(sorted(taken))}, as another head does")
            stats |= logged
            terms += part.terms.values()
        return sum(terms[1:], terms[0]), stats

    return step


def pretrain(
    model: SharedModel, recipe: Recipe, workdir: Path, log: Callable[[str], None], progress: bool,
    resume: bool = False,
) -> dict:
    """Stage 1: the classify recipe (backbone + classify head, 128 px pictures); its weights
    initialise the shared model's backbone and classify head. Returns its metrics. With
    ``resume``, a stage 1 stopped part-way continues from its saved state."""
    from visionkit.plugins.classify.train import train_classify

    ckpt = reusable_pretrain(recipe, workdir)
    if ckpt is not None:
        log(f"stage 1: reusing {workdir / PRETRAIN_FILE} (same seed and recipe; delete it to retrain)")
    else:
        log(f"stage 1: classification pre-training ({workdir})")
        result = train_classify(
            workdir,
            seed=recipe.seed,
            threads=recipe.threads,
            arch=recipe.arch,
            progress=progress,
            command="visionkit train shapeworld (stage 1)",
            resume=resume,
            **recipe.pretrain_options,
        )
        ckpt = load_checkpoint(result["checkpoint"])
    # only the backbone carries over: stage 1 trains the pooled-c5 probe, the shared classify
    # head is another module (convolutions on c4 and c5) and starts afresh
    prefix = "backbone."
    model.backbone.load_state_dict({k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)})
    log(f"stage 1: top-1 {100 * ckpt['metrics']['top1']:.2f}% at 128 px; stage 2: joint training")
    return dict(ckpt["metrics"])


PRETRAIN_FILE = "shapeworld_classify.pt"


def reusable_pretrain(recipe: Recipe, workdir: Path) -> dict | None:
    """A stage-1 checkpoint already in ``workdir`` that this recipe would train again (same
    seed, architecture, data size, and every setting the classify recipe records, augmentation
    included), so a second run skips ten minutes of identical work; None when there is none or
    it differs."""
    from visionkit.plugins.classify.train import AUGMENT, DEFAULTS

    path = workdir / PRETRAIN_FILE
    if recipe.pretrain_options or not path.is_file():
        return None
    try:
        ckpt = load_checkpoint(path)
        made = ckpt["provenance"]
        same = (
            made["seed"] == recipe.seed
            and ckpt["arch"] == recipe.arch
            and made["data"]["train"]["n"] == DEFAULTS["n_train"]
            and all(v == DEFAULTS[k] for k, v in made["recipe"].items() if k in DEFAULTS)
            and made["recipe"].get("augment", repr(AUGMENT)) == repr(AUGMENT)
        )
    except (VisionkitError, KeyError, TypeError, AttributeError):
        return None  # unreadable, not plain data, or from another version: train it again
    return ckpt if same else None


def train(
    recipe: Recipe,
    log: Callable[[str], None] = print,
    progress: bool = True,
    workdir: str | Path = "runs/shapeworld/pretrain",
    state_path: str | Path | None = None,
    resume: bool = False,
) -> tuple[SharedModel, dict]:
    """Generate the data, train the shared model; returns it and the training history.

    ``state_path`` keeps stage 2's training state (every epoch and every 10 minutes); with
    ``resume`` a run stopped part-way continues from it (stage 1 is not run again: the state
    holds its outcome). A state of an unfinished run is never overwritten silently.
    """
    torch.manual_seed(recipe.seed)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    state = _existing_state(recipe, state_path, resume)
    # a run continues with the heads it started with, whatever plugins came or went since
    model = SharedModel(recipe.arch, SharedModel.heads_in(state["model"]) if state is not None else None)
    if not model.heads:
        raise ValueError("no plugin registers a head to train")
    if resume and state is None:
        log(f"no saved state at {state_path}: starting from the beginning")
    if state is not None:
        stage1 = dict(state["extra"]["stage1"])
        log(f"stage 1: done before (top-1 {100 * stage1.get('top1', float('nan')):.2f}%), "
            "its weights are in the saved state")
    elif recipe.init:
        init = load_checkpoint(recipe.init)
        try:
            model.load_state_dict(init["state_dict"])
        except (KeyError, TypeError, AttributeError, RuntimeError):  # no weights, or another model's
            raise ModelError(f"{recipe.init}: not a 'visionkit train shapeworld' checkpoint of a "
                             f"{recipe.arch} model with these heads") from None
        log(f"stage 2 starts from {recipe.init}")
        stage1 = dict(init.get("pretrain", {}))
    else:
        stage1 = pretrain(model, recipe, Path(workdir), log, progress, resume) if recipe.pretrain else {}
    t0 = time.monotonic()
    train_set = make_scene_arrays(recipe.train_parts(), INPUT, workers=recipe.workers)
    val_set = make_scene_arrays(recipe.val_parts(), INPUT, workers=recipe.workers)
    log(
        f"data: {len(train_set)} training and {len(val_set)} validation images "
        f"in {time.monotonic() - t0:.0f}s"
    )
    cfg = TrainConfig(
        epochs=recipe.epochs,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        warmup_epochs=recipe.warmup_epochs,
        optimizer="adamw",
        bf16="auto",
        grad_clip=10.0,
        monitor="loss",
        mode="min",
        seed=recipe.seed,
        threads=recipe.threads,
        progress=progress,
    )
    step = make_step(lambda is_train: train_set if is_train else val_set)
    hist = fit(
        model,
        SceneBatches(train_set, recipe.batch_size, True),
        SceneBatches(val_set, recipe.batch_size, False),
        step,
        cfg,
        log=log,
        state_path=state_path,
        resume=state is not None,
        fingerprint={"recipe": _decisive(recipe)},
        extra={"stage1": stage1},
    )
    return model, {"recipe": asdict(recipe), "history": hist.to_dict(), "pretrain": stage1}


def _decisive(recipe: Recipe) -> dict:
    """The recipe's fields that decide the weights (threads and workers only decide speed)."""
    return {k: v for k, v in asdict(recipe).items() if k not in ("threads", "workers")}


def _existing_state(recipe: Recipe, path: str | Path | None, resume: bool) -> dict | None:
    """The saved stage-2 state to continue (``resume``), None for a fresh start; refuses to
    start afresh over an unfinished run, and to continue another recipe's run."""
    return saved_state(path, resume, {"recipe": _decisive(recipe)})
