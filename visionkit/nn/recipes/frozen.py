"""Heads trained on a frozen, exported backbone, from its cached features.

    visionkit train heads --out runs/heads        # on the bundled EfficientNet-Lite0

Transfer learning as the lectures draw it: the backbone (an exported ONNX file) never changes,
so its feature maps of every training picture are computed once and cached
(:mod:`visionkit.nn.feature_cache`), and the heads train on them alone: no backbone runs in a
training step. Every registered head (or those named) is built on the backbone card's
channels, trained with its own loss (:mod:`visionkit.nn.heads`) on the ShapeWorld set the
joint recipe uses (multi-object scenes, figure scenes, single-shape pictures), exported
against the backbone's hash, checked against torch, measured on held-out sets as
``visionkit eval`` measures, and the numbers recorded in its cards.

Files in OUT (NAME defaults to ``shapeworld``): the backbone, copied as ``<its name>.onnx``
(where the pipeline looks beside a head), each head's ``NAME_<role>.onnx``, and
``NAME_heads.pt`` (the heads' weights and how they were made). While a run goes on, its state
is ``NAME_heads.state.pt``, from which ``resume`` continues it exactly. A run of some heads
(``heads``) names both after them, ``NAME_heads-detect.pt``, so runs of other heads can share
OUT: a head measured there finds the files of the heads it needs (pose, the detector's).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from visionkit.bundled import models_dir
from visionkit.errors import ModelError
from visionkit.nn.feature_cache import FeatureCache, feature_cache, read_backbone
from visionkit.nn.heads import Batch, SharedHead, registered_heads
from visionkit.nn.train_state import saved_state
from visionkit.nn.trainer import TrainConfig, fit

DEFAULT_BACKBONE = models_dir() / "efficientnet_lite0_backbone.onnx"


@dataclass
class HeadsRecipe:
    """Everything that decides the heads' weights, given the backbone."""

    seed: int = 0
    heads: tuple[str, ...] | None = None  # registered heads by name; None: every one
    n_detect: int = 4000
    n_pose: int = 1500
    n_classify: int = 1500
    #: still frames of tracking sequences (half-hidden objects, pans, noise), none by default
    n_track: int = 0
    n_val: int = 128  # per kind, from seeds of their own
    #: versions of each training picture in the cache (see feature_cache.AUGMENTS)
    copies: int = 2
    epochs: int = 12
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    patience: int | None = 4  # epochs without a lower validation loss before stopping
    bf16: bool | str = "auto"
    threads: int | None = None
    workers: int = 2  # processes generating the data

    def train_parts(self) -> list[tuple[str, int, int]]:
        parts = [("detect", self.n_detect, self.seed), ("pose", self.n_pose, self.seed),
                 ("classify", self.n_classify, self.seed)]
        return parts + ([("track", self.n_track, self.seed)] if self.n_track else [])

    def val_parts(self) -> list[tuple[str, int, int]]:
        s = self.seed + 5000  # as the joint recipe: no training seed comes near it
        parts = [("detect", self.n_val, s), ("pose", self.n_val, s), ("classify", self.n_val, s)]
        return parts + ([("track", self.n_val, s)] if self.n_track else [])


class HeadsModel(nn.Module):
    """Every head's module under its name (``model.detect``), built in model order, so a
    checkpoint holds ``<head>.<parameter>`` keys, as the joint recipe's does, and no backbone."""

    def __init__(self, channels: Mapping[str, int], heads: Sequence[str] | None = None):
        super().__init__()
        self.heads: dict[str, SharedHead] = {}
        for head in registered_heads(heads):
            if not head.name.isidentifier() or hasattr(self, head.name):
                raise ValueError(f"head name {head.name!r} cannot be an attribute of the model")
            setattr(self, head.name, head.build(channels))
            self.heads[head.name] = head

    def parts(self) -> list[tuple[SharedHead, nn.Module]]:
        return [(head, getattr(self, name)) for name, head in self.heads.items()]


class CachedBatches:
    """Batches of (pictures, their copies) over a cache (trainer protocol): reshuffled every
    epoch, each picture in one of its copies drawn at random. Every draw of an epoch is made
    before its first batch, so a run resumed part-way through it draws the same."""

    def __init__(self, n: int, copies: int, batch_size: int, shuffle: bool):
        self.n, self.copies, self.batch_size, self.shuffle = n, copies, batch_size, shuffle

    def num_batches(self) -> int:
        return self.n // self.batch_size if self.shuffle else -(-self.n // self.batch_size)

    def batches(self, epoch: int, generator: torch.Generator):
        order = torch.randperm(self.n, generator=generator).numpy() if self.shuffle else np.arange(self.n)
        copy = torch.randint(0, self.copies, (self.n,), generator=generator).numpy()
        for i in range(self.num_batches()):
            at = slice(i * self.batch_size, (i + 1) * self.batch_size)
            yield order[at], copy[at]


