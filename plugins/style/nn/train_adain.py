"""``visionkit train adain``: the decoder of the arbitrary-style network (:mod:`.adain`).

Each step takes a batch of content crops and as many style pictures, encodes both with the
frozen backbone, renormalises the content's ``c2``-``c4`` maps with the style's statistics
(AdaIN) and decodes them. The loss is measured on the decoded picture by the same backbone:
its ``c4`` map must match the renormalised one (content), the Gram matrices of its ``c2``-``c4``
maps the style picture's (the loss of :mod:`.gatys`, so that ``style score`` judges every
method alike), and the per-channel means and deviations of its maps the style's (the paper's
style loss), under a total-variation prior. The card's metrics are measured after training
on pairs no step drew (:func:`evaluate`): the content loss is against the photo's own ``c4``
map, as ``style score`` measures it.

Style pictures come from folders, the scikit-image wheel's textures, or ``paintings``: a new
picture from :mod:`visionkit.plugins.style.paintings` for every item of every step, so the
decoder never sees one style twice. Batches are a function of (seed, step) alone and the state
is saved every ``checkpoint_every`` steps: ``resume`` continues a run as if it had not stopped.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from visionkit.errors import UsageError
from visionkit.nn.export import export_head, provenance, verify_onnx
from visionkit.runtime import load_model

from ..paintings import random_painting
from .adain import LAYERS, adain, adain_decoder
from .gatys import LossNetwork
from .pictures import WHEEL_TEXTURES, load_pictures, random_crop
from .train import continue_from, held_out_losses, save_state

#: the style source that draws a new painting for each picture
PAINTINGS = "paintings"


@dataclass(frozen=True)
class AdainRecipe:
    size: int = 256  # side of the content crops and style pictures
    steps: int = 6000
    batch_size: int = 4
    lr: float = 1e-3
    content_weight: float = 1.0
    # measured over 250-step runs (held-out content / style loss): these 1/1/1 reached 0.90 / 0.64,
    # style 5 and moments 2 reached 1.11 / 0.63 (no better style, worse content), content 5 0.51 / 0.87
    style_weight: float = 1.0  # Gram matrices at c2-c4
    moments_weight: float = 1.0  # per-channel means and deviations at c2-c5
    tv_weight: float = 0.02
    width: int = 64
    checkpoint_every: int = 100
    seed: int = 0

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the one it continues (not its length)."""
        return {k: v for k, v in asdict(self).items() if k not in ("steps", "checkpoint_every")}


class StyleSource:
    """Style pictures for a step: paintings drawn on the spot and/or pictures from folders."""

    def __init__(self, sources: Sequence[str], size: int, log: Callable[[str], None]) -> None:
        self.size = size
        self.paintings = PAINTINGS in sources
        self.pictures: list[np.ndarray] = []
        self.names: list[str] = []
        for source in sources:
            if source != PAINTINGS:
                pictures, names = load_pictures(source, size, log, wheel_files=WHEEL_TEXTURES)
                self.pictures += pictures
                self.names += names
        if not self.paintings and not self.pictures:
            raise UsageError("--styles names no pictures")

    def pick(self, rng: np.random.Generator) -> np.ndarray:
        if self.pictures and (not self.paintings or rng.random() < 0.5):
            return random_crop(rng, self.pictures[int(rng.integers(len(self.pictures)))], self.size, (0.5, 1.0))
        return random_painting(rng, self.size)

    def describe(self) -> dict[str, Any]:
        return {"paintings": self.paintings, "pictures": self.names}


