"""``visionkit train shapeworld``: train, save the checkpoint, export, measure, record.

The numbers a card records are measured the way a user would measure them: the held-out
sets are written with the same code as ``visionkit data shapeworld ... --seed 10000`` and
scored by the same code as ``visionkit eval TASK --data DIR``, on the exported ONNX files.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import onnx

from visionkit.nn.checkpoints import load_checkpoint, save_checkpoint
from visionkit.nn.export import embed_card, provenance, read_card
from visionkit.nn.heads import SharedHead, registered_heads

from .export import export_shared
from .shapeworld import Recipe, SharedModel, train


def measure(
    models: Path,
    held_out: Mapping[str, tuple[int, int]] | None = None,
    log: Callable[[str], None] = print,
    heads: Sequence[SharedHead] | None = None,
) -> dict[str, dict[str, Any]]:
    """Metrics of the exported models in ``models`` on freshly generated held-out sets, head
    by head (default: every registered head); ``held_out`` maps a head's name to the
    ``(seed, pictures)`` it is measured on instead of its own default."""
    heads = registered_heads() if heads is None else heads
    files = _files(models, heads)
    return {h.name: h.measure(files, dict(held_out or {}).get(h.name, h.held_out), log) for h in heads}


def _files(models: Path, heads: Sequence[SharedHead]) -> dict[str, Path]:
    """Role -> exported file of the backbone and every head's roles."""
    roles = ["backbone"] + [role for h in heads for role in h.roles]
    return {role: models / f"shapeworld_{role}.onnx" for role in roles}


def record(
    models: Path, metrics: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any],
    heads: Sequence[SharedHead] | None = None,
) -> None:
    """Write measured metrics into the cards of the exported files, each head's into all of
    its files, ``extra`` into every card (the hash is unaffected: it covers graph and weights,
    not the card)."""
    heads = registered_heads() if heads is None else heads
    owner = {role: h.name for h in heads for role in h.roles}
    for role, path in _files(models, heads).items():
        card = read_card(path)
        numbers = dict(extra) if role == "backbone" else {**extra, **metrics.get(owner[role], {})}
        proto = onnx.load(str(path))
        embed_card(proto, card.with_(metrics=numbers))
        onnx.save_model(proto, str(path))


def state_path_for(checkpoint: str | Path) -> Path:
    """Where a run that saves ``checkpoint`` keeps its resumable training state."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".state.pt")


def train_and_export(
    out: str | Path,
    recipe: Recipe,
    *,
    checkpoint: str | Path,
    command: str,
    log: Callable[[str], None] = print,
    progress: bool = True,
    held_out: Mapping[str, tuple[int, int]] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """The whole recipe; returns paths, metrics and timings. Stage 2's training state is kept
    beside the checkpoint (``<name>.state.pt``) until the checkpoint is saved, so a stopped
    run continues with ``resume=True``."""
    t0 = time.monotonic()
    ckpt = Path(checkpoint)
    state = state_path_for(ckpt)
    model, info = train(recipe, log=log, progress=progress, state_path=state, resume=resume)
    prov = provenance(
        seed=recipe.seed, command=command, data={"generator": "shapeworld", "recipe": asdict(recipe)}
    )
    save_checkpoint({"kind": "shapeworld", "state_dict": model.state_dict(), "provenance": prov, **info}, ckpt)
    log(f"saved {ckpt}")
    state.unlink(missing_ok=True)  # the checkpoint holds all of it now
    summary = export_checkpoint(ckpt, out, log=log, held_out=held_out)
    summary["seconds"] = time.monotonic() - t0
    return summary


def checkpoint_of_state(state: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """A ``train shapeworld`` checkpoint of a run's saved state, so a long run's progress can be
    exported and measured while it goes on (its weights as they are now) or after it ended
    (its best weights, as its checkpoint holds)."""
    recipe = state.get("fingerprint", {}).get("recipe")
    if not isinstance(recipe, Mapping) or "n_detect" not in recipe:
        raise ValueError("a training state, but not of 'visionkit train shapeworld'")
    if state["finished"]:
        where = f"the end of epoch {state['epoch']}"
    else:
        where = f"epoch {state['epoch'] + 1}" + (f", batch {state['partial']['batch']}" if state["partial"] else "")
    # a finished run's checkpoint holds its best weights (fit restores them); a running one's, the latest
    done = state["finished"] and state.get("best_state") is not None
    return {
        "kind": "shapeworld",
        "state_dict": state["best_state"] if done else state["model"],
        "recipe": dict(recipe),
        "history": state["history"],
        "pretrain": state.get("extra", {}).get("stage1", {}),
        "provenance": provenance(
            seed=recipe.get("seed"), command=f"visionkit export {source}".strip(),
            data={"generator": "shapeworld", "recipe": dict(recipe)},
            training_state=f"{'finished' if state['finished'] else 'in progress'} at {where} of "
            f"{state['config']['epochs']} ({state['seconds'] / 3600:.1f} h trained)",
        ),
    }


def export_checkpoint(
    checkpoint: str | Path | Mapping[str, Any],
    out: str | Path,
    *,
    log: Callable[[str], None] = print,
    held_out: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """Export a ``train shapeworld`` checkpoint to ``out``, measure, and record the metrics."""
    ckpt = checkpoint if isinstance(checkpoint, Mapping) else load_checkpoint(checkpoint)
    if ckpt.get("kind") == "visionkit.train_state":
        ckpt = checkpoint_of_state(ckpt, "" if isinstance(checkpoint, Mapping) else str(checkpoint))
    recipe = Recipe(**ckpt["recipe"])
    model = SharedModel(recipe.arch, SharedModel.heads_in(ckpt["state_dict"]))
    model.load_state_dict(ckpt["state_dict"])
    heads = list(model.heads.values())
    out = Path(out)
    paths = export_shared(model.eval(), out, provenance=ckpt.get("provenance", {}))
    sizes = {role: round(p.stat().st_size / 1e6, 2) for role, p in paths.items()}
    log("exported " + ", ".join(f"{p.name} ({sizes[r]} MB)" for r, p in paths.items()))
    metrics = measure(out, held_out, log=log, heads=heads)
    hist = ckpt.get("history", {})
    extra = {"epochs_run": len(hist.get("epochs", []))}
    if hist.get("epochs"):  # a card holds finite numbers only: no loss before the first epoch
        extra["train_loss_last"] = float(hist["epochs"][-1]["train_loss"])
    record(out, metrics, extra, heads)
    return {
        "paths": {r: str(p) for r, p in paths.items()},
        "sizes_mb": sizes,
        "metrics": metrics,
        "hash": read_card(paths["backbone"]).hash,
    }
