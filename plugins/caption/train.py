"""Training the captioner on the frozen backbone's cached maps.

    visionkit train caption --out assets/models --seed 0
    visionkit train caption --data my_captions/ --out runs/caption

The pictures (ShapeWorld caption scenes of set ``seed``, or a COCO captions set) go through the
backbone once, in onnxruntime, and their c2 to c5 are cached as float16 memory maps
(:func:`visionkit.nn.feature_cache.picture_cache`); only the decoder trains. Each epoch takes
every training picture once with one of its references drawn at random (a ShapeWorld scene's
plainest one with the extra chance ``plain_share``), and trains by teacher
forcing: the true previous word is the input of every step, the loss the cross-entropy of the
next one. ``sample_max`` > 0 adds scheduled sampling (Bengio et al. 2015): the chance that a
step's input is the model's own previous word instead rises linearly to it over the epochs.
On ShapeWorld the encoder's cell probes (``probes``) learn, beside the words, which cells hold a
shape's centre and of which class and colour (:meth:`ShapeWorldCaptions.cell_targets`,
:func:`probe_loss`). Early stopping watches the validation loss of the words. Exported:
``OUT/NAME_caption.onnx`` (the encoder, its card holding the vocabulary) and
``OUT/NAME_caption_step.onnx`` (its ``step`` part), both
checked against torch; the held-out set (ShapeWorld seed 10000, or ``--test-data``) is then
captioned through the whole pipeline and the numbers written into the card.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from visionkit.cards import InputSpec
from visionkit.data.caption_sets import CaptionSet, read_caption_set
from visionkit.data.captions import CAPTION_SIZE, scene_captions
from visionkit.data.captions import VERSION as SCENES_VERSION
from visionkit.data.scene_arrays import SceneArrays
from visionkit.data.shapes import CLASSES
from visionkit.data.shapeworld import PALETTE, SceneObject, render
from visionkit.errors import InputError, UsageError
from visionkit.nn.export import export_head, provenance, read_card, record_metrics, verify_onnx
from visionkit.nn.feature_cache import picture_cache, read_backbone
from visionkit.nn.recipes.transfer import DEFAULT_BACKBONE
from visionkit.nn.trainer import TrainConfig, fit
from visionkit.preprocess import preprocess

from .evaluate import caption_metrics, run_captions
from .head import FEATURES, Captioner, captioner
from .metrics import tokens
from .vocab import Vocabulary

UNREADABLE = -2  # a picture's label in the cache when its file could not be read
BUCKET = 20  # batches whose rows are sorted by caption length together
_ODD = re.compile(r"[^A-Za-z0-9'\s.,;:!?()\"-]")


@dataclass
class CaptionRecipe:
    """Everything that decides the decoder's weights, given the backbone and the data."""

    seed: int = 0
    # ShapeWorld training scenes (set ``seed``): more scenes seen fewer times; 30,000 for 8 epochs
    # train in 23 to 29 minutes on two cores
    n_train: int = 30000
    n_val: int = 500  # validation scenes (set ``seed + 5000``), or this share of --data, below
    val_fraction: float = 0.05
    epochs: int = 8
    # small batches: the same epochs in 4x the steps; at 128 a probe of the same features learnt
    # the scenes' colours far slower per epoch, at nearly the same cost per picture
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    patience: int | None = 6
    dim: int = 256
    attn: int = 128  # 256 trained 1.5x slower (additive attention over 196 cells is most of a step)
    hidden: int = 256
    embed: int = 128
    dropout: float = 0.1  # 0.3 left the training loss above the validation loss: too much
    # what plain soft attention cannot see (see :mod:`.head`): a grid summary of the layout in the
    # first state, the attended position in the context, and how widely the attention spreads
    layout: int = 3
    where: bool = True
    spread: bool = True
    # cell probes (centre, class, colour) trained on the scenes' objects, read by the decoder as
    # counts (see :mod:`.head`); ShapeWorld only: a COCO set names no centres
    probes: bool = True
    probe_weight: float = 0.5  # the probes' share of the loss, beside the words'
    # a centre's group size in its attention key, and a state that remembers where the words
    # before looked (see :mod:`.head`)
    size_keys: bool = True
    recall: bool = True
    # the chance that a ShapeWorld scene's training caption is its plainest one (the first
    # reference) rather than any of the five: a captioner then speaks in one voice, not in a
    # mixture of phrasings; a COCO set's references are all drawn alike
    plain_share: float = 0.5
    max_words: int = 24  # longer captions are cut to this many words
    min_count: int = 1  # words seen fewer times are <unk>
    sample_max: float = 0.0  # scheduled sampling's final chance (0: teacher forcing only)
    threads: int | None = None
    # the held-out measurement (decides no weights)
    test_seed: int = 10000
    test_n: int = 500
    beam: int = 3

    def decisive(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("threads", "beam") and not k.startswith("test_")}