def moments(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return f.mean((2, 3)), f.std((2, 3))


#: pairs the finished decoder is measured on, drawn from a stream no training step uses
EVAL_PAIRS = 8
EVAL_STREAM = 2**31 - 1


def evaluate(net, loss_net: LossNetwork, pictures: list[np.ndarray], recipe: AdainRecipe) -> dict[str, float]:
    """:func:`.train.held_out_losses` of the decoder on pairs no step drew: crops of the
    content pictures and new paintings."""
    rng = np.random.default_rng([recipe.seed, EVAL_STREAM])
    crops = np.stack([random_crop(rng, pictures[int(rng.integers(len(pictures)))], recipe.size, (0.4, 1.0))
                      for _ in range(EVAL_PAIRS)])
    styles = np.stack([random_painting(rng, recipe.size) for _ in range(EVAL_PAIRS)])
    net.eval()

    def measured():
        for crop, style in zip(crops, styles):
            c, s = (torch.from_numpy(a.astype(np.float32))[None] for a in (crop, style))
            fc, fs = loss_net.maps(c), loss_net.maps(s)
            styled = net(*(adain(fc[layer], fs[layer]) for layer in LAYERS)).permute(0, 2, 3, 1)
            yield c, fc, styled, {layer: loss_net.gram(fs[layer]) for layer in loss_net.style_layers}

    return held_out_losses(loss_net, measured())


def train_adain(content: str | Path, styles: Sequence[str], out: str | Path, recipe: AdainRecipe = AdainRecipe(), *,
                backbone: str | Path, name: str = "style_adain", resume: bool = False, command: str | None = None,
                log: Callable[[str], None] = print,
                progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Train (or continue) the decoder, export ``OUT/NAME.onnx`` (a head on ``backbone``) and
    return what was written and reached."""
    if recipe.size < 64:
        raise UsageError("--size is at least 64: the loss network's deep maps need room")
    out = Path(out)
    state_path = out / f"{name}.state.pt"
    pictures, names = load_pictures(content, recipe.size, log)
    style_source = StyleSource(styles, recipe.size, log)
    loss_net = LossNetwork(backbone, content_layer="c4", style_layers=("c2", "c3", "c4"))
    for p in loss_net.net.parameters():
        p.requires_grad_(False)
    backbone_card = load_model(backbone).card
    channels = {k: int(v) for k, v in backbone_card.options.get("channels", {}).items()}
    if not set(LAYERS) <= set(channels):
        raise UsageError(f"{Path(backbone).name}: the card names no channel counts for {', '.join(LAYERS)}")
    torch.manual_seed(recipe.seed)
    net = adain_decoder(channels, recipe.width)
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    start = continue_from(state_path, resume, recipe, net, opt, log)
    began = time.perf_counter()
    losses = (float("nan"),) * 3
    moment_layers = [layer for layer in ("c2", "c3", "c4", "c5") if layer in loss_net.net.output_names]
    net.train()
    for step in range(start, recipe.steps):
        rng = np.random.default_rng([recipe.seed, step])
        crops = np.stack([random_crop(rng, pictures[int(rng.integers(len(pictures)))], recipe.size, (0.4, 1.0))
                          for _ in range(recipe.batch_size)])
        style = np.stack([style_source.pick(rng) for _ in range(recipe.batch_size)])
        with torch.no_grad():
            fc = loss_net.maps(torch.from_numpy(crops.astype(np.float32)))
            fs = loss_net.maps(torch.from_numpy(style.astype(np.float32)))
            targets = {layer: adain(fc[layer], fs[layer]) for layer in LAYERS}
            grams = {layer: loss_net.gram(fs[layer]) for layer in loss_net.style_layers}
            wanted = {layer: moments(fs[layer]) for layer in moment_layers}
        styled = net(*(targets[layer] for layer in LAYERS)).permute(0, 2, 3, 1)
        fo = loss_net.maps(styled)
        content_loss, gram_loss, tv = loss_net.measure(fo, styled, targets["c4"], grams)
        moment_loss = 0.0
        for layer, (mean, std) in wanted.items():
            m, s = moments(fo[layer])
            moment_loss = moment_loss + (((m - mean) ** 2).mean() + ((s - std) ** 2).mean()) / (
                (mean**2).mean() + (std**2).mean()).clamp(min=1e-12)
        moment_loss = moment_loss / len(wanted)
        loss = (recipe.content_weight * content_loss + recipe.style_weight * gram_loss
                + recipe.moments_weight * moment_loss + recipe.tv_weight * tv)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses = (float(content_loss.detach()), float(gram_loss.detach()), float(tv.detach()))
        if progress:
            progress(step + 1, recipe.steps, float(loss.detach()))
        if (step + 1) % recipe.checkpoint_every == 0 or step + 1 == recipe.steps:
            save_state(state_path, recipe, step + 1, net, opt)
    metrics = {**evaluate(net, loss_net, pictures, recipe), "steps": recipe.steps}
    if start < recipe.steps:  # the last batch's own losses, where this call trained at all
        metrics.update(last_step_content_loss=round(losses[0], 6), last_step_style_loss=round(losses[1], 6))
    path = out / f"{name}.onnx"
    shapes = {layer: (1, channels[layer], 64 // s, 64 // s) for layer, s in zip(LAYERS, (16, 8, 4))}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Constant folding", UserWarning)  # the odd-size resizes' slices
        export_head(net, path, feature_shapes=shapes, backbone_card=backbone_card, name=name, task="style",
                    output="adain", output_names=("styled",), metrics=metrics,
                    options={"style": "mosaic"}, config={"layers": list(LAYERS)},
                    provenance=provenance(seed=recipe.seed, command=command, data={
                        "content": {"source": str(content), "pictures": names},
                        "styles": style_source.describe()}, recipe=asdict(recipe)))
    feeds = {layer: np.random.default_rng(0).standard_normal(shape).astype(np.float32)
             for layer, shape in shapes.items()}
    parity = verify_onnx(path, net, feeds, tol=1e-3)
    seconds = time.perf_counter() - began
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): on {EVAL_PAIRS} held-out pairs content "
        f"{metrics['content_loss']:.4f}, style {metrics['style_loss']:.4f} (the photos as they are: "
        f"{metrics['style_loss_of_content']:.4f}) after {recipe.steps} steps; onnxruntime within {parity:.1e} of torch")
    return {"path": str(path), "metrics": metrics, "seconds": round(seconds, 1), "parity": parity,
            "parameters": sum(p.numel() for p in net.parameters())}
