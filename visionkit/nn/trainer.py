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
"""

from __future__ import annotations

import copy
import functools
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from ..progress import Progress

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
               lr_fn=None, progress_desc="") -> dict[str, float]:
    total = source.num_batches()
    bar = Progress(total, progress_desc, enabled=cfg.progress)
    sums: dict[str, float] = {}
    loss_sum, n = 0.0, 0
    model.train(train)
    with torch.set_grad_enabled(train):
        for batch in source.batches(epoch, generator):
            if train:
                lr = lr_fn()
                for group in optimizer.param_groups:
                    group["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=train and cfg.bf16):
                loss, stats = step(model, batch, generator, train)
            if train:
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
    bar.close()
    return _summary(sums, loss_sum, n)


def fit(model: nn.Module, train_data: BatchSource, val_data: BatchSource | None, step: StepFn,
        cfg: TrainConfig, log: Callable[[str], None] | None = None) -> History:
    """Train ``model`` in place; returns the history. The best validation weights (by
    ``cfg.monitor``) are restored at the end when there is validation data."""
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
    t0 = time.monotonic()
    for epoch in range(cfg.epochs):
        te = time.monotonic()
        tr = _run_epoch(model, train_data, step, generator, True, epoch, cfg, optimizer, next_lr,
                        f"epoch {epoch + 1}/{cfg.epochs}")
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in tr.items()})
        if val_data is not None:
            va = _run_epoch(model, val_data, step, generator, False, epoch, cfg, progress_desc="val")
            row.update({f"val_{k}": v for k, v in va.items()})
        row["seconds"] = time.monotonic() - te
        hist.epochs.append(row)
        log(_epoch_line(row, cfg.epochs))
        if val_data is None:
            continue
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
            break
    if best_state is not None:
        model.load_state_dict(best_state)
        log(f"restored best weights of epoch {hist.best_epoch} ({cfg.monitor} "
            f"{hist.best.get('val_' + cfg.monitor, float('nan')):.4f})")
    hist.seconds = time.monotonic() - t0
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
