"""Every explain method on one photo, on one contact sheet.

    python examples/explain_gallery.py PHOTO [--out gallery.jpg] [--tile 300] [--threads 2]

The photo is classified by the bundled ImageNet classifier; each tile is what
``visionkit explain PHOTO --method M`` saves for one method (the explanation drawn over the
photo, or the picture it made), titled with the method and its headline number. The picture in
docs/explain.jpg was made from scikit-image's ``chelsea.png`` (CC0) this way.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

import visionkit as vk
from visionkit.imageio import write_image

METHODS = [
    ("photo", None),
    ("occlusion", {"patch": 64, "stride": 16}),
    ("saliency", {}),
    ("gradcam", {}),
    ("guided", {}),
    ("activation", {"layer": "c4"}),
    ("classmodel", {"steps": 200}),
    ("inversion", {"layer": "c3", "steps": 300}),
    ("fgsm", {"eps": 2.0}),
]


def headline(exp) -> str:
    n = exp.numbers
    if "after" in n:
        return f"eps {n['eps']:g}/255: {n['after']['class']} {n['after']['score']:.2f}"
    if "probability" in n:
        return f"p = {n['probability']:.2f}"
    if "relative_feature_error" in n:
        return f"{n['layer']}: error {n['relative_feature_error']:.2f}"
    if "channel" in n:
        return f"{n['layer']} channel {n['channel']}"
    return exp.target.split(" (")[0].replace("class ", "")


def titled(picture: np.ndarray, title: str, tile: tuple[int, int]) -> np.ndarray:
    """``picture`` fitted into a ``tile`` (width, height) box under a line of title."""
    h, w = picture.shape[:2]
    s = min(tile[0] / w, tile[1] / h)
    small = cv2.resize(picture, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = np.full((tile[1] + 28, tile[0], 3), 255, np.uint8)
    y, x = (tile[1] - small.shape[0]) // 2 + 28, (tile[0] - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    cv2.putText(out, title, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo")
    ap.add_argument("--out", default="gallery.jpg")
    ap.add_argument("--tile", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    image = vk.read_image(args.photo)
    box = (args.tile, round(args.tile * image.shape[0] / image.shape[1]))  # tiles of the photo's shape
    pipe = vk.Pipeline(["explain"], threads=args.threads)
    tiles = []
    for method, options in METHODS:
        if options is None:
            top = vk.Pipeline(["classify"], threads=args.threads)(image)["classify"]
            tiles.append(titled(image, f"{top.labels[0]} {top.scores[0]:.2f}", box))
            continue
        pipe.set_options("explain", method=method, **options)
        result = pipe(image)
        exp = result["explain"]
        # the numbers go in the title; the picture keeps only the explanation
        tiles.append(titled(vk.render(result, text=False), f"{method}: {headline(exp)}", box))
        print(f"{method}: {exp.summary()}")
    rows = [np.hstack(tiles[i : i + 3]) for i in range(0, len(tiles), 3)]
    write_image(args.out, np.vstack(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
