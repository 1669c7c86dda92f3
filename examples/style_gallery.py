"""One photo in several styles, each made by the CLI, on one contact sheet.

    python examples/style_gallery.py PHOTO [--styles mosaic strokes:2 ink:3] [--out docs/style.jpg] [--tile 300]

For each style this runs ``visionkit predict PHOTO --task style -o style.style=STYLE --save DIR``
(the bundled arbitrary-style network) and lays out the photo, then each style picture above the
picture the CLI saved. docs/style.jpg was made from scikit-image's ``coffee.png`` (CC0) this way.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from visionkit.imageio import read_image, write_image
from visionkit.plugins.style.arbitrary import style_picture


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` on a white tile of that size, aspect kept."""
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile = np.full((height, width, 3), 255, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    tile[y : y + small.shape[0], x : x + small.shape[1]] = small
    return tile


def caption(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((28, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo")
    ap.add_argument("--styles", nargs="+", default=["mosaic", "strokes:2", "ink:3"],
                    help="style pictures or built-in paintings (default: mosaic strokes:2 ink:3)")
    ap.add_argument("--out", default="style_gallery.jpg")
    ap.add_argument("--tile", type=int, default=300)
    args = ap.parse_args()
    photo = read_image(args.photo)
    w, h = args.tile, round(args.tile * photo.shape[0] / photo.shape[1])
    blank = np.full((args.tile // 2, w, 3), 255, np.uint8)
    columns = [np.vstack([caption(blank, ""), caption(fit(photo, w, h), "photo")])]
    with tempfile.TemporaryDirectory() as tmp:
        for i, style in enumerate(args.styles):
            out = Path(tmp) / str(i)
            subprocess.run([sys.executable, "-m", "visionkit", "predict", args.photo, "--task", "style",
                            "-o", f"style.style={style}", "--save", str(out)], check=True)
            saved = read_image(next(out.iterdir()))
            top = fit(style_picture(style)[1], w, args.tile // 2)
            columns.append(np.vstack([caption(top, f"style: {Path(style).stem}"), caption(fit(saved, w, h), "")]))
    sheet = np.hstack(columns)
    write_image(args.out, sheet)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
