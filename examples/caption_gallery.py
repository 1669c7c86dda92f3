"""Held-out caption scenes with their best captions, and where one word of each looked.

    python examples/caption_gallery.py [--scenes 3,7] [--seed 10000] [--out caption.png] [--scale 2]

Each row is one ShapeWorld caption scene of set ``--seed`` (a set never trained on): on the
left the picture as ``visionkit predict --task caption --save`` draws it, its best caption along
the bottom; on the right the same caption with its last word picked, as the app's caption panel
shows a clicked word: the picture tinted by that word's attention. The picture in
docs/caption.png was made this way with the defaults.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

import visionkit as vk
from visionkit.data.captions import scene_captions
from visionkit.data.shapeworld import render
from visionkit.imageio import write_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", default="3,7", help="scene numbers of the set, comma-separated")
    ap.add_argument("--seed", type=int, default=10000)
    ap.add_argument("--out", default="caption.png")
    ap.add_argument("--scale", type=int, default=2, help="enlarge the 224-px scenes this many times")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    pipe = vk.Pipeline(["caption"], threads=args.threads)
    rows = []
    for index in (int(s) for s in args.scenes.split(",")):
        truth, refs = scene_captions(args.seed, index)
        picture = render(truth.scene)
        side = picture.shape[1] * args.scale
        picture = cv2.resize(picture, (side, side), interpolation=cv2.INTER_CUBIC)
        result = pipe(picture)
        caption = result["caption"]
        last = caption.word_index(0, len(caption.words[0]) - 1) if caption.words and caption.words[0] else None
        plain = vk.render(result)
        picked = vk.render(result, highlight={"caption": last}) if last is not None else plain
        rows.append(np.hstack([plain, picked]))
        verdict = "one of its references" if caption.text in refs else f"references: {refs}"
        print(f"scene {index}: {caption.text!r} ({verdict})")
    write_image(args.out, np.vstack(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
