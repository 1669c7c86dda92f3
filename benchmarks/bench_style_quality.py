"""How well each style method reaches a style: content and style losses on one loss network.

    python benchmarks/bench_style_quality.py [--photos P.jpg ...] [--size 256] [--steps 150] [--fast MODEL:STYLE ...]

For each content photo and style picture, every method paints the photo and ``style score``'s
measure (the bundled backbone: content at ``c4``, Gram matrices at ``c2``-``c4``) judges the
result; printed beside each method are its losses over Gatys's (the optimisation, the quality
reference). The target for the feed-forward networks: style loss within 2x Gatys's at no more
than 1.5x its content loss.

Styles: three built-in paintings at seeds no training run drew, and, where the four WinML fast
style networks lie in ``../shared/realworld/models/style_transfer``, each network's own painting
of the WinML sample photo (their style pictures do not ship with them; what a network paints is
the style it learnt). For those, the network itself is measured beside Gatys and AdaIN. AdaIN
runs twice: on the fp32 backbone and on its int8 copy (``--precision int8``).
``--fast MODEL:STYLE`` adds a fast network of visionkit's own for the painting it was trained on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from visionkit.bundled import models_dir, sample_picture
from visionkit.cli import main as cli
from visionkit.imageio import read_image
from visionkit.pipeline import Pipeline
from visionkit.plugins.style.arbitrary import style_picture
from visionkit.plugins.style.nn.gatys import LossNetwork, at_long_side, optimise, score

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"
PAINTINGS = ("mosaic:9001", "strokes:9002", "ink:9003")
THIRD_PARTY = ("candy", "mosaic", "udnie", "la_muse")


def third_party(folder: Path) -> dict[str, Path]:
    """The WinML networks with a card each, in a temporary folder (links beside their cards)."""
    source = REALWORLD / "models" / "style_transfer"
    found = {}
    for name in THIRD_PARTY:
        if (source / f"{name}.onnx").is_file():
            link = folder / f"{name}.onnx"
            link.symlink_to(source / f"{name}.onnx")
            cli(["models", "card", str(link), "--task", "style", "--channel-order", "bgr", "--scale", "1",
                 "--output", "image"])
            found[name] = link
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=None, help="content photos (default: two realworld photos)")
    ap.add_argument("--size", type=int, default=256, help="long side everything is painted and measured at")
    ap.add_argument("--steps", type=int, default=150, help="Gatys optimisation steps")
    ap.add_argument("--fast", nargs="*", default=[], metavar="MODEL:STYLE",
                    help="a fast network of visionkit's own and the painting it learnt (e.g. net.onnx:strokes:2)")
    args = ap.parse_args()
    photos = args.photos or [str(p) for p in (REALWORLD / "images" / "ortex" / "wolves.jpg",
                                              REALWORLD / "images" / "winml" / "dog.jpg") if p.is_file()]
    photos = photos or [str(sample_picture())]
    contents = {Path(p).stem: at_long_side(read_image(p), args.size, "content") for p in photos}
    net = LossNetwork(models_dir() / "efficientnet_lite0_backbone.onnx")
    adain = Pipeline(["style"], device="cpu", options={"style": {"size": args.size}})
    adain_int8 = Pipeline(["style"], device="cpu", precision="int8", options={"style": {"size": args.size}})
    tmp = Path(tempfile.mkdtemp())
    styles: dict[str, tuple[np.ndarray, dict[str, Pipeline]]] = {}
    for name in PAINTINGS:
        styles[name] = (style_picture(name)[1], {})
    for spec in args.fast:
        model, _, painting = spec.partition(":")
        styles.setdefault(painting, (style_picture(painting)[1], {}))[1]["fast " + Path(model).stem] = Pipeline(
            ["style"], models={"style": model}, device="cpu")
    sample = REALWORLD / "images" / "winml" / "style_input.jpg"
    if sample.is_file():
        for name, model in third_party(tmp).items():
            pipe = Pipeline(["style"], models={"style": str(model)}, device="cpu")
            styles[f"winml {name}"] = (at_long_side(pipe(read_image(sample))["style"].image, 512, "style"),
                                       {name: pipe})
    rows, ratios = [], {}
    for style_name, (style, nets) in styles.items():
        style_file = tmp / f"{style_name.replace(' ', '_').replace(':', '_')}.png"
        cv2.imwrite(str(style_file), cv2.cvtColor(style, cv2.COLOR_RGB2BGR))
        adain.set_options("style", style=str(style_file))
        adain_int8.set_options("style", style=str(style_file))
        for content_name, content in contents.items():
            started = time.perf_counter()
            _, gatys = optimise(net, content, at_long_side(style, args.size, "style"), steps=args.steps,
                                style_weight=5.0, tv_weight=0.02)
            gatys_s = time.perf_counter() - started
            measured = {"gatys": (gatys, gatys_s)}
            for method, pipe in {"adain": adain, "adain int8": adain_int8, **nets}.items():
                started = time.perf_counter()
                picture = pipe(content)["style"].image
                seconds = time.perf_counter() - started
                measured[method] = (score(net, content, at_long_side(style, args.size, "style"), picture), seconds)
            for method, (losses, seconds) in measured.items():
                c_ratio, s_ratio = losses.content / max(gatys.content, 1e-9), losses.style / max(gatys.style, 1e-9)
                rows.append((style_name, content_name, method, losses.content, losses.style, c_ratio, s_ratio, seconds))
                if method != "gatys":
                    ratios.setdefault("fast" if method.startswith("fast") else method, []).append((c_ratio, s_ratio))
            sys.stdout.write(".")
            sys.stdout.flush()
    print(f"\n{len(contents)} photos at {args.size} px, {len(styles)} styles, Gatys {args.steps} Adam steps")
    print(f"{'style':<16} {'photo':<10} {'method':<14} {'content':>8} {'style':>8} {'c/gatys':>8} {'s/gatys':>8} {'s':>6}")
    for style_name, content_name, method, c, s, cr, sr, sec in rows:
        print(f"{style_name:<16} {content_name:<10} {method:<14} {c:8.4f} {s:8.4f} {cr:8.2f} {sr:8.2f} {sec:6.2f}")
    print("\nmethod: pairs within 2x Gatys's style loss at <= 1.5x its content loss; median ratios")
    for method, values in ratios.items():
        met = sum(1 for c, s in values if s <= 2.0 and c <= 1.5)
        print(f"  {method:<12} {met}/{len(values)}   content x{statistics.median(c for c, _ in values):.2f}, "
              f"style x{statistics.median(s for _, s in values):.2f}")


if __name__ == "__main__":
    main()