# -- the pictures ------------------------------------------------------------------------------------------
def _arrays(images: list[np.ndarray], labels: list[int], spec: InputSpec) -> SceneArrays:
    n = len(images)
    return SceneArrays(np.stack(images), np.zeros((n, *spec.size), np.uint8), [np.zeros((0, 4), np.float32)] * n,
                       [np.zeros(0, np.int64)] * n, [np.zeros((0, 0, 3), np.float32)] * n, np.array(labels, np.int64))


class ShapeWorldCaptions:
    """Caption scenes ``0..n-1`` of set ``seed``, as :func:`picture_cache` reads pictures."""

    joints: tuple[str, ...] = ()

    def __init__(self, seed: int, n: int, size: int = CAPTION_SIZE):
        self.seed, self.n, self.size = seed, n, size
        made = [scene_captions(seed, i, size) for i in range(n)]
        self.scenes = [truth.scene for truth, _ in made]
        self.captions = [refs for _, refs in made]

    def __len__(self) -> int:
        return self.n

    def fingerprint(self) -> dict[str, Any]:
        return {"kind": "shapeworld captions", "version": SCENES_VERSION, "seed": self.seed, "n": self.n,
                "size": self.size}

    def arrays(self, start: int, stop: int, spec: InputSpec) -> SceneArrays:
        images = [preprocess(render(scene), spec)[0][0] for scene in self.scenes[start:stop]]
        return _arrays(images, [-1] * len(images), spec)

    def cell_targets(self, cells: int) -> np.ndarray:
        """What the probes learn: ``(n, 2, cells, cells)`` int8, per cell of a ``cells`` x
        ``cells`` grid the class and the colour index of the shape whose centre lies in it, -1
        where none does. Two shapes' centres never share a cell at 14 x 14 (they lie further
        apart than a cell's diagonal); the clutter under the shapes (z < 0) is no shape."""
        out = np.full((self.n, 2, cells, cells), -1, np.int8)
        colours = list(PALETTE)
        for i, scene in enumerate(self.scenes):
            for obj in scene.items:
                if isinstance(obj, SceneObject) and obj.z >= 0:
                    x, y = obj.centre
                    r = min(cells - 1, int(y * cells / scene.height))
                    c = min(cells - 1, int(x * cells / scene.width))
                    out[i, :, r, c] = obj.class_id, colours.index(obj.colour_name)
        return out


