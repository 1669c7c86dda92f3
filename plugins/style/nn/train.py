"""``visionkit train style``: a fast style network for one style, with a perceptual loss on the
frozen ImageNet backbone.

The network (:mod:`.transformer`) learns to repaint any picture in the style of one picture (a
file, or a built-in painting by name): on random crops of the content pictures, its output's
``c4`` map must match the crop's and the Gram matrices of its ``c2``-``c4`` maps the style
picture's (the loss of :mod:`.gatys`), under a total-variation prior. Content pictures come
from the user's folder or the scikit-image wheel's photos (:mod:`.pictures`). A run saves its state
every ``checkpoint_every`` steps (``OUT/NAME_style.state.pt``) and continues from it with
``resume``; each step's crops follow from the seed and the step number alone, so a resumed run
sees the same pictures an uninterrupted one would. The result is a single-file ONNX model with
its card (output ``image``, RGB 0-255 in and out), checked against torch in onnxruntime; the
card's losses are measured on crops no step drew (:func:`evaluate`).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from visionkit.cards import InputSpec, ModelCard
from visionkit.errors import UsageError
from visionkit.imageio import read_image
from visionkit.nn.checkpoints import load_checkpoint, save_checkpoint
from visionkit.nn.export import export_model, provenance, verify_onnx

from ..paintings import painting, parse_name
from .gatys import LossNetwork, at_long_side
from .pictures import load_pictures, random_crop
from .transformer import transformer_net

DEFAULT_BACKBONE = "asset:efficientnet_lite0_backbone.onnx"
STATE_VERSION = 1


@dataclass(frozen=True)
class StyleRecipe:
    size: int = 256  # side of the training crops
    steps: int = 2000
    batch_size: int = 4
    lr: float = 1e-3
    style_weight: float = 5.0
    content_weight: float = 1.0
    tv_weight: float = 0.02
    width: int = 32
    export_size: int = 320  # the card's input side: what the style task resizes a frame to
    checkpoint_every: int = 100
    seed: int = 0

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the one it continues (not its length)."""
        return {k: v for k, v in asdict(self).items() if k not in ("steps", "checkpoint_every")}


def continue_from(state_path: Path, resume: bool, recipe, net, opt, log: Callable[[str], None]) -> int:
    """The step a run starts at: 0, or where the state at ``state_path`` stopped (loaded into
    ``net`` and ``opt``) when ``resume``; one line for a state that a fresh start would
    overwrite, or one saved with another ``recipe.fingerprint()``."""
    if not state_path.is_file():
        return 0
    state = load_checkpoint(state_path, "style training state")
    if not resume:
        raise UsageError(f"{state_path} holds a run stopped at step {state['step']}: continue it with --resume, "
                         "or delete the file to start again")
    if state.get("fingerprint") != recipe.fingerprint():
        raise UsageError(f"{state_path} was saved by a run with other options; give the same ones, or delete it")
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    log(f"continuing at step {state['step']} of {recipe.steps}")
    return int(state["step"])


def save_state(state_path: Path, recipe, step: int, net, opt) -> None:
    save_checkpoint({"version": STATE_VERSION, "fingerprint": recipe.fingerprint(), "step": step,
                     "model": net.state_dict(), "optimizer": opt.state_dict()}, state_path)


def batch_of_crops(pictures: list[np.ndarray], seed: int, step: int, recipe: StyleRecipe) -> np.ndarray:
    """(N, size, size, 3) uint8 random crops, some flipped: a function of (seed, step) alone."""
    rng = np.random.default_rng([seed, step])
    return np.stack([random_crop(rng, pictures[int(rng.integers(len(pictures)))], recipe.size)
                     for _ in range(recipe.batch_size)])


#: crops the finished network is measured on, drawn from a stream no training step uses
EVAL_CROPS = 8
EVAL_STREAM = 2**31 - 1


def held_out_losses(loss_net: LossNetwork, measured: Iterable[tuple]) -> dict[str, float]:
    """Mean content and style losses of a network's pictures, and the style loss of the
    content pictures as they are (how far they start from the style). ``measured`` yields
    (content (1, H, W, 3), its maps, the network's picture of it, the style's Gram targets);
    it is consumed without gradients."""
    totals, count = np.zeros(3), 0
    with torch.no_grad():
        for content, maps, styled, grams in measured:
            target = maps[loss_net.content_layer]
            content_loss, style_loss, _ = loss_net.losses(styled, target, grams)
            _, unstyled, _ = loss_net.measure(maps, content, target, grams)
            totals += (float(content_loss), float(style_loss), float(unstyled))
            count += 1
    content_loss, style_loss, unstyled = (float(v) for v in totals / count)
    return {"content_loss": round(content_loss, 6), "style_loss": round(style_loss, 6),
            "style_loss_of_content": round(unstyled, 6)}


