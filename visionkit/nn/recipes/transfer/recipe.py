"""Train one task's head on a user's set over a frozen backbone, export it, measure it.

The steps of :mod:`visionkit.nn.recipes.frozen` (cached features, the trainer's resumable
loop, export against the backbone's hash beside a copy of it, cards that record the numbers),
on pictures the user brings (:mod:`.sets`): the head is built for the set's own names, a
seeded share of the pictures is held out to stop training early and to measure the exported
files as ``visionkit eval`` does.

Files in OUT (NAME defaults to ``custom``): the backbone as ``<its name>.onnx``, the head's
``NAME_<role>.onnx`` (pose also writes the detector it runs on, trained on the same set:
``NAME_detect.onnx`` and ``NAME_detect_boxes.onnx``), ``NAME_<task>.pt`` (the weights and how
they were made) and, while a run goes on, ``NAME_<task>.state.pt``, from which ``resume``
continues it exactly.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from visionkit.bundled import models_dir
from visionkit.errors import ModelError, PluginError
from visionkit.nn.feature_cache import FeatureCache, picture_cache, read_backbone
from visionkit.nn.heads import SharedHead, registered_heads
from visionkit.nn.recipes.frozen import CachedBatches, export_heads, make_step, record
from visionkit.nn.train_state import saved_state
from visionkit.nn.trainer import TrainConfig, fit

from .sets import CocoSet, FolderSet, read_set, split

DEFAULT_BACKBONE = models_dir() / "efficientnet_lite0_backbone.onnx"
#: the heads each task trains: pose runs on a detector's boxes, so its set trains one too
HEADS = {"classify": ("classify",), "detect": ("detect",), "segment": ("segment",),
         "pose": ("detect", "pose")}
#: learning rate and weight decay of each optimiser when not given
OPTIMIZERS = {"adamw": (1e-3, 0.05), "sgd": (0.01, 5e-4)}


@dataclass
class TransferRecipe:
    """Everything that decides the head's weights, given the backbone and the set."""

    task: str
    seed: int = 0
    val_split: float = 0.2  # the share of pictures held out, drawn with ``seed``
    #: versions of each picture in the cache: 1 as it is, 2 also mirrored (see feature_cache)
    copies: int = 2
    epochs: int = 30
    batch_size: int = 16
    optimizer: str = "adamw"  # "adamw" | "sgd" (momentum 0.9, Nesterov)
    lr: float | None = None  # None: the optimiser's (OPTIMIZERS)
    weight_decay: float | None = None
    warmup_epochs: float = 1.0
    patience: int | None = 5  # epochs without a lower validation loss before stopping
    bf16: bool | str = "auto"
    threads: int | None = None

    def decisive(self) -> dict[str, Any]:
        """The fields that decide the weights, defaults resolved (threads only decide speed)."""
        lr, wd = OPTIMIZERS[self.optimizer]
        out = {k: v for k, v in asdict(self).items() if k != "threads"}
        return out | {"lr": self.lr or lr,
                      "weight_decay": wd if self.weight_decay is None else self.weight_decay}


class ForLabels:
    """A registered head bound to the names of the set it is built for: its export names them
    (everything else is the head's own)."""

    def __init__(self, head: SharedHead, labels: Sequence[str]):
        if "labels" not in inspect.signature(head.build).parameters:
            raise PluginError(f"head {head.name!r} cannot be trained on a set of one's own: its build() "
                              "takes no labels")
        self.head, self.labels = head, tuple(labels)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.head, name)

    def export(self, module: nn.Module, ctx) -> dict[str, Path]:
        return self.head.export(module, ctx, self.labels)


class TransferHeads(nn.Module):
    """The task's heads under their names (checkpoint keys ``<head>.<parameter>``), in model
    order, each built for its names."""

    def __init__(self, channels: Mapping[str, int], heads: Sequence[ForLabels]):
        super().__init__()
        self.heads = {h.name: h for h in heads}
        for h in heads:
            setattr(self, h.name, h.head.build(channels, h.labels))

    def parts(self) -> list[tuple[ForLabels, nn.Module]]:
        return [(head, getattr(self, name)) for name, head in self.heads.items()]