class CaptionFiles:
    """A COCO captions set's pictures; one that cannot be read is cached blank and left out."""

    joints: tuple[str, ...] = ()

    def __init__(self, captions: CaptionSet, indices: Sequence[int] | None = None):
        self.set = captions
        self.indices = list(range(len(captions))) if indices is None else list(indices)
        self.captions = [captions.captions[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def fingerprint(self) -> dict[str, Any]:
        stats = []
        for i in self.indices:
            p = self.set.paths[i]
            st = p.stat() if p.is_file() else None
            stats.append([str(p), st.st_size if st else -1, st.st_mtime_ns if st else -1])
        digest = hashlib.sha256(json.dumps([stats, self.captions]).encode()).hexdigest()[:16]
        return {"kind": "coco captions", "pictures": len(self), "files": digest}

    def arrays(self, start: int, stop: int, spec: InputSpec) -> SceneArrays:
        from visionkit.imageio import read_image

        images, labels = [], []
        for i in self.indices[start:stop]:
            try:
                image, label = preprocess(read_image(self.set.paths[i]), spec)[0][0], -1
            except InputError:
                image, label = np.zeros((*spec.size, 3), np.uint8), UNREADABLE
            images.append(image)
            labels.append(label)
        return _arrays(images, labels, spec)


# -- batches -----------------------------------------------------------------------------------------------
class CaptionBatches:
    """Batches of cached maps and one reference caption each, as padded token ids. Training
    shuffles and draws the references from the trainer's generator (a resumed run draws the
    same); validation takes every reference of every picture, in order (scored on its first
    reference alone, the validation loss rose while the captions got better: the model was
    settling on other phrasings, and early stopping kept a worse epoch)."""

    def __init__(self, cache, encoded: list[list[list[int]]], recipe: CaptionRecipe, train: bool,
                 plain_share: float = 0.0, targets: np.ndarray | None = None):
        labels = np.asarray(cache.image_labels)
        self.rows = np.flatnonzero(labels != UNREADABLE)
        self.cache, self.encoded, self.recipe, self.train = cache, encoded, recipe, train
        self.plain_share = plain_share
        self.targets = targets  # the probes' (:meth:`ShapeWorldCaptions.cell_targets`), or None

    def num_batches(self) -> int:
        n = len(self.rows) if self.train else sum(len(self.encoded[i]) for i in self.rows)
        return -(-n // self.recipe.batch_size)

    def sample_p(self, epoch: int) -> float:
        span = max(1, self.recipe.epochs - 1)
        return self.recipe.sample_max * min(1.0, epoch / span) if self.train else 0.0

    def batches(self, epoch: int, generator: torch.Generator):
        rows = self.rows
        bs = self.recipe.batch_size
        if self.train:
            rows = rows[torch.randperm(len(rows), generator=generator).numpy()]
            picks = torch.randint(1 << 30, (len(rows),), generator=generator).numpy()
            if self.plain_share > 0:
                picks[torch.rand(len(rows), generator=generator).numpy() < self.plain_share] = 0
            seqs = {int(i): self.encoded[i][int(p) % len(self.encoded[i])] for i, p in zip(rows, picks)}
            # alike lengths together: a step runs the decoder to its batch's longest caption, so
            # within each stretch of BUCKET batches the rows are sorted by length (then the
            # batches shuffled): 30 % fewer decoder steps than random batches of these captions
            span = bs * BUCKET
            rows = np.concatenate([sorted(rows[k:k + span], key=lambda i: len(seqs[int(i)]))
                                   for k in range(0, len(rows), span)]) if len(rows) else rows
            groups = [rows[k:k + bs] for k in range(0, len(rows), bs)]
            groups = [groups[int(j)] for j in torch.randperm(len(groups), generator=generator)]
        else:  # every reference of every picture: the model is not told which phrasing to prefer
            pairs = [(int(i), j) for i in rows for j in range(len(self.encoded[i]))]
            for k in range(0, len(pairs), bs):
                idx = np.array([i for i, _ in pairs[k:k + bs]])
                yield self._batch(idx, [self.encoded[i][j] for i, j in pairs[k:k + bs]], epoch)
            return
        for group in groups:
            idx = np.sort(group)
            yield self._batch(idx, [seqs[int(i)] for i in idx], epoch)

    def _batch(self, idx: np.ndarray, chosen: list[list[int]], epoch: int) -> dict[str, Any]:
        tokens = np.zeros((len(idx), max(len(c) for c in chosen)), np.int64)  # <pad> is 0
        for j, c in enumerate(chosen):
            tokens[j, :len(c)] = c
        feats = self.cache.features(idx, np.zeros(len(idx), np.int64))
        batch = {**{k: torch.from_numpy(feats[k]) for k in FEATURES}, "tokens": torch.from_numpy(tokens),
                 "sample_p": self.sample_p(epoch)}
        if self.targets is not None:
            batch["cells"] = torch.from_numpy(self.targets[idx].astype(np.int64))
        return batch


CENTRE_POS_WEIGHT = 10.0  # a scene's two to six centres among 196 cells: without it the probe says "none"


def probe_loss(probed: Tensor, cells: Tensor, classes: int) -> Tensor:
    """The probes' loss: binary cross-entropy of "a centre lies here" on every cell, and the
    class's and the colour's cross-entropy on the cells that hold one."""
    centre = cells[:, 0] >= 0
    loss = F.binary_cross_entropy_with_logits(probed[:, 0], centre.float(),
                                              pos_weight=torch.tensor(CENTRE_POS_WEIGHT))
    if centre.any():
        at = probed.permute(0, 2, 3, 1)[centre]  # (cells with a centre, 1 + classes + colours)
        loss = loss + F.cross_entropy(at[:, 1:1 + classes], cells[:, 0][centre]) \
            + F.cross_entropy(at[:, 1 + classes:], cells[:, 1][centre])
    return loss


def step(model: Captioner, batch: dict[str, Any], generator: torch.Generator, train: bool,
         probe_weight: float = 0.0):
    tokens: Tensor = batch["tokens"]
    sample_p = batch["sample_p"] if train else 0.0
    logits, _, probed = model(*(batch[k] for k in FEATURES), tokens[:, :-1], sample_p, generator)
    target = tokens[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1), ignore_index=0)
    real = target != 0
    correct = ((logits.argmax(-1) == target) & real).sum()
    # the probes train beside the words; validation's loss (what early stopping watches) is the words' alone
    if train and probed is not None and "cells" in batch and probe_weight > 0:
        loss = loss + probe_weight * probe_loss(probed, batch["cells"], model.encoder.probes[0])
    return loss, {"count": float(real.sum()), "correct": float(correct)}


# -- export ------------------------------------------------------------------------------------------------
def export(model: Captioner, out: Path, name: str, backbone: str | Path, shapes: dict[str, tuple[int, ...]],
           vocab: Vocabulary, recipe: CaptionRecipe, prov: dict[str, Any]) -> tuple[Path, Path]:
    """Write the encoder (with the vocabulary and its ``step`` part in its card) and the step
    graph, and check both in onnxruntime against torch."""
    card = read_card(backbone)
    model.eval()
    enc_path, step_path = out / f"{name}_caption.onnx", out / f"{name}_caption_step.onnx"
    config = {"vocab": list(vocab.words), "decoder": "soft attention GRU (Show, Attend and Tell)",
              "max_words_trained": recipe.max_words}
    export_head(model.encoder, enc_path, feature_shapes={k: shapes[k] for k in FEATURES}, backbone_card=card,
                name=enc_path.stem, task="caption", output="captions", output_names=("memory", "keys", "state"),
                options={"beam": recipe.beam}, provenance=prov, config=config, dynamic_spatial=False,
                parts={"step": step_path.name})
    rng = np.random.default_rng(0)
    feats = {k: rng.standard_normal(shapes[k]).astype(np.float32) for k in FEATURES}
    verify_onnx(enc_path, model.encoder, feats, tol=1e-3)
    with torch.no_grad():
        memory, keys, state = model.encoder(*(torch.from_numpy(feats[k]) for k in FEATURES))
    b = 3
    example = {"token": torch.tensor([1, 5, 7], dtype=torch.int64), "state": state.repeat(b, 1),
               "memory": memory.repeat(b, 1, 1), "keys": keys.repeat(b, 1, 1)}
    export_head(model.step, step_path, feature_shapes={}, backbone_card=card, name=step_path.stem, task="caption",
                output="word_scores", output_names=("logprobs", "next_state", "attention"), extra_inputs=example,
                provenance=prov, config={"vocab_size": len(vocab)})
    verify_onnx(step_path, model.step, {k: v.numpy() for k, v in example.items()}, tol=1e-3)
    return enc_path, step_path


# -- measuring ---------------------------------------------------------------------------------------------
def measure(model_path: Path, backbone: str | Path, items: list[tuple[str, Any, Sequence[str]]], beam: int,
            threads: int | None, progress: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Caption ``items`` through a pipeline (backbone, then the exported graphs) and score them;
    ``caption_ms`` is the median time of the caption task per picture, after the backbone.
    Pictures that fail are logged and counted (``failed``), the rest scored."""
    from visionkit.pipeline import Pipeline

    pipe = Pipeline(["caption"], models={"caption": str(model_path)}, backbone=str(backbone), device="cpu",
                    threads=threads)
    pipe.set_options("caption", beam=beam, captions=1)
    times: list[float] = []
    best, refs, failures = run_captions(pipe, items, len(items), progress=progress, label="held-out captions",
                                        times=times)
    for _, why in failures:
        log(f"held-out: {why}")
    if not best:
        raise InputError(f"no held-out picture could be captioned; the first: {failures[0][1]}")
    out = caption_metrics(best, refs)
    out |= {"images": len(best), "failed": len(failures), "beam": beam,
            "caption_ms": round(statistics.median(times), 2)}
    return out


def held_out_scenes(seed: int, n: int) -> list[tuple[str, Any, Sequence[str]]]:
    out = []
    for i in range(n):
        truth, refs = scene_captions(seed, i)
        out.append((f"scene {i} of set {seed}", render(truth.scene), refs))
    return out


# -- the whole run -----------------------------------------------------------------------------------------
def train_and_export(out: str | Path, recipe: CaptionRecipe, backbone: str | Path = DEFAULT_BACKBONE, *,
                     data: str | Path | None = None, test_data: str | Path | None = None,
                     cache_root: str | Path = "runs/feature_cache", name: str = "shapeworld",
                     command: str | None = None, resume: bool = False, limit_gb: float = 12.0,
                     log: Callable[[str], None] = print, progress: bool = True) -> dict[str, Any]:
    """Cache, train, export, measure and record; returns a summary."""
    from visionkit.nn.checkpoints import save_checkpoint
    from visionkit.nn.train_state import saved_state

    t0 = time.monotonic()
    out = Path(out)
    card = read_backbone(backbone)
    if data is not None:
        train_set, val_set, data_info = _user_sets(data, recipe)
    else:
        train_set = ShapeWorldCaptions(recipe.seed, recipe.n_train)
        val_set = ShapeWorldCaptions(recipe.seed + 5000, recipe.n_val)
        data_info = {"kind": "shapeworld captions", "train": [recipe.seed, recipe.n_train],
                     "val": [recipe.seed + 5000, recipe.n_val]}
    for line in caption_notes(train_set.captions, recipe.max_words):
        log(line)
    probes = recipe.probes and data is None
    if recipe.probes and not probes:
        log("the cell probes train on ShapeWorld scenes' objects; a captions set has none, "
            "so they are left out")
    vocab = Vocabulary.from_captions((c for caps in train_set.captions for c in caps), recipe.min_count)
    ckpt, state = out / f"{name}_caption.pt", out / f"{name}_caption.state.pt"
    fingerprint = {"recipe": recipe.decisive(), "backbone": card.hash, "data": train_set.fingerprint(),
                   "vocab": len(vocab)}
    saved_state(state, resume, fingerprint)  # refuses before minutes of caching are spent
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    caches = [picture_cache(backbone, s, cache_root, copies=1, maps=FEATURES, limit_gb=limit_gb,
                            progress=progress, log=log) for s in (train_set, val_set)]
    bad = int((np.asarray(caches[0].image_labels) == UNREADABLE).sum())
    if bad:
        log(f"{bad} training pictures could not be read and are left out")
    encode = [[[vocab.encode(c, recipe.max_words) for c in caps] for caps in s.captions] for s in (train_set, val_set)]
    torch.manual_seed(recipe.seed)
    model = captioner(card.options.get("channels") or {k: s[1] for k, s in caches[0].feature_shapes.items()},
                      len(vocab), dim=recipe.dim, attn=recipe.attn, hidden=recipe.hidden, embed=recipe.embed,
                      dropout=recipe.dropout, layout=recipe.layout, where=recipe.where, spread=recipe.spread,
                      probes=(len(CLASSES), len(PALETTE)) if probes else None,
                      size_keys=recipe.size_keys, recall=recipe.recall)
    cfg = TrainConfig(epochs=recipe.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay, optimizer="adamw",
                      warmup_epochs=1.0, schedule="cosine", grad_clip=5.0, monitor="loss", mode="min",
                      patience=recipe.patience, bf16=False, seed=recipe.seed, threads=recipe.threads,
                      progress=progress)
    plain = recipe.plain_share if data is None else 0.0  # a COCO set's first reference is no plainer
    targets = train_set.cell_targets(int(caches[0].feature_shapes["c4"][-1])) if probes else None
    hist = fit(model, CaptionBatches(caches[0], encode[0], recipe, True, plain, targets),
               CaptionBatches(caches[1], encode[1], recipe, False),
               partial(step, probe_weight=recipe.probe_weight), cfg, log=log, state_path=state, resume=resume,
               fingerprint=fingerprint)
    if test_data is not None:
        test = read_caption_set(test_data)
        items = [(str(p), str(p), refs) for p, refs in zip(test.paths, test.captions)]
        where = str(test_data)
    elif data is None:
        items, where = held_out_scenes(recipe.test_seed, recipe.test_n), \
            f"shapeworld captions, seed {recipe.test_seed}, {recipe.test_n} scenes"
    else:
        items, where = [], None
    prov = provenance(seed=recipe.seed, command=command, recipe=recipe.decisive(), data=data_info,
                      backbone={"name": card.name, "hash": card.hash, "file": str(backbone)}, measured_on=where)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"kind": "caption_decoder", "state_dict": model.state_dict(), "vocab": list(vocab.words),
                     "provenance": prov, "history": hist.to_dict()}, ckpt)
    state.unlink(missing_ok=True)  # the checkpoint holds all of it now
    enc_path, step_path = export(model, out, name, backbone, caches[0].feature_shapes, vocab, recipe, prov)
    metrics: dict[str, Any] = {}
    if items:
        metrics = measure(enc_path, backbone, items, recipe.beam, recipe.threads, progress, log)
        if test_data is None:
            metrics["test_seed"] = recipe.test_seed
    epochs = hist.epochs
    metrics |= {"epochs_run": len(epochs), "train_seconds": round(hist.seconds, 1), "vocabulary": len(vocab),
                "parameters": sum(p.numel() for p in model.parameters())}
    if epochs:
        metrics |= {"val_loss": round(float(hist.best.get("val_loss", epochs[-1]["val_loss"])), 5),
                    "val_word_accuracy": round(float(hist.best.get("val_accuracy", 0.0)), 5)}
    record_metrics(enc_path, metrics)
    return {"paths": {"caption": str(enc_path), "step": str(step_path), "checkpoint": str(ckpt)},
            "metrics": metrics, "hash": card.hash, "epochs": len(epochs),
            "history": [{k: round(v, 5) for k, v in e.items()} for e in epochs], "seconds": time.monotonic() - t0}


def _user_sets(data: str | Path, recipe: CaptionRecipe):
    captions = read_caption_set(data)
    n = len(captions)
    if n < 2:
        raise UsageError(f"{data}: {n} captioned picture; training needs some to validate on")
    order = np.random.default_rng(recipe.seed).permutation(n)
    n_val = max(1, int(round(n * recipe.val_fraction)))
    val, train = sorted(order[:n_val].tolist()), sorted(order[n_val:].tolist())
    info = {"kind": "coco captions", "file": str(captions.source), "train": len(train), "val": len(val)}
    return CaptionFiles(captions, train), CaptionFiles(captions, val), info


def caption_notes(captions: Sequence[Sequence[str]], max_words: int) -> list[str]:
    """What training will do to captions it cannot take as they are."""
    texts = [c for caps in captions for c in caps]
    long = sum(len(tokens(c)) > max_words for c in texts)
    odd = sum(bool(_ODD.search(c)) for c in texts)
    notes = []
    if long:
        notes.append(f"{long} of {len(texts)} captions have more than {max_words} words; "
                     "their first words are kept (--max-words)")
    if odd:
        notes.append(f"{odd} of {len(texts)} captions hold characters other than English letters, digits and "
                     "punctuation; those characters are dropped")
    return notes
