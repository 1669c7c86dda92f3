"""A small, generic, seeded training loop (SGD + momentum or AdamW, weight decay, warmup +
cosine/step schedule, optional bfloat16 autocast, hold-out validation, early stopping with
best-weights restore, progress on stderr).

The loop knows nothing about the task. A recipe supplies

* ``train_data`` and ``val_data``: objects with ``batches(epoch, generator)`` returning an
  iterable of batches and ``num_batches()`` (see :class:`ArrayBatches` for in-memory arrays);
* ``step(model, batch, generator, train) -> (loss, stats)``: the loss tensor of one batch and a
  dict of *sums* over it (e.g. ``{"count": 64, "correct": 60}``). The loop averages the loss
  weighted by ``stats["count"]`` and reports ``accuracy = correct / count`` when both exist;
  every other sum is reported divided by ``count``.

Detection or segmentation recipes reuse it with their own step and batch sources.

Long runs can be resumed: given ``state_path``, :func:`fit` saves everything the rest of the
run depends on (weights, optimiser, schedule position, every random state, the best weights
so far, the epoch's running sums) at each epoch's end and every ``save_every_s`` seconds
within one, and ``resume=True`` continues from there to the same weights an uninterrupted
run reaches (the file's format: :mod:`.train_state`). For that, a step draws its randomness
from the ``generator`` it is given.
"""

from __future__ import annotations

import copy
import functools
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from ..progress import Progress
from .checkpoints import plain, save_checkpoint
from .train_state import STATE_VERSION, ResumeError, random_states, restore_random_states, saved_state

__all__ = [
    "ArrayBatches", "History", "TrainConfig", "bf16_pays", "fit", "lr_at", "make_optimizer",
    "seed_everything", "sgd_param_groups",
]


class BatchSource(Protocol):
    def batches(self, epoch: int, generator: torch.Generator) -> Iterable[Any]: ...
    def num_batches(self) -> int: ...


StepFn = Callable[[nn.Module, Any, torch.Generator, bool], "tuple[Tensor, dict[str, float]]"]


@dataclass
class TrainConfig:
    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    schedule: str = "cosine"  # "cosine" | "step" | "constant"
    step_milestones: tuple[float, ...] = (0.5, 0.75)  # fractions of training, for "step"
    step_gamma: float = 0.1
    min_lr_ratio: float = 0.01
    patience: int | None = None  # early stopping: epochs without improvement; None = never
    monitor: str = "accuracy"  # validation metric that picks the best weights
    mode: str = "max"  # "max" or "min" for ``monitor``
    seed: int = 0
    threads: int | None = None
    progress: bool = True
    grad_clip: float | None = None
    channels_last: bool = False
    optimizer: str = "sgd"  # "sgd" (momentum, optionally Nesterov) | "adamw"
    betas: tuple[float, float] = (0.9, 0.999)  # adamw only
    #: bfloat16 autocast for training steps (CPU); evaluation stays fp32. "auto": only where
    #: it is faster (see :func:`bf16_pays`)
    bf16: bool | str = False


@dataclass
class History:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0
    bf16: bool = False  # whether the training steps ran under bfloat16 autocast

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "History":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@functools.lru_cache(maxsize=None)
def bf16_pays() -> bool:
    """Whether bfloat16 autocast trains a convolution faster than float32 on this CPU.

    Where the CPU has native bfloat16 (AVX-512 BF16, AMX) oneDNN runs bf16 convolutions faster
    than fp32; where it has not (AVX2 only), PyTorch falls back to a reference kernel that
    ran a 3x3 convolution's forward and backward **50x slower** than fp32 (4.9 s vs 0.10 s for
    16 x 64 x 64 x 64, an AMD EPYC with AVX2). The capability flags do not say which kernel
    will run, so this times one small convolution both ways (0.2 s, once per process).
    The global random state is left as it was, so seeded training does not depend on whether
    the probe already ran in this process.
    """
    with torch.random.fork_rng(devices=[]):
        conv = nn.Conv2d(32, 32, 3, padding=1)
        x = torch.randn(8, 32, 32, 32)

    def once(bf16: bool) -> float:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = conv(x)
        y.float().sum().backward()
        return time.perf_counter() - t

    fp32 = min(once(False) for _ in range(3))  # the first call warms the kernels up
    bf16 = math.inf
    for k in range(3):
        bf16 = min(bf16, once(True))
        if k and bf16 >= 0.8 * fp32:  # warmed up and still not faster: a reference kernel
            break
    return bf16 < 0.8 * fp32