class SplitBatches(CachedBatches):
    """:class:`CachedBatches` over some of a cache's pictures (one side of the split)."""

    def __init__(self, indices: np.ndarray, copies: int, batch_size: int, shuffle: bool):
        super().__init__(len(indices), copies, batch_size, shuffle)
        self.indices = np.asarray(indices)

    def batches(self, epoch: int, generator: torch.Generator):
        for order, copy in super().batches(epoch, generator):
            yield self.indices[order], copy


def bound_heads(pictures: FolderSet | CocoSet) -> list[ForLabels]:
    """The registered heads of the set's task, each bound to the set's names for it."""
    heads = []
    for head in registered_heads(HEADS[pictures.task]):
        if head.name == "pose":
            head.figure, head.skeleton = pictures.figure, pictures.skeleton
            heads.append(ForLabels(head, pictures.joints))
        else:
            heads.append(ForLabels(head, pictures.labels))
    return heads


def train(
    recipe: TransferRecipe, pictures: FolderSet | CocoSet, backbone: str | Path = DEFAULT_BACKBONE, *,
    cache_root: str | Path, limit_gb: float = 8.0, state_path: str | Path | None = None, resume: bool = False,
    log: Callable[[str], None] = print, progress: bool = True,
) -> tuple[TransferHeads, dict, FeatureCache, np.ndarray]:
    """Fill (or reuse) the set's feature cache and train the heads; returns them, the history,
    the cache and the validation pictures' indices. Every refusal comes before any file is
    written; a state of an unfinished run at ``state_path`` is never overwritten silently."""
    card = read_backbone(backbone)
    train_idx, val_idx = split(len(pictures), recipe.val_split, recipe.seed, str(pictures.root))
    heads = bound_heads(pictures)
    fingerprint = {"recipe": recipe.decisive(), "backbone": card.hash, "pictures": pictures.fingerprint()}
    state = saved_state(state_path, resume, fingerprint)
    if resume and state is None:
        log(f"no saved state at {state_path}: starting from the beginning")
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    maps = [f for f in card.features if any(f in h.features for h in heads)]
    cache = picture_cache(backbone, pictures, cache_root, copies=recipe.copies, maps=maps, limit_gb=limit_gb,
                          progress=progress, log=log)
    channels = {k: s[1] for k, s in cache.feature_shapes.items()}
    stated = dict(card.options.get("channels") or channels)
    if any(stated.get(k) != c for k, c in channels.items()):
        raise ModelError(f"{Path(backbone).name}: its card gives channels {stated}, its maps have {channels}")
    torch.manual_seed(recipe.seed)
    model = TransferHeads(stated, heads)
    decisive = recipe.decisive()
    cfg = TrainConfig(
        epochs=recipe.epochs, lr=decisive["lr"], weight_decay=decisive["weight_decay"],
        optimizer=recipe.optimizer, warmup_epochs=recipe.warmup_epochs, schedule="cosine", grad_clip=10.0,
        monitor="loss", mode="min", patience=recipe.patience, bf16=recipe.bf16, seed=recipe.seed,
        threads=recipe.threads, progress=progress,
    )
    batch = min(recipe.batch_size, len(train_idx))  # a set smaller than a batch still has one step
    hist = fit(
        model, SplitBatches(train_idx, cache.copies, batch, True), SplitBatches(val_idx, 1, batch, False),
        make_step(lambda is_train: cache), cfg, log=log, state_path=state_path, resume=state is not None,
        fingerprint=fingerprint,
    )
    info = {"recipe": decisive, "history": hist.to_dict(), "cache": cache.folder.name,
            "split": {"train": len(train_idx), "val": len(val_idx), "seed": recipe.seed}}
    return model, info, cache, val_idx