def evaluate(net, loss_net: LossNetwork, pictures: list[np.ndarray], grams, recipe: StyleRecipe) -> dict[str, float]:
    """:func:`held_out_losses` of the network on crops no step drew."""
    rng = np.random.default_rng([recipe.seed, EVAL_STREAM])
    crops = [random_crop(rng, pictures[int(rng.integers(len(pictures)))], recipe.size) for _ in range(EVAL_CROPS)]
    net.eval()

    def measured():
        for crop in crops:
            c = torch.from_numpy(crop.astype(np.float32))[None]
            yield c, loss_net.maps(c), net(c.permute(0, 3, 1, 2)).permute(0, 2, 3, 1), grams

    return held_out_losses(loss_net, measured())


def train_style(style: str | Path, content: str | Path, out: str | Path, recipe: StyleRecipe = StyleRecipe(), *,
                backbone: str | Path, name: str | None = None, resume: bool = False,
                command: str | None = None, log: Callable[[str], None] = print,
                progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Train (or continue), export ``OUT/NAME_style.onnx`` and return what was written and reached.

    ``backbone`` is the loss network's ONNX file (the bundled one is
    ``visionkit.bundled.resolve_model(DEFAULT_BACKBONE)``)."""
    named = parse_name(str(style))
    name = name or (str(style).replace(":", "_") if named else Path(style).stem)
    if recipe.size < 64 or recipe.export_size < 32:
        raise UsageError("--size is at least 64 and --export-size at least 32: the loss network's deep maps "
                         "need room")
    out = Path(out)
    state_path = out / f"{name}_style.state.pt"
    style_image = at_long_side(painting(*named, recipe.size) if named else read_image(style), recipe.size, "style")
    pictures, names = load_pictures(content, recipe.size, log)
    torch.manual_seed(recipe.seed)
    net = transformer_net(recipe.width)
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    start = continue_from(state_path, resume, recipe, net, opt, log)
    loss_net = LossNetwork(backbone)
    for p in loss_net.net.parameters():
        p.requires_grad_(False)
    grams = loss_net.style_grams(torch.from_numpy(style_image.astype(np.float32))[None])
    began = time.perf_counter()
    losses = (float("nan"),) * 3
    net.train()
    for step in range(start, recipe.steps):
        crops = torch.from_numpy(batch_of_crops(pictures, recipe.seed, step, recipe).astype(np.float32))
        with torch.no_grad():
            target = loss_net.maps(crops)[loss_net.content_layer]
        styled = net(crops.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        cl, sl, tv = loss_net.losses(styled, target, grams)
        loss = recipe.content_weight * cl + recipe.style_weight * sl + recipe.tv_weight * tv
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses = (float(cl.detach()), float(sl.detach()), float(tv.detach()))
        if progress:
            progress(step + 1, recipe.steps, float(loss.detach()))
        if (step + 1) % recipe.checkpoint_every == 0 or step + 1 == recipe.steps:
            save_state(state_path, recipe, step + 1, net, opt)
    made = {"painting": str(style)} if named else {
        "file": Path(style).name, "sha256": hashlib.sha256(Path(style).read_bytes()).hexdigest()}
    metrics = {**evaluate(net, loss_net, pictures, grams, recipe), "steps": recipe.steps}
    if start < recipe.steps:  # the last batch's own losses, where this call trained at all
        metrics.update(last_step_content_loss=round(losses[0], 6), last_step_style_loss=round(losses[1], 6))
    card = ModelCard(task="style", name=f"{name}_style", output="image",
                     input=InputSpec(size=(recipe.export_size, recipe.export_size), layout="NCHW", dtype="float32",
                                     channel_order="rgb", scale=1.0),
                     metrics=metrics,
                     provenance=provenance(seed=recipe.seed, command=command, data={
                         "style": made,
                         "content": {"source": str(content), "pictures": names}},
                         recipe=asdict(recipe), loss_network=Path(backbone).name))
    path = out / f"{name}_style.onnx"
    probe = torch.rand(1, 3, 64, 64) * 255
    with warnings.catch_warnings():
        # instance norm always uses the picture's own statistics, in training and after it
        warnings.filterwarnings("ignore", "ONNX export mode is set to TrainingMode.EVAL", UserWarning)
        warnings.filterwarnings("ignore", "Constant folding", UserWarning)  # the odd-size resize's slices
        export_model(net, path, card=card, example=(probe,), input_names=["image"], output_names=["styled"],
                     dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                   "styled": {0: "batch", 2: "height", 3: "width"}})
    parity = verify_onnx(path, net, {"image": probe.numpy()}, tol=1e-3)
    seconds = time.perf_counter() - began
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): on {EVAL_CROPS} held-out crops content "
        f"{metrics['content_loss']:.4f}, style {metrics['style_loss']:.4f} (the crops as they are: "
        f"{metrics['style_loss_of_content']:.4f}) after {recipe.steps} steps; onnxruntime within {parity:.1e} of torch")
    return {"path": str(path), "metrics": metrics, "seconds": round(seconds, 1), "parity": parity,
            "parameters": sum(p.numel() for p in net.parameters())}