def lr_at(step: int, total: int, warmup: int, cfg: TrainConfig) -> float:
    """Learning rate at optimiser step ``step`` of ``total``: linear warmup, then the schedule."""
    if warmup > 0 and step < warmup:
        return cfg.lr * (0.1 + 0.9 * step / warmup)
    if cfg.schedule == "constant":
        return cfg.lr
    frac = (step - warmup) / max(1, total - warmup)
    if cfg.schedule == "step":
        return cfg.lr * cfg.step_gamma ** sum(frac >= m for m in cfg.step_milestones)
    lo = cfg.lr * cfg.min_lr_ratio
    return lo + (cfg.lr - lo) * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))


def sgd_param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases and batch-norm parameters (1-d tensors)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD with (Nesterov) momentum, or AdamW; no weight decay on biases and norms."""
    groups = sgd_param_groups(model, cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}: sgd or adamw")


class ArrayBatches:
    """Batches of equally long in-memory tensors (inputs, targets, ...), yielded as tuples and
    reshuffled every epoch when ``shuffle``. Augmentation belongs in the step function, which
    receives the trainer's generator."""

    def __init__(self, *tensors: Tensor, batch_size: int, shuffle: bool = True, drop_last: bool = False):
        if not tensors or len({len(t) for t in tensors}) != 1:
            raise ValueError("ArrayBatches needs tensors of one length")
        self.tensors = tensors
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last

    def __len__(self) -> int:
        return len(self.tensors[0])

    def num_batches(self) -> int:
        n = len(self)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batches(self, epoch: int, generator: torch.Generator):
        n = len(self)
        order = torch.randperm(n, generator=generator) if self.shuffle else None
        for b in range(self.num_batches()):
            if order is None:
                sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
                yield tuple(t[sl] for t in self.tensors)
            else:
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                yield tuple(t[idx] for t in self.tensors)


def _summary(sums: dict[str, float], loss_sum: float, batches: int) -> dict[str, float]:
    count = sums.get("count")
    out = {"loss": loss_sum / count if count else loss_sum / max(batches, 1)}
    if count:
        for k, v in sums.items():
            if k == "correct":
                out["accuracy"] = v / count
            elif k != "count":
                out[k] = v / count
    return out


def _run_epoch(model, source, step, generator, train, epoch, cfg, optimizer=None,
               lr_fn=None, progress_desc="", start: Mapping[str, Any] | None = None,
               after_batch: Callable[[int, dict, float], None] | None = None) -> dict[str, float]:
    """One pass over ``source``. ``start`` continues an interrupted pass: its first
    ``start["batch"]`` batches are skipped (the generator must be at the pass's starting
    state, so the order comes out the same) and its sums carried on. ``after_batch(done,
    sums, loss_sum)`` runs after every training batch but the last (the trainer's mid-epoch save)."""
    total = source.num_batches()
    sums: dict[str, float] = dict(start["sums"]) if start else {}
    loss_sum = float(start["loss_sum"]) if start else 0.0
    skip = int(start["batch"]) if start else 0
    n = skip
    bar = Progress(total, progress_desc, enabled=cfg.progress, initial=skip)
    model.train(train)
    with torch.set_grad_enabled(train):
        for i, batch in enumerate(source.batches(epoch, generator)):
            if i < skip:
                continue  # already trained on; the order was drawn, nothing else is
            if i == skip and start:
                generator.set_state(start["generator"])
            if train:
                lr = lr_fn()
                for group in optimizer.param_groups:
                    group["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=train and cfg.bf16):
                loss, stats = step(model, batch, generator, train)
            # a batch none of whose pictures a head has labels for (a classify head trained alone
            # meets batches of scenes) has a constant loss: nothing to learn from it
            if train and loss.requires_grad:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} in epoch {epoch + 1}")
            c = float(stats.get("count", 1))
            loss_sum += float(loss.detach()) * c
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
            cur = _summary(sums, loss_sum, n)
            bar.update(1, loss=cur["loss"], **({"acc": cur["accuracy"]} if "accuracy" in cur else {}))
            if after_batch is not None and n < total:
                after_batch(n, sums, loss_sum)
    bar.close()
    return _summary(sums, loss_sum, n)