def measure(pictures: FolderSet | CocoSet, val_idx: np.ndarray, paths: Mapping[str, Path],
            heads: Sequence[ForLabels], log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """Each head's numbers on the validation pictures, from its task's evaluator (as
    ``visionkit eval`` gives them): the headline scalars a card records."""
    from visionkit.coco_evaluator import evaluate_pipeline
    from visionkit.pipeline import Pipeline

    metrics = {}
    models = {h.task: paths[h.name] for h in heads}
    with pictures.validation(val_idx) as data:
        for head in heads:
            needed = {t: p for t, p in models.items() if t in (head.task, "detect")}
            pipe = Pipeline([head.task], models=needed, backbone=paths["backbone"])
            report, failures = evaluate_pipeline(data, pipe, head.task, progress=False)
            if failures:
                raise RuntimeError(f"{head.task}: {len(failures)} validation pictures failed: "
                                   f"{failures[0][1]}")
            numbers = {k: float(v) for k, v in report.items() if isinstance(v, (int, float))
                       and not isinstance(v, bool) and math.isfinite(v)}
            log(f"{head.task}: " + ", ".join(f"{k} {v:.4f}" for k, v in numbers.items() if k != "images"))
            metrics[head.name] = numbers
    return metrics


def train_and_export(
    out: str | Path, recipe: TransferRecipe, data: str | Path, backbone: str | Path = DEFAULT_BACKBONE, *,
    cache_root: str | Path, limit_gb: float = 8.0, name: str = "custom", command: str | None = None,
    resume: bool = False, log: Callable[[str], None] = print, progress: bool = True,
) -> dict[str, Any]:
    """The whole recipe on the set ``data``; returns paths, metrics, labels, the backbone's
    hash and timings."""
    from visionkit.nn.checkpoints import save_checkpoint
    from visionkit.nn.export import provenance, read_card

    t0 = time.monotonic()
    pictures = read_set(recipe.task, data)  # one line for a set the task cannot learn from
    out = Path(out)
    stem = f"{name}_{recipe.task}"
    ckpt, state = out / f"{stem}.pt", out / f"{stem}.state.pt"
    model, info, cache, val_idx = train(recipe, pictures, backbone, cache_root=cache_root, limit_gb=limit_gb,
                                        state_path=state, resume=resume, log=log, progress=progress)
    card = read_card(backbone)
    labels = {h.name: list(h.labels) for h, _ in model.parts()}
    prov = provenance(
        seed=recipe.seed, command=command,
        data={"set": str(data), "task": recipe.task, "pictures": len(pictures), **info["split"],
              "fingerprint": pictures.fingerprint()},
        backbone={"name": card.name, "hash": card.hash, "file": str(backbone)}, feature_cache=info["cache"],
        recipe=info["recipe"],
    )
    save_checkpoint({"kind": "transfer_heads", "state_dict": model.state_dict(), "labels": labels,
                     "provenance": prov, "training": info}, ckpt)
    state.unlink(missing_ok=True)  # the checkpoint holds all of it now
    paths = export_heads(model, backbone, out, cache, name=name, provenance=prov, log=log)
    heads = [h for h, _ in model.parts()]
    metrics = measure(pictures, val_idx, paths, heads, log)
    epochs = info["history"]["epochs"]
    extra = {"epochs_run": len(epochs), "val_images": len(val_idx), "val_seed": recipe.seed}
    if epochs:  # a card holds finite numbers only
        extra["seconds_per_epoch"] = float(np.mean([e["seconds"] for e in epochs]))
        extra["train_loss_last"] = float(epochs[-1]["train_loss"])
    record(paths, heads, metrics, extra)
    return {"paths": {r: str(p) for r, p in paths.items()}, "metrics": metrics, "labels": labels,
            "hash": card.hash, "checkpoint": str(ckpt), "epochs": len(epochs), "val_images": len(val_idx),
            "seconds": time.monotonic() - t0}
