"""Third-party re-identification models run on crops: the ``crops`` decoder of the embed task.

A re-ID network of another project (OpenVINO's person-reidentification-retail-0288: an
OSNet-style network, 256 x 128 BGR pixels 0-255 in, a 256-d descriptor out, compared by
cosine) sees each person on their own. For every detected box, the box is cut out of the
frame, stretched to the model's input as its card describes (no letterbox: re-ID models are
trained on crops resized to a fixed aspect), batched where the model takes a batch, run, and
each output L2-normalised by the task. Card for it::

    visionkit models card person-reidentification-retail-0288.onnx --task embed --output crops \\
        --channel-order bgr --scale 1

An embed decoder is a class built once per model as ``cls(model)``, with ``dim`` and
``embed(image, boxes) -> (N, dim)``; the task picks the boxes, so every decoder embeds the
same ones.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from visionkit.errors import ModelError
from visionkit.preprocess import preprocess
from visionkit.runtime import OnnxModel

#: crops run in batches of this many where the model's batch axis is free
BATCH = 32


def crop_box(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The pixels of ``box`` (x1, y1, x2, y2, image pixels), clipped to the image, at least
    one pixel each way (a box on the border still gets a vector)."""
    h, w = image.shape[:2]
    x1, y1 = int(np.clip(np.floor(box[0]), 0, w - 1)), int(np.clip(np.floor(box[1]), 0, h - 1))
    x2, y2 = int(np.clip(np.ceil(box[2]), x1 + 1, w)), int(np.clip(np.ceil(box[3]), y1 + 1, h))
    return image[y1:y2, x1:x2]


class CropEmbedder:
    """Cut out each box, prepare it as the card says, run the model, one row per box."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        spec = model.card.input
        if spec is None:
            raise ModelError(f"{model.path.name}: a re-ID model on crops needs its card's input")
        # the crop is the whole picture the model sees: stretched to its size, never letterboxed
        self.spec = replace(spec, letterbox=False, resize=None, crop=None)
        self.name = spec.name or model.inputs[0].name
        batch = model.inputs[0].shape[0] if model.inputs[0].shape else 1
        self.fixed = isinstance(batch, int) and batch > 0  # a fixed batch: short chunks are padded
        self.batch = int(batch) if self.fixed else BATCH
        out = model.session.get_outputs()[0].shape
        self.dim = int(np.prod([d for d in out[1:] if isinstance(d, int)])) if out and len(out) > 1 else 0

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        tensors = [preprocess(crop_box(image, box), self.spec)[0] for box in boxes]
        rows = []
        for start in range(0, len(tensors), self.batch):
            chunk = np.concatenate(tensors[start:start + self.batch])
            n = len(chunk)
            if self.fixed and n < self.batch:
                chunk = np.concatenate([chunk, np.zeros((self.batch - n, *chunk.shape[1:]), chunk.dtype)])
            out = np.asarray(self.model.run({self.name: chunk})[0], np.float32)
            rows.append(out.reshape(len(chunk), -1)[:n])
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        vectors = np.concatenate(rows)
        self.dim = vectors.shape[1]
        return vectors