def fit(model: nn.Module, train_data: BatchSource, val_data: BatchSource | None, step: StepFn,
        cfg: TrainConfig, log: Callable[[str], None] | None = None, *,
        state_path: str | Path | None = None, resume: bool = False,
        fingerprint: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
        save_every_s: float = 600.0) -> History:
    """Train ``model`` in place; returns the history. The best validation weights (by
    ``cfg.monitor``) are restored at the end when there is validation data.

    With ``state_path``, the training state is saved there at every epoch's end and every
    ``save_every_s`` seconds within an epoch (written aside, then renamed, so a kill never
    leaves half a file). ``resume=True`` continues the state found there (none: a fresh
    start); ``fingerprint`` (e.g. the recipe) is stored with it, and a state saved under
    another fingerprint or config raises :class:`ResumeError` rather than mixing two runs;
    ``extra`` is saved beside it, not compared (what the caller needs back on resuming).
    The state stays after the run (``finished`` set); the caller removes it once it has
    kept what it needs.
    """
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    generator = seed_everything(cfg.seed)
    if log is None:
        def log(line: str) -> None:
            if cfg.progress:
                print(line, file=sys.stderr, flush=True)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    bf16 = bf16_pays() if cfg.bf16 == "auto" else bool(cfg.bf16)
    if cfg.bf16 == "auto":
        log(f"precision: {'bfloat16 autocast' if bf16 else 'float32 (bfloat16 is slower on this CPU)'}")
    # the state records the config as given, so "auto" resumes on a machine that decides otherwise
    given_cfg = plain({k: v for k, v in asdict(cfg).items() if k not in ("progress", "threads")})
    cfg = replace(cfg, bf16=bf16)
    optimizer = make_optimizer(model, cfg)
    per_epoch = train_data.num_batches()
    total = per_epoch * cfg.epochs
    warmup = int(round(cfg.warmup_epochs * per_epoch))
    counter = {"step": 0}

    def next_lr() -> float:
        lr = lr_at(counter["step"], total, warmup, cfg)
        counter["step"] += 1
        return lr

    sign = 1.0 if cfg.mode == "max" else -1.0
    best_value: tuple[float, float] = (-math.inf, -math.inf)
    best_state, stale = None, 0
    hist = History(bf16=bf16)
    first_epoch, partial, partial_epoch_generator = 0, None, None
    spent = 0.0  # seconds of earlier, interrupted parts of this run
    state_path = Path(state_path) if state_path is not None else None
    fingerprint = dict(fingerprint or {})
    st = saved_state(state_path, True, fingerprint) if resume else None
    if st is not None:
        if st["config"] != given_cfg or st["per_epoch"] != per_epoch:
            raise ResumeError(f"{state_path} holds another run's state (different settings or data "
                              "size); delete it or choose another path to start this one")
        model.load_state_dict(st["model"])
        optimizer.load_state_dict(st["optimizer"])
        counter["step"] = st["step"]
        best_value, best_state, stale = tuple(st["best_value"]), st["best_state"], st["stale"]
        hist = History.from_dict(st["history"])
        hist.bf16 = bf16
        spent = float(st["seconds"])
        restore_random_states(st["rng"])
        first_epoch = st["epoch"]
        if st["partial"] is not None:
            partial, partial_epoch_generator = st["partial"], st["epoch_generator"]
            generator.set_state(partial_epoch_generator)
        else:
            generator.set_state(st["generator"])
        where = f"batch {partial['batch']}/{per_epoch} of " if partial else "the start of "
        log(f"resuming {state_path}: {where}epoch {first_epoch + 1}/{cfg.epochs}"
            f" ({spent / 60:.0f} min trained before)")
    t0 = time.monotonic()
    last_save = [time.monotonic()]

    def save(epoch: int, epoch_generator: Tensor | None, partial_sums: dict | None,
             finished: bool = False) -> None:
        if state_path is None:
            return
        save_checkpoint({
            "kind": "visionkit.train_state", "version": STATE_VERSION, "finished": finished,
            "fingerprint": fingerprint, "extra": dict(extra or {}), "config": given_cfg,
            "per_epoch": per_epoch,
            "epoch": epoch, "partial": partial_sums, "epoch_generator": epoch_generator,
            "generator": generator.get_state(), "step": counter["step"],
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "best_value": list(best_value), "best_state": best_state, "stale": stale,
            "history": hist.to_dict(), "seconds": spent + time.monotonic() - t0,
            "rng": random_states(),
        }, state_path)
        last_save[0] = time.monotonic()

    for epoch in range(first_epoch, cfg.epochs):
        te = time.monotonic()
        epoch_generator = generator.get_state() if partial is None else partial_epoch_generator

        def mid_epoch(done: int, sums: dict, loss_sum: float, epoch=epoch, eg=epoch_generator) -> None:
            if state_path is not None and time.monotonic() - last_save[0] >= save_every_s:
                save(epoch, eg, {"batch": done, "sums": dict(sums), "loss_sum": loss_sum,
                                 "generator": generator.get_state()})

        tr = _run_epoch(model, train_data, step, generator, True, epoch, cfg, optimizer, next_lr,
                        f"epoch {epoch + 1}/{cfg.epochs}", start=partial, after_batch=mid_epoch)
        partial = None
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in tr.items()})
        if val_data is not None:
            va = _run_epoch(model, val_data, step, generator, False, epoch, cfg, progress_desc="val")
            row.update({f"val_{k}": v for k, v in va.items()})
        row["seconds"] = time.monotonic() - te
        hist.epochs.append(row)
        log(_epoch_line(row, cfg.epochs))
        stop = False
        if val_data is not None:
            key = f"val_{cfg.monitor}"
            # ties on the monitored metric (accuracy on a small set) go to the lower loss
            # (patience counts epochs without a strict gain in the monitored metric)
            value = (sign * row.get(key, -math.inf * sign), -row.get("val_loss", 0.0))
            if value > best_value:
                stale = 0 if value[0] > best_value[0] else stale + 1
                best_value = value
                best_state = copy.deepcopy(model.state_dict())
                hist.best_epoch, hist.best = epoch + 1, dict(row)
            else:
                stale += 1
            if cfg.patience is not None and stale >= cfg.patience:
                hist.stopped_early = True
                log(f"early stop: no better {key} for {stale} epochs")
                stop = True
        hist.seconds = spent + time.monotonic() - t0
        save(epoch + 1 if not stop else cfg.epochs, None, None, finished=stop or epoch + 1 == cfg.epochs)
        if stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
        log(f"restored best weights of epoch {hist.best_epoch} ({cfg.monitor} "
            f"{hist.best.get('val_' + cfg.monitor, float('nan')):.4f})")
    hist.seconds = spent + time.monotonic() - t0
    model.eval()
    return hist


def _epoch_line(row: dict[str, float], epochs: int) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for split in ("train", "val"):
        if f"{split}_loss" in row:
            s = f"{split} loss {row[f'{split}_loss']:.4f}"
            if f"{split}_accuracy" in row:
                s += f" acc {100 * row[f'{split}_accuracy']:.2f}%"
            parts.append(s)
    parts.append(f"lr {row['lr']:.4g}")
    parts.append(f"{row['seconds']:.0f}s")
    return " | ".join(parts)