def make_step(cache_of: Callable[[bool], FeatureCache]):
    """The trainer's step: every head's loss terms on the batch's cached features, summed."""

    def step(model: HeadsModel, item, generator: torch.Generator, train: bool):
        index, copy = item
        # the heads' sampling draws from the trainer's generator: a resumed run draws the same
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        cache = cache_of(train)
        feats = {k: torch.from_numpy(v) for k, v in cache.features(index, copy).items()}
        batch = Batch(cache.annotations(index, copy), np.arange(len(index)), cache.input_size, rng, train)
        n, terms, stats = len(index), [], {"count": len(index)}
        for head, module in model.parts():
            part = head.loss(module, feats, batch)
            logged = {k: float(t.detach()) * n for k, t in part.terms.items()} | part.stats
            if logged.keys() & stats.keys():
                raise ValueError(f"head {head.name!r} logs {', '.join(sorted(logged.keys() & stats.keys()))}, "
                                 "as another head does")
            stats |= logged
            terms += part.terms.values()
        return sum(terms[1:], terms[0]), stats

    return step


def _decisive(recipe: HeadsRecipe) -> dict:
    """The recipe's fields that decide the weights (threads and workers only decide speed)."""
    return {k: v for k, v in asdict(recipe).items() if k not in ("threads", "workers")}


def train(
    recipe: HeadsRecipe, backbone: str | Path = DEFAULT_BACKBONE, *, cache_root: str | Path,
    limit_gb: float = 8.0, state_path: str | Path | None = None, resume: bool = False,
    log: Callable[[str], None] = print, progress: bool = True,
) -> tuple[HeadsModel, dict, tuple[FeatureCache, FeatureCache]]:
    """Fill (or reuse) the feature caches, train the heads; returns them, the history and the
    caches (training, validation). A state of an unfinished run at ``state_path`` is never
    overwritten silently; ``resume`` continues it."""
    card = read_backbone(backbone)
    fingerprint = {"recipe": _decisive(recipe), "backbone": card.hash}
    state = saved_state(state_path, resume, fingerprint)
    if resume and state is None:
        log(f"no saved state at {state_path}: starting from the beginning")
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    # a resumed run goes on with the heads it started with, whatever plugins came or went since
    names = list(dict.fromkeys(k.split(".")[0] for k in state["model"])) if state else recipe.heads
    heads = registered_heads(names)  # an unknown name is refused before any work
    if not heads:
        raise ValueError("no plugin registers a head to train")
    maps = [f for f in card.features if any(f in h.features for h in heads)]
    common = {"maps": maps, "limit_gb": limit_gb, "workers": recipe.workers, "progress": progress, "log": log}
    train_set = feature_cache(backbone, recipe.train_parts(), cache_root, copies=recipe.copies, **common)
    val_set = feature_cache(backbone, recipe.val_parts(), cache_root, copies=1, **common)
    channels = {k: s[1] for k, s in train_set.feature_shapes.items()}
    stated = dict(card.options.get("channels") or channels)
    if any(stated.get(k) != c for k, c in channels.items()):
        raise ModelError(f"{Path(backbone).name}: its card gives channels {stated}, its maps have {channels}")
    torch.manual_seed(recipe.seed)
    model = HeadsModel(stated, [h.name for h in heads])
    cfg = TrainConfig(
        epochs=recipe.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay, optimizer="adamw",
        warmup_epochs=recipe.warmup_epochs, schedule="cosine", grad_clip=10.0, monitor="loss", mode="min",
        patience=recipe.patience, bf16=recipe.bf16, seed=recipe.seed, threads=recipe.threads, progress=progress,
    )
    hist = fit(
        model, CachedBatches(len(train_set), train_set.copies, recipe.batch_size, True),
        CachedBatches(len(val_set), 1, recipe.batch_size, False),
        make_step(lambda is_train: train_set if is_train else val_set), cfg, log=log,
        state_path=state_path, resume=state is not None, fingerprint=fingerprint,
    )
    info = {"recipe": _decisive(recipe), "history": hist.to_dict(),
            "cache": {"train": train_set.folder.name, "val": val_set.folder.name}}
    return model, info, (train_set, val_set)


