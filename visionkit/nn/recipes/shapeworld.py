"""The bundled models' recipe: one backbone and every built-in head, trained together.

    visionkit train shapeworld --out assets/models --seed 0

The lectures' transfer-learning picture, with the step DESIGN.md adds where frozen
classification features fall short (box precision, masks). Stage 1 pre-trains the backbone
on classification (the ``visionkit train classify`` recipe). Stage 2 trains it *jointly* with
every head on every task's loss, so one backbone serves all heads, and every head (classify
included) is exported against that backbone's hash. Each stage-2 batch mixes multi-object
scenes, figure scenes and single-shape pictures; every image contributes to every loss it has
labels for:

* segment: cross entropy of the FCN head's upsampled logits against the label map;
* detect: the region proposal and box-head losses (``plugins/detect/train.py``);
* pose: the DeepPose-style head's losses on the figures (``plugins/pose/train.py``);
* classify: cross entropy of the pooled-``c5`` head, on the single-shape pictures only.

The input is letterboxed to 256 x 256 (scenes are square; a 4:3 video frame keeps its whole
picture, which detection and segmentation need). Recipes compose the built-in plugins' torch
halves, so they (like the CLI) sit above the plugins; the plugins never import them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from visionkit.cards import InputSpec
from visionkit.data.figures import JOINTS
from visionkit.data.scene_arrays import SceneArrays, make_scene_arrays
from visionkit.data.scenes import CATEGORIES
from visionkit.data.shapeworld import CLASSES
from visionkit.nn.backbones import ARCHS
from visionkit.nn.train_state import saved_state
from visionkit.nn.trainer import TrainConfig, fit
from visionkit.plugins.classify.head import ClassifyHead
from visionkit.plugins.detect.train import DetectHeads, detect_loss
from visionkit.plugins.pose.head import PoseHead
from visionkit.plugins.pose.train import figure_targets, pose_loss
from visionkit.plugins.segment.head import FCNHead

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
    """Everything that decides the bundled models; the defaults are what ships."""

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
    """The backbone and every head, as trained; each part is exported on its own."""

    def __init__(self, arch: str = "resnet_mini"):
        super().__init__()
        self.backbone = ARCHS[arch](num_classes=0)
        ch = dict(self.backbone.feature_channels)
        self.classify = ClassifyHead(ch["c5"], len(CLASSES))
        self.detect = DetectHeads(ch, len(CATEGORIES))
        self.segment = FCNHead(ch, len(CATEGORIES))
        self.pose = PoseHead({k: ch[k] for k in ("c3", "c4", "c5")}, len(JOINTS))


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
    """The trainer's step: every loss an image has labels for, summed."""

    def step(model: SharedModel, idx: np.ndarray, generator: torch.Generator, train: bool):
        # the sampling of anchors, regions and jitter draws from the trainer's generator, so a
        # resumed run continues exactly where it stopped
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        data = data_of(train)
        x = normalise(data.images[idx])
        feats = model.backbone.forward_features(x)
        c = [feats[k] for k in ("c2", "c3", "c4", "c5")]
        # every other pixel: the exported logits exactly there, a quarter of the full cost
        sem = torch.from_numpy(data.semantic[idx, ::2, ::2].astype(np.int64))
        seg = F.cross_entropy(model.segment.sampled(*c, step=2).float(), sem)
        boxes = [data.boxes[i] for i in idx]
        classes = [data.classes[i] for i in idx]
        regions = np.tile(np.array([0, 0, SIZE, SIZE], np.float32), (len(idx), 1))
        det = detect_loss(model.detect, feats, boxes, classes, regions, rng)
        labels = torch.from_numpy(data.image_labels[idx])
        has = labels >= 0
        cls = torch.zeros(())
        correct = 0
        if has.any():
            logits = model.classify(feats["c5"][has]).float()
            cls = F.cross_entropy(logits, labels[has])
            correct = int((logits.argmax(1) == labels[has]).sum())
        targets = figure_targets(boxes, classes, [data.keypoints[i] for i in idx], rng if train else None)
        pose, pstats = pose_loss(model.pose, feats, targets) if targets is not None else (torch.zeros(()), {})
        loss = seg + det.total + cls + pose
        n = len(idx)
        f = lambda t: float(t.detach()) * n  # noqa: E731
        stats = {
            "count": n,
            "seg": f(seg),
            "rpn": f(det.rpn_cls + det.rpn_box),
            "boxes": f(det.cls + det.box),
            "cls": f(cls),
            "pose": f(pose),
            "roi_correct": det.correct,
            "roi_count": det.count,
            "cls_correct": correct,
            "cls_count": int(has.sum()),
            **pstats,
        }
        return loss, stats

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
        ckpt = torch.load(result["checkpoint"], map_location="cpu", weights_only=False)
    state = ckpt["state_dict"]
    for prefix, module in (("backbone.", model.backbone), ("head.", model.classify)):
        module.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
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
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        made = ckpt["provenance"]
        same = (
            made["seed"] == recipe.seed
            and ckpt["arch"] == recipe.arch
            and made["data"]["train"]["n"] == DEFAULTS["n_train"]
            and all(v == DEFAULTS[k] for k, v in made["recipe"].items() if k in DEFAULTS)
            and made["recipe"].get("augment", repr(AUGMENT)) == repr(AUGMENT)
        )
    except Exception:  # unreadable or from another version: train it again
        return None
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
    model = SharedModel(recipe.arch)
    state = _existing_state(recipe, state_path, resume)
    if resume and state is None:
        log(f"no saved state at {state_path}: starting from the beginning")
    if state is not None:
        stage1 = dict(state["extra"]["stage1"])
        log(f"stage 1: done before (top-1 {100 * stage1.get('top1', float('nan')):.2f}%), "
            "its weights are in the saved state")
    elif recipe.init:
        init = torch.load(recipe.init, map_location="cpu", weights_only=False)
        model.load_state_dict(init["state_dict"])
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


def export_all(model: SharedModel, out_dir: str | Path, **card_extras) -> dict[str, Path]:
    """Write the backbone and every head; see :mod:`visionkit.nn.recipes.export`."""
    from .export import export_shared

    return export_shared(model, Path(out_dir), **card_extras)
