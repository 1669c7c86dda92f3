"""Two-stage detection at run time (Ren et al. 2015, "Faster R-CNN"): numpy between two graphs.

The lineage the head follows: R-CNN classified warped crops one network pass each; Fast
R-CNN pooled every region from one shared feature map (RoI pooling); Faster R-CNN proposed
the regions with a small network on the same map. Here:

1. **Region proposals** (the task's model, card ``output="rcnn"``): backbone maps -> fused
   map ``p3`` (stride 8) -> objectness and box deltas for every anchor; also the finer fused
   map ``p2`` (stride 4) for the second stage.
2. **Proposal selection** (numpy, :func:`select_proposals`): the best ``pre_nms`` anchors by
   objectness (the card's ``config.pre_nms``, 1000 unless it says), decoded, clipped to the
   picture (not the letterbox padding), tiny ones dropped, NMS at 0.7, the best ``post_nms``
   kept (``config.proposals``, 300 unless it says). The task's options ``pre_nms`` and
   ``proposals`` replace both for a run.
3. **Box head** (the card's ``parts["box_head"]``, the file beside the first): ONNX ``RoiAlign``
   on ``p2`` -> class probabilities (background first) and per-class box deltas.
4. **Detections** (numpy, :func:`detections_from_boxes`): every (proposal, class) above the
   score threshold, refined by its class's deltas, per-class NMS, at most ``max_det``. With
   the card's ``config.refine``, the box head looks once more at the final boxes and each is
   moved halfway to where that second look puts it.

Anchors and box coding are shared with training (``train.py``), so both read outputs alike.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from visionkit.boxes import decode_deltas, nms, to_image
from visionkit.cards import ModelCard
from visionkit.errors import ModelError
from visionkit.results import Detections
from visionkit.parts import load_parts
from visionkit.runtime import OnnxModel, feature_feeds
from visionkit.tasks import TaskInputs

#: anchor side lengths (input pixels) and height/width ratios at every stride-8 cell
ANCHOR_SIZES = (16, 32, 64, 128, 256)
ANCHOR_RATIOS = (0.5, 1.0, 2.0)
RPN_STRIDE = 8
#: box-head delta scaling (Fast R-CNN's): finer steps for the second stage
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
#: proposal selection at run time
PRE_NMS, POST_NMS, PROPOSAL_IOU, MIN_SIZE = 1000, 300, 0.7, 2.0


@lru_cache(maxsize=8)
def anchors(
    height: int,
    width: int,
    stride: int = RPN_STRIDE,
    sizes: tuple = ANCHOR_SIZES,
    ratios: tuple = ANCHOR_RATIOS,
) -> np.ndarray:
    """(height * width * A, 4) xyxy anchors for a ``height x width`` map, row-major by cell,
    then by size, then by ratio (the order the head's outputs are flattened in)."""
    base = []
    for size in sizes:
        for ratio in ratios:  # ratio = h / w, area = size**2
            w, h = size / np.sqrt(ratio), size * np.sqrt(ratio)
            base.append((-w / 2, -h / 2, w / 2, h / 2))
    ys, xs = np.mgrid[0:height, 0:width]
    centres = (np.stack([xs, ys, xs, ys], axis=-1).reshape(-1, 1, 4) + 0.5) * stride
    out = (centres + np.asarray(base, np.float32)[None]).reshape(-1, 4).astype(np.float32)
    out.setflags(write=False)  # cached and shared
    return out


def clip_to(boxes: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``boxes`` (N, 4) clipped in place to ``region`` ``[x1, y1, x2, y2]``; returns them."""
    np.clip(boxes[:, 0::2], region[0], region[2], out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], region[1], region[3], out=boxes[:, 1::2])
    return boxes


def flatten_rpn(objectness: np.ndarray, deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One image's ``(A, H, W)`` logits and ``(4A, H, W)`` deltas -> ``(H*W*A,)``, ``(H*W*A, 4)``
    in :func:`anchors` order."""
    a, h, w = objectness.shape
    return (
        objectness.transpose(1, 2, 0).reshape(-1),
        deltas.reshape(a, 4, h, w).transpose(2, 3, 0, 1).reshape(-1, 4),
    )


def select_proposals(
    objectness: np.ndarray,
    deltas: np.ndarray,
    region: np.ndarray,
    *,
    pre_nms: int = PRE_NMS,
    post_nms: int = POST_NMS,
    iou: float = PROPOSAL_IOU,
    min_size: float = MIN_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Proposals ``(P, 4)`` xyxy in input pixels and their objectness ``(P,)`` (0..1), best first.

    :param objectness: ``(A, H, W)`` logits of one image. :param deltas: ``(4A, H, W)``.
    :param region: ``[x1, y1, x2, y2]`` of the picture inside the input (letterbox padding
        excluded); proposals are clipped to it.
    """
    logits, d = flatten_rpn(objectness, deltas)
    _, h, w = objectness.shape
    anc = anchors(h, w)
    k = min(pre_nms, len(logits))
    top = np.argpartition(-logits, k - 1)[:k] if k < len(logits) else np.arange(len(logits))
    boxes = clip_to(decode_deltas(anc[top], d[top]), region)
    size_ok = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    # probabilities, not logits: NMS drops scores below zero
    boxes, scores = boxes[size_ok], 1.0 / (1.0 + np.exp(-logits[top][size_ok]))
    kept = nms(boxes, scores, np.zeros(len(scores), np.int64), iou, post_nms)
    return boxes[kept], scores[kept]


def detections_from_boxes(
    probs: np.ndarray,
    deltas: np.ndarray,
    rois: np.ndarray,
    region: np.ndarray,
    *,
    score: float,
    iou: float,
    max_det: int,
    agnostic: bool = False,
) -> tuple[np.ndarray, ...]:
    """Box-head outputs -> ``(boxes (N, 4), scores (N,), class_ids (N,))`` in input pixels.

    :param probs: ``(R, 1 + C)`` softmax, column 0 the background.
    :param deltas: ``(R, 4C)`` per-class deltas for each of the ``rois`` ``(R, 4)``.
    """
    num_classes = probs.shape[1] - 1
    r_idx, c_idx = np.nonzero(probs[:, 1:] >= score)
    if len(r_idx) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    d = deltas.reshape(len(rois), num_classes, 4)[r_idx, c_idx]
    boxes = clip_to(decode_deltas(rois[r_idx], d, BOX_WEIGHTS), region)
    scores = probs[r_idx, c_idx + 1]
    kept = nms(boxes, scores, c_idx, iou, max_det, agnostic)
    return boxes[kept], scores[kept].astype(np.float32), c_idx[kept].astype(np.int64)


def picture_region(inputs: TaskInputs, size: tuple[int, int]) -> np.ndarray:
    """The original picture's extent in input pixels (inside any letterbox padding)."""
    h, w = inputs.image.shape[:2]
    corners = inputs.transform.to_input(np.array([[0.0, 0.0, w, h]], np.float32))[0]
    return np.array(
        [max(0.0, corners[0]), max(0.0, corners[1]), min(size[1], corners[2]), min(size[0], corners[3])],
        np.float32,
    )


class RCNNDecoder:
    """The ``rcnn`` decoder: holds the box-head session and runs both stages for a frame."""

    def __init__(self, model: OnnxModel) -> None:
        # core loads the card's parts (cached sessions) and checks they share the backbone
        self.box_head = load_parts(model, ("box_head",))["box_head"]
        self.model = model
        config = model.card.config
        #: regions the box head scores per frame (card ``config.proposals``; its RoiAlign cost
        #: grows with them) and the best anchors that go into their NMS (``config.pre_nms``,
        #: whose cost grows with their square)
        self.proposals = self._count(config, "proposals", POST_NMS)
        self.pre_nms = self._count(config, "pre_nms", PRE_NMS)
        #: card ``config.refine``: score the final boxes again and average the two boxes
        self.refine = bool(config.get("refine", False))

    def _count(self, config: Mapping[str, Any], key: str, default: int) -> int:
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ModelError(f"{self.model.path.name}: card config.{key} must be a whole number of at least 1, not {value!r}")
        return value

    def forward(self, inputs: TaskInputs, options: Mapping[str, Any] | None = None) -> list[np.ndarray]:
        """Both graphs and the proposal selection between them; returns the box-head outputs
        ``[probs, deltas]`` and the proposals they refer to. ``options`` ``proposals`` and
        ``pre_nms`` above 0 replace the card's counts."""
        options = options or {}
        objectness, deltas, p2 = self.model.run(feature_feeds(self.model, inputs.features or {}))
        region = picture_region(inputs, inputs.input_size)
        rois, _ = select_proposals(objectness[0], deltas[0], region,
                                   pre_nms=options.get("pre_nms") or self.pre_nms,
                                   post_nms=options.get("proposals") or self.proposals)
        if len(rois) == 0:
            return [np.zeros((0, 1), np.float32), np.zeros((0, 0), np.float32), rois, region, p2]
        probs, box_deltas = self.box_head.run(
            {"p2": p2, "rois": rois, "batch_indices": np.zeros(len(rois), np.int64)}
        )
        return [probs, box_deltas, rois, region, p2]

    def _refined(self, boxes: np.ndarray, class_ids: np.ndarray, p2: np.ndarray, region: np.ndarray) -> np.ndarray:
        """The box head's deltas for the final boxes themselves, averaged with those boxes
        (iterative localisation, as in Gidaris & Komodakis 2015 and Cascade R-CNN's baseline)."""
        _, deltas = self.box_head.run({"p2": p2, "rois": boxes, "batch_indices": np.zeros(len(boxes), np.int64)})
        d = deltas.reshape(len(boxes), -1, 4)[np.arange(len(boxes)), class_ids]
        again = clip_to(decode_deltas(boxes, d, BOX_WEIGHTS), region)
        return ((boxes + again) / 2).astype(np.float32)

    def __call__(
        self, outputs: list[np.ndarray], inputs: TaskInputs, card: ModelCard, options: Mapping[str, Any]
    ) -> Detections:
        probs, box_deltas, rois, region = outputs[:4]
        if len(rois):
            boxes, scores, class_ids = detections_from_boxes(
                probs,
                box_deltas,
                rois,
                region,
                score=options["score"],
                iou=options["iou"],
                max_det=options["max_det"],
                agnostic=options.get("agnostic", False),
            )
            if self.refine and len(boxes):
                # after NMS: two kept boxes the second look brings closer are still two objects
                # (a second NMS there cost pose PCK@0.1 0.907 -> 0.887 on overlapping figures)
                boxes = self._refined(boxes, class_ids, outputs[4], region)
        else:
            boxes, scores, class_ids = (
                np.zeros((0, 4), np.float32),
                np.zeros(0, np.float32),
                np.zeros(0, np.int64),
            )
        h, w = inputs.image.shape[:2]
        labels = tuple(card.labels[i] if i < len(card.labels) else str(i) for i in class_ids.tolist())
        return Detections(to_image(boxes, inputs.transform, w, h), scores, class_ids, labels)