def export_heads(
    model: HeadsModel, backbone: str | Path, out: Path, sample: FeatureCache, *, name: str = "shapeworld",
    provenance: Mapping[str, Any] | None = None, log: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Copy the backbone into ``out`` as ``<its name>.onnx``, write every head's files against
    its hash, check each against torch on the first picture of ``sample``; returns role -> path."""
    from visionkit.nn.export import read_card
    from visionkit.nn.heads import ExportContext

    card = read_card(backbone)
    out.mkdir(parents=True, exist_ok=True)
    beside = out / f"{card.name}.onnx"
    if not (beside.is_file() and beside.samefile(backbone)):
        if beside.is_file() and read_card(beside).hash != card.hash:
            log(f"replacing {beside} (backbone {read_card(beside).hash}): heads for it there no longer load")
        shutil.copyfile(backbone, beside)
    paths = {"backbone": beside}
    ctx = ExportContext(out, name, card, sample.feature_shapes, sample.input_size, {}, dict(provenance or {}))
    for head, module in model.parts():
        written = head.export(module.eval(), ctx)
        if set(written) != set(head.roles):
            raise RuntimeError(f"head {head.name!r} wrote {sorted(written)}, not its roles {list(head.roles)}")
        paths.update(written)
    features = sample.features(np.array([0]), np.array([0]))
    worst = max(head.verify(module, paths, features) for head, module in model.parts())
    log(f"exported {', '.join(p.name for p in paths.values())} to {out} (onnxruntime vs torch: {worst:.1e})")
    return paths


def with_neighbours(paths: Mapping[str, Path], name: str) -> dict[str, Path]:
    """``paths`` and the files of other registered heads beside them (``<name>_<role>.onnx``)
    that were trained for the same backbone: a head measured alone may need another's (pose
    runs on the detector's boxes)."""
    from visionkit.nn.export import read_card

    files = dict(paths)
    bb_hash = read_card(paths["backbone"]).hash
    for head in registered_heads():
        for role in head.roles:
            other = paths["backbone"].parent / f"{name}_{role}.onnx"
            if role in files or not other.is_file():
                continue
            card = read_card(other)
            if card is not None and card.backbone is not None and card.backbone.hash == bb_hash:
                files[role] = other
    return files


def measure(
    files: Mapping[str, Path], heads: Sequence[SharedHead], test_n: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Each head's numbers on its held-out set (``test_n`` pictures instead of its default);
    ``files`` maps every role (``backbone`` and the heads') to its file. A head that needs a
    role ``files`` lacks is not measured (its numbers are empty)."""
    metrics = {}
    # only a missing file of another head's role means "not measured"; any other KeyError is a bug
    roles = {role for h in registered_heads() for role in h.roles} - set(files)
    for head in heads:
        held_out = head.held_out if test_n is None else (head.held_out[0], test_n)
        try:
            metrics[head.name] = head.measure(files, held_out, log)
        except KeyError as exc:
            if not exc.args or exc.args[0] not in roles:
                raise
            log(f"{head.name}: not measured: it needs the {exc.args[0]} model trained for this backbone")
            metrics[head.name] = {}
    return metrics


def record(paths: Mapping[str, Path], heads: Sequence[SharedHead], metrics: Mapping[str, Mapping[str, Any]],
           extra: Mapping[str, Any]) -> None:
    """Write each head's numbers (and ``extra``) into the cards of all its files; the
    backbone's card is left as it came."""
    import onnx

    from visionkit.nn.export import embed_card, read_card

    for head in heads:
        for role in head.roles:
            card = read_card(paths[role])
            proto = onnx.load(str(paths[role]))
            embed_card(proto, card.with_(metrics={**extra, **metrics.get(head.name, {})}))
            onnx.save_model(proto, str(paths[role]))


def train_and_export(
    out: str | Path, recipe: HeadsRecipe, backbone: str | Path = DEFAULT_BACKBONE, *, cache_root: str | Path,
    limit_gb: float = 8.0, name: str = "shapeworld", command: str = "visionkit train heads",
    test_n: int | None = None, resume: bool = False, log: Callable[[str], None] = print, progress: bool = True,
) -> dict[str, Any]:
    """The whole recipe; returns paths, metrics, the backbone's hash and timings."""
    from visionkit.nn.checkpoints import save_checkpoint
    from visionkit.nn.export import provenance, read_card

    t0 = time.monotonic()
    out = Path(out)
    stem = f"{name}_heads" if recipe.heads is None else "-".join((f"{name}_heads", *recipe.heads))
    ckpt, state = out / f"{stem}.pt", out / f"{stem}.state.pt"
    model, info, (_, val_set) = train(
        recipe, backbone, cache_root=cache_root, limit_gb=limit_gb, state_path=state, resume=resume,
        log=log, progress=progress,
    )
    card = read_card(backbone)
    prov = provenance(
        seed=recipe.seed, command=command, data={"generator": "shapeworld", "recipe": _decisive(recipe)},
        backbone={"name": card.name, "hash": card.hash, "file": str(backbone)}, feature_cache=info["cache"],
    )
    save_checkpoint({"kind": "frozen_heads", "state_dict": model.state_dict(), "provenance": prov,
                     "training": info}, ckpt)
    state.unlink(missing_ok=True)  # the checkpoint holds all of it now
    paths = export_heads(model, backbone, out, val_set, name=name, provenance=prov, log=log)
    heads = list(model.heads.values())
    metrics = measure(with_neighbours(paths, name), heads, test_n, log)
    epochs = info["history"]["epochs"]
    extra = {"epochs_run": len(epochs)}
    if epochs:  # a card holds finite numbers only
        extra["seconds_per_epoch"] = float(np.mean([e["seconds"] for e in epochs]))
        extra["train_loss_last"] = float(epochs[-1]["train_loss"])
    record(paths, heads, metrics, extra)
    return {"paths": {r: str(p) for r, p in paths.items()}, "metrics": metrics, "hash": card.hash,
            "checkpoint": str(ckpt), "epochs": len(epochs), "seconds_per_epoch": extra.get("seconds_per_epoch"),
            "seconds": time.monotonic() - t0}
