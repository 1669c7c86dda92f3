"""Hands with their 21 joints: MediaPipe's hand-landmark model run on the palm detector's crops.

The card of the landmark model names the palm detector as its ``palm`` part (with a card of
its own, how to prepare its input). For each palm found, the hand is cut out of the frame the
way the landmark model was trained to see it: turned so the fingers point up (from the
wrist towards the middle finger's base), centred half a palm beyond the palm's centre
towards the fingers, 2.6 palms wide (Zhang et al. 2020, "MediaPipe Hands"). The model gives
the joints in crop pixels and a hand-presence score; the joints are mapped back into the
frame through the same rotation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import cv2
import numpy as np

from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.parts import load_parts
from visionkit.preprocess import preprocess
from visionkit.results import Keypoints
from visionkit.runtime import OnnxModel
from visionkit.tasks import TaskInputs

from .palms import MIDDLE_BASE, WRIST, find_palms

HAND_JOINTS = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
#: each finger from the wrist outwards, and the palm's outline across the finger bases
HAND_SKELETON = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (9, 10), (10, 11), (11, 12),
    (13, 14), (14, 15), (15, 16),
    (0, 17), (17, 18), (18, 19), (19, 20),
    (5, 9), (9, 13), (13, 17),
)
#: the crop around a palm the landmark model expects: its side in palm sizes, and how far
#: its centre lies beyond the palm's centre towards the fingers, in palm heights
CROP_SCALE, CROP_SHIFT = 2.6, 0.5


def hand_crop(box: np.ndarray, points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine map from crop pixels (``size`` = height, width) to frame pixels for the
    hand of a palm ``box`` (x1, y1, x2, y2) and its seven ``points``, in frame pixels."""
    up = points[MIDDLE_BASE] - points[WRIST]
    norm = float(np.hypot(*up))
    up = up / norm if norm > 0 else np.array([0.0, -1.0])  # a degenerate palm: fingers upright
    right = np.array([-up[1], up[0]])  # the crop's x axis, a quarter turn clockwise from up
    palm_w, palm_h = box[2] - box[0], box[3] - box[1]
    centre = (box[:2] + box[2:]) / 2 + CROP_SHIFT * palm_h * up
    side = CROP_SCALE * max(palm_w, palm_h)
    h, w = size
    x_axis, y_axis = right * side / w, -up * side / w  # one (square) crop pixel along each axis
    origin = centre - x_axis * w / 2 - y_axis * h / 2
    return np.stack([x_axis, y_axis, origin], axis=1).astype(np.float64)


def _output_sizes(model: OnnxModel) -> list[int | None]:
    sizes = []
    for out in model.session.get_outputs():
        dims = list(out.shape)
        sizes.append(int(np.prod(dims)) if all(isinstance(d, int) and d > 0 for d in dims) else None)
    return sizes


class HandLandmarks:
    """The ``mediapipe_hand`` decoder: palms from the ``palm`` part, joints from the model.

    The palm detector runs as the frame's pass; the landmark model runs once per palm that
    passes the task's ``score``, so it runs while decoding, where the options are known.
    """

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.palm = load_parts(model, ("palm",))["palm"]
        if self.palm.card.input is None:
            raise ModelError(f"{self.palm.path.name}: the palm detector's card must describe its input")
        sizes = _output_sizes(model)
        # the joints: the first output of (x, y, z) triples, a handful of joints at least
        self._joints = next((i for i, n in enumerate(sizes) if n and n % 3 == 0 and n >= 15), None)
        self._presence = next((i for i, n in enumerate(sizes) if n == 1), None)
        if self._joints is None or self._presence is None:
            shapes = [list(o.shape) for o in model.session.get_outputs()]
            raise ModelError(f"{model.path.name}: a hand-landmark model gives (x, y, z) per joint and a "
                             f"hand-presence score; its outputs are {shapes}")
        n = sizes[self._joints] // 3
        self.names = HAND_JOINTS if n == len(HAND_JOINTS) else tuple(f"joint_{i}" for i in range(n))
        self.skeleton = HAND_SKELETON if n == len(HAND_JOINTS) else ()
        # the crop is cut at the model's input size: only its colour and layout steps remain
        self._spec = replace(model.card.input, letterbox=False, resize=None, crop=None)

    def forward(self, inputs: TaskInputs) -> list[Any]:
        """The palm detector on the frame, as its own card prepares it."""
        spec = self.palm.card.input
        tensor, transform = preprocess(inputs.image, spec)
        return [*self.palm.run({spec.name or self.palm.inputs[0].name: tensor}), transform]

    def __call__(self, outputs: list[Any], inputs: TaskInputs, card: ModelCard,
                 options: Mapping[str, Any]) -> Keypoints:
        *palm_outputs, transform = outputs
        boxes, _, points = find_palms(palm_outputs, self.palm.card.input.size, options)
        boxes = transform.to_image(boxes).reshape(-1, 4)
        points = transform.to_image(points.reshape(-1, 2)).reshape(points.shape)
        size = self._spec.size
        name = self._spec.name or self.model.inputs[0].name
        hands, scores = [], []
        for box, palm_points in zip(boxes, points):
            to_frame = hand_crop(box, palm_points, size)
            crop = cv2.warpAffine(inputs.image, to_frame, (size[1], size[0]),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=(0, 0, 0))
            out = self.model.run({name: preprocess(crop, self._spec)[0]})
            presence = float(np.ravel(out[self._presence])[0])
            if presence < options["score"]:
                continue
            joints = np.ravel(out[self._joints]).reshape(-1, 3)[:, :2].astype(np.float64)
            hands.append(joints @ to_frame[:, :2].T + to_frame[:, 2])
            scores.append(presence)
        order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
        k = len(self.names)
        xy = np.asarray(hands, np.float32).reshape(-1, k, 2)[order]
        score = np.asarray(scores, np.float32)[order]
        confidence = np.repeat(score[:, None, None], k, axis=1)
        h, w = inputs.image.shape[:2]
        lo, hi = np.clip(xy.min(axis=1), 0, [w, h]), np.clip(xy.max(axis=1), 0, [w, h])
        return Keypoints(np.concatenate([lo, hi], axis=1).astype(np.float32), score,
                         np.concatenate([xy, confidence], axis=2).astype(np.float32), self.names, self.skeleton)
