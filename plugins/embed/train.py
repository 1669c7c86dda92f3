"""Training the re-ID head: batch-hard triplets of ShapeWorld objects across the frames of a sequence.

    visionkit train embed --out assets/models --seed 0

Hermans et al. 2017, "In Defense of the Triplet Loss for Person Re-Identification": each step
takes P identities x K views and, for every anchor, only its hardest positive (the same object
in another frame, turned, half hidden, beside a look-alike) and its hardest negative; the loss
is ``max(0, d(a, p) - d(a, n) + margin)`` on unit vectors (FaceNet, Schroff et al. 2015), or
``softplus(d(a, p) - d(a, n))`` with ``margin=0`` (their soft margin). Here a step is S sequences
x K frames: every considered object of those frames is an identity, and negatives come from
the *same* sequence only, since the same shape and colour in another sequence may truly be
indistinguishable and a tracker never compares across sequences. The boxes are jittered as
a detector's err.

The backbone is frozen: its c3..c5 of every training frame are computed once by onnxruntime
(what inference sees) and kept as float16 memory maps under ``--cache``, one folder per
fingerprint of what made them, as :mod:`visionkit.nn.feature_cache` keeps its; only the head trains, in
:func:`visionkit.nn.trainer.fit` (seeded, resumable, early stopping on validation sequences of
their own seed). The export names the backbone's hash, and its card records what
:mod:`.evaluate` measures on held-out sequences (seed 10000): rank-1, mAP, IDF1 with and without.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from visionkit.data.sequences import sequence
from visionkit.nn.export import export_head, provenance, read_card, record_metrics, verify_onnx
from visionkit.nn.feature_cache import read_backbone
from visionkit.nn.recipes.embed_measure import measure
from visionkit.nn.recipes.transfer import DEFAULT_BACKBONE  # the bundled ImageNet backbone
from visionkit.nn.trainer import TrainConfig, fit
from visionkit.preprocess import preprocess
from visionkit.progress import Progress

from .evaluate import HeadEmbedder
from .head import FEATURES, EmbedHead, embed_head

FORMAT = 1  # the cache layout's version
ID_SPAN = 1000  # global identity = sequence * ID_SPAN + track id
JITTER_SHIFT, JITTER_SCALE = 0.05, 0.08  # training box noise, in box sides (centre; log size)


@dataclass
class EmbedRecipe:
    """Everything that decides the head's weights, given the backbone."""

    seed: int = 0
    # many short sequences: 64 sequences of 50 cached frames each overfitted (rank-1 0.868
    # held out), 192 of 20 reached 0.932, 320 of 20 0.928 with a lower validation loss
    n_train: int = 320  # training sequences (track set ``seed``)
    n_val: int = 8  # validation sequences (set ``seed + 5000``)
    frames: int = 60  # frames per sequence (2.4 s), of which every ``every``-th is cached
    every: int = 3
    size: int = 256
    fps: float = 25.0
    epochs: int = 12
    steps: int = 150  # per epoch
    sequences: int = 4  # S: sequences per step
    views: int = 6  # K: frames of each per step
    margin: float = 0.3  # 0: soft margin
    dim: int = 128
    width: int = 48
    hidden: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    patience: int | None = 4
    threads: int | None = None
    # the held-out measurement (decides no weights)
    test_seed: int = 10000
    test_n: int = 8
    test_frames: int = 150

    def decisive(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "threads" and not k.startswith("test_")}


class SequenceCache:
    """Cached frames of one sequence set: ``maps[k]`` (frames, C, h, w) float16; per box its
    frame, box (input pixels) and global identity; per frame its sequence."""

    def __init__(self, folder: Path):
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text())
        self.maps = {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in meta["maps"]}
        with np.load(folder / "annotations.npz") as a:
            self.seq, self.box_frame, self.boxes, self.ids = a["seq"], a["box_frame"], a["boxes"], a["ids"]
        self.by_seq = [np.flatnonzero(self.seq == s) for s in range(int(self.seq.max()) + 1)]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: (1, *m.shape[1:]) for k, m in self.maps.items()}


def sequence_cache(backbone: str | Path, seed: int, n: int, recipe: EmbedRecipe, root: str | Path, *,
                   progress: bool = True, log: Callable[[str], None] = print) -> SequenceCache:
    """The backbone's c3..c5 of the cached frames of sequences ``0..n-1`` of ``seed``: the folder
    under ``root`` these inputs made, or filled now (in a ``.partial`` folder, renamed when whole)."""
    from visionkit.runtime import load_model

    card = read_backbone(backbone)
    made_of = {"format": FORMAT, "backbone": card.hash, "input": asdict(card.input), "seed": seed, "n": n,
               "frames": recipe.frames, "every": recipe.every, "size": recipe.size, "fps": recipe.fps}
    key = hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(root) / f"embed-{card.name}-{key}"
    if (folder / "meta.json").is_file():
        log(f"sequence cache: reusing {folder}")
        return SequenceCache(folder)
    t0 = time.monotonic()
    model = load_model(backbone, device="cpu", threads=recipe.threads)
    feed, h, w = model.inputs[0].name, *card.input.size
    probe = dict(zip(model.outputs, model.run({feed: np.zeros((1, h, w, 3), np.uint8)})))
    per_seq = math.ceil(recipe.frames / recipe.every)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    maps = {k: np.lib.format.open_memmap(tmp / f"{k}.npy", "w+", np.float16, (n * per_seq, *probe[k].shape[1:]))
            for k in FEATURES}
    seq, box_frame, boxes, ids = [], [], [], []
    bar = Progress(n * per_seq, f"features of {n} sequences", enabled=progress)
    f = 0
    for s in range(n):
        for t, (image, found) in enumerate(sequence(seed, s, recipe.frames, recipe.size, recipe.fps)):
            if t % recipe.every:
                continue
            tensor, transform = preprocess(image, card.input)
            got = dict(zip(model.outputs, model.run({feed: tensor})))
            for k in FEATURES:
                maps[k][f] = got[k][0].astype(np.float16)
            seen = [b for b in found if b.consider]
            boxes += [transform.to_input(b.box) for b in seen]
            ids += [s * ID_SPAN + b.track_id for b in seen]
            box_frame += [f] * len(seen)
            seq.append(s)
            f += 1
            bar.update(1)
    bar.close()
    for m in maps.values():
        m.flush()
    del maps  # closes the memory maps before the folder is renamed
    np.savez(tmp / "annotations.npz", seq=np.array(seq, np.int64), box_frame=np.array(box_frame, np.int64),
             boxes=np.array(boxes, np.float32).reshape(-1, 4), ids=np.array(ids, np.int64))
    meta = {"made_of": made_of, "maps": list(FEATURES), "frames": f, "boxes": len(ids),
            "seconds": round(time.monotonic() - t0, 1)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    log(f"sequence cache: {f} frames, {len(ids)} boxes in {meta['seconds']:.0f}s -> {folder}")
    return SequenceCache(folder)


class TripletBatches:
    """``steps`` batches of S sequences x K frames, every considered box of them a sample.
    Training draws from the trainer's generator (so a resumed run draws the same) and
    jitters boxes; validation draws the same batches every epoch, boxes as they are."""

    def __init__(self, cache: SequenceCache, recipe: EmbedRecipe, steps: int, train: bool):
        self.cache, self.recipe, self.steps, self.train = cache, recipe, steps, train

    def num_batches(self) -> int:
        return self.steps

    def batches(self, epoch: int, generator: torch.Generator):
        seed = int(torch.randint(2**62, (1,), generator=generator)) if self.train else self.recipe.seed
        rng = np.random.default_rng(seed)
        c = self.cache
        for _ in range(self.steps):
            seqs = rng.choice(len(c.by_seq), min(self.recipe.sequences, len(c.by_seq)), replace=False)
            frames = np.sort(np.concatenate([rng.choice(c.by_seq[s], min(self.recipe.views, len(c.by_seq[s])),
                                                        replace=False) for s in seqs]))
            yield self.batch(frames, rng if self.train else None)

    def batch(self, frames: np.ndarray, rng: np.random.Generator | None) -> dict[str, Tensor]:
        c = self.cache
        rows = np.flatnonzero(np.isin(c.box_frame, frames))
        boxes = c.boxes[rows].copy()
        if rng is not None:
            size = boxes[:, 2:] - boxes[:, :2]
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + rng.normal(0, JITTER_SHIFT, size.shape) * size
            size = size * np.exp(rng.normal(0, JITTER_SCALE, size.shape))
            boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        batch = {k: torch.from_numpy(m[frames].astype(np.float32)) for k, m in c.maps.items()}
        return batch | {"rois": torch.from_numpy(boxes.astype(np.float32)),
                        "batch_indices": torch.from_numpy(np.searchsorted(frames, c.box_frame[rows])),
                        "ids": torch.from_numpy(c.ids[rows]), "groups": torch.from_numpy(c.ids[rows] // ID_SPAN)}


def batch_hard(emb: Tensor, ids: Tensor, groups: Tensor, margin: float) -> tuple[Tensor, dict[str, float]]:
    """The batch-hard triplet loss over anchors that have a positive and a same-sequence negative;
    stats count them and how many already have their hardest positive nearer than their hardest negative."""
    # distance of unit vectors from their dot product; clamped, as sqrt's gradient at 0 is infinite
    d = (2 - 2 * emb @ emb.T).clamp_min(1e-8).sqrt()
    same = ids[:, None] == ids[None, :]
    pos = same & ~torch.eye(len(ids), dtype=torch.bool)
    neg = ~same & (groups[:, None] == groups[None, :])
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return emb.sum() * 0.0, {"count": 0.0, "correct": 0.0}
    hardest_pos = d.masked_fill(~pos, 0.0).max(1).values[valid]
    hardest_neg = d.masked_fill(~neg, math.inf).min(1).values[valid]
    gap = hardest_pos - hardest_neg
    loss = F.softplus(gap) if margin <= 0 else F.relu(gap + margin)
    return loss.mean(), {"count": float(valid.sum()), "correct": float((gap < 0).sum())}


def step_fn(margin: float):
    def step(model: EmbedHead, batch: dict[str, Tensor], generator, train: bool):
        emb = model(*(batch[k] for k in (*FEATURES, "rois", "batch_indices")))
        return batch_hard(emb.float(), batch["ids"], batch["groups"], margin)
    return step


def export(module: EmbedHead, path: Path, backbone: str | Path, cache: SequenceCache, recipe: EmbedRecipe,
           prov: dict[str, Any]) -> Path:
    """Write the head against ``backbone``'s hash and check it in onnxruntime against torch."""
    card = read_card(backbone)
    rois = torch.tensor([[8.0, 8.0, 60.0, 50.0], [20.0, 30.0, 120.0, 100.0]])
    export_head(module, path, feature_shapes={k: cache.shapes[k] for k in FEATURES}, backbone_card=card,
                name=path.stem, task="embed", output="embeddings", output_names=("embeddings",),
                extra_inputs={"rois": rois, "batch_indices": torch.zeros(2, dtype=torch.int64)},
                options={"score": 0.1, "max_instances": 100}, provenance=prov,
                config={"dim": recipe.dim, "loss": "batch-hard triplet", "margin": recipe.margin})
    frames = np.arange(min(2, len(cache.seq)))
    rows = np.flatnonzero(np.isin(cache.box_frame, frames))
    feeds = {k: cache.maps[k][frames].astype(np.float32) for k in FEATURES}
    feeds |= {"rois": cache.boxes[rows], "batch_indices": cache.box_frame[rows].astype(np.int64)}
    verify_onnx(path, module, feeds, tol=1e-3)
    return path


def train_and_export(out: str | Path, recipe: EmbedRecipe, backbone: str | Path = DEFAULT_BACKBONE, *,
                     cache_root: str | Path = "runs/feature_cache", name: str = "shapeworld",
                     command: str | None = None, resume: bool = False, log: Callable[[str], None] = print,
                     progress: bool = True) -> dict[str, Any]:
    """Cache, train, export ``OUT/NAME_embed.onnx``, measure and record; returns a summary."""
    from visionkit.nn.checkpoints import save_checkpoint
    from visionkit.nn.train_state import saved_state

    t0 = time.monotonic()
    out = Path(out)
    card = read_backbone(backbone)
    ckpt, state = out / f"{name}_embed.pt", out / f"{name}_embed.state.pt"
    fingerprint = {"recipe": recipe.decisive(), "backbone": card.hash}
    saved_state(state, resume, fingerprint)  # refuses before minutes of caching are spent
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    train = sequence_cache(backbone, recipe.seed, recipe.n_train, recipe, cache_root, progress=progress, log=log)
    val = sequence_cache(backbone, recipe.seed + 5000, recipe.n_val, recipe, cache_root, progress=progress, log=log)
    torch.manual_seed(recipe.seed)
    head = embed_head(card.options.get("channels") or {k: s[1] for k, s in train.shapes.items()}, recipe.dim,
                      recipe.width, recipe.hidden, stride=int(card.strides.get("c3", 8)))
    cfg = TrainConfig(epochs=recipe.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay, optimizer="adamw",
                      warmup_epochs=1.0, schedule="cosine", grad_clip=10.0, monitor="loss", mode="min",
                      # float32: "auto" times a probe, which a busy machine answers otherwise
                      patience=recipe.patience, bf16=False, seed=recipe.seed, threads=recipe.threads,
                      progress=progress)
    val_steps = max(1, recipe.steps // 8)
    hist = fit(head, TripletBatches(train, recipe, recipe.steps, True), TripletBatches(val, recipe, val_steps, False),
               step_fn(recipe.margin), cfg, log=log, state_path=state, resume=resume, fingerprint=fingerprint)
    prov = provenance(seed=recipe.seed, command=command, recipe=recipe.decisive(),
                      data={"kind": "shapeworld sequences", "train": [recipe.seed, recipe.n_train],
                            "val": [recipe.seed + 5000, recipe.n_val]},
                      backbone={"name": card.name, "hash": card.hash, "file": str(backbone)})
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"kind": "embed_head", "state_dict": head.state_dict(), "provenance": prov,
                     "history": hist.to_dict()}, ckpt)
    state.unlink(missing_ok=True)  # the checkpoint holds all of it now
    path = export(head, out / f"{name}_embed.onnx", backbone, train, recipe, prov)
    metrics = measure(HeadEmbedder(backbone, path, recipe.threads), recipe.test_seed, recipe.test_n,
                      recipe.test_frames, size=recipe.size, fps=recipe.fps, log=log)
    epochs = hist.epochs
    metrics |= {"epochs_run": len(epochs), "train_seconds": round(hist.seconds, 1),
                "parameters": sum(p.numel() for p in head.parameters())}
    if epochs:
        metrics |= {"val_loss": float(hist.best.get("val_loss", epochs[-1]["val_loss"])),
                    "val_batch_accuracy": float(hist.best.get("val_accuracy", epochs[-1].get("val_accuracy", 0)))}
    record_metrics(path, metrics)
    return {"paths": {"embed": str(path), "checkpoint": str(ckpt)}, "metrics": metrics, "hash": card.hash,
            "epochs": len(epochs), "history": [{k: round(v, 5) for k, v in e.items()} for e in epochs],
            "seconds": time.monotonic() - t0}
