"""The numpy half of the two-stage detector: anchors, box coding, proposal selection, decoding."""

import numpy as np
import pytest

from visionkit.boxes import box_iou, decode_deltas, encode_deltas
from visionkit.plugins.detect.rcnn import (
    ANCHOR_RATIOS,
    ANCHOR_SIZES,
    BOX_WEIGHTS,
    anchors,
    detections_from_boxes,
    flatten_rpn,
    select_proposals,
)

A = len(ANCHOR_SIZES) * len(ANCHOR_RATIOS)


def test_anchors_are_centred_on_cells_in_output_order():
    anc = anchors(2, 3)
    assert anc.shape == (2 * 3 * A, 4) and not anc.flags.writeable
    centres = (anc[:, :2] + anc[:, 2:]) / 2
    # cell (row 1, column 2) holds anchors A*5 .. A*6-1, centred at (2.5, 1.5) * stride
    np.testing.assert_allclose(centres[A * 5 : A * 6], [[20.0, 12.0]] * A)
    sides = anc[:A, 2:] - anc[:A, :2]
    np.testing.assert_allclose(
        np.sqrt(sides.prod(axis=1)), np.repeat(ANCHOR_SIZES, len(ANCHOR_RATIOS)), rtol=1e-5
    )
    np.testing.assert_allclose(
        sides[:, 1] / sides[:, 0], np.tile(ANCHOR_RATIOS, len(ANCHOR_SIZES)), rtol=1e-5
    )


def test_flatten_follows_the_anchor_order():
    obj = np.arange(A * 2 * 3, dtype=np.float32).reshape(A, 2, 3)
    deltas = np.zeros((4 * A, 2, 3), np.float32)
    deltas[4 * 7 + 2, 1, 0] = 5.0  # anchor 7, coordinate w, cell (1, 0)
    logits, d = flatten_rpn(obj, deltas)
    assert logits[(1 * 3 + 0) * A + 7] == obj[7, 1, 0]
    assert d[(1 * 3 + 0) * A + 7, 2] == 5.0 and np.count_nonzero(d) == 1


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), BOX_WEIGHTS])
def test_delta_coding_round_trips(weights):
    rng = np.random.default_rng(0)

    def boxes():
        xy = rng.uniform(0, 200, (50, 2))
        return np.concatenate([xy, xy + rng.uniform(5, 100, (50, 2))], axis=1).astype(np.float32)

    a, b = boxes(), boxes()
    np.testing.assert_allclose(
        decode_deltas(a, encode_deltas(a, b, weights), weights), b, rtol=1e-4, atol=1e-3
    )


def test_proposals_come_from_the_confident_anchors_clipped_to_the_picture():
    h, w = 4, 4
    anc = anchors(h, w)
    obj = np.full((A, h, w), -10.0, np.float32)
    deltas = np.zeros((4 * A, h, w), np.float32)
    obj[4, 1, 2] = 5.0  # one confident anchor (32 px square at cell (1, 2))
    obj[1, 3, 3] = 4.0  # one at the corner, reaching past the picture
    props, scores = select_proposals(obj, deltas, np.array([0, 0, 30, 30], np.float32), post_nms=2)
    assert scores.tolist() == pytest.approx([1 / (1 + np.exp(-5.0)), 1 / (1 + np.exp(-4.0))])
    want = anc[(1 * w + 2) * A + 4].copy()
    np.testing.assert_allclose(props[0], np.clip(want, 0, 30))
    assert props.max() <= 30 and props.min() >= 0


def test_detections_take_each_class_deltas_and_suppress_duplicates():
    rois = np.array([[10, 10, 50, 50], [12, 10, 52, 50], [100, 100, 140, 160]], np.float32)
    probs = np.array([[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.3, 0.1, 0.6]], np.float32)
    deltas = np.zeros((3, 8), np.float32)
    deltas[2, 4:] = encode_deltas(rois[2:3], np.array([[100, 110, 140, 150]], np.float32), BOX_WEIGHTS)[0]
    boxes, scores, classes = detections_from_boxes(
        probs, deltas, rois, np.array([0, 0, 256, 256], np.float32), score=0.3, iou=0.5, max_det=10
    )
    assert classes.tolist() == [0, 1] and scores.tolist() == pytest.approx([0.9, 0.6])
    np.testing.assert_allclose(boxes[1], [100, 110, 140, 150], atol=1e-3)
    assert box_iou(boxes, boxes).shape == (2, 2)
    none = detections_from_boxes(
        probs, deltas, rois, np.array([0, 0, 256, 256], np.float32), score=0.95, iou=0.5, max_det=10
    )
    assert [len(x) for x in none] == [0, 0, 0]


def _with_config(tmp_path, **config):
    """The bundled detector, its card's config changed, beside its box head and backbone."""
    import onnx

    from visionkit.bundled import models_dir
    from visionkit.nn.export import embed_card, read_card

    src = models_dir()
    for name in ("shapeworld_detect_boxes.onnx", "efficientnet_lite0_backbone.onnx"):
        (tmp_path / name).symlink_to(src / name)
    card = read_card(src / "shapeworld_detect.onnx")
    proto = onnx.load(str(src / "shapeworld_detect.onnx"))
    embed_card(proto, card.with_(config={**card.config, **config}))
    onnx.save_model(proto, str(tmp_path / "shapeworld_detect.onnx"))
    return tmp_path / "shapeworld_detect.onnx"


def test_the_card_sets_the_proposal_count_and_refinement(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import visionkit as vk
    import visionkit.plugins.detect.rcnn as rcnn
    from visionkit.bundled import samples

    scene = next(str(p) for p in samples() if p.name == "scene_shapes.png")
    seen = []
    real = rcnn.select_proposals
    monkeypatch.setattr(rcnn, "select_proposals",
                        lambda *a, **k: seen.append((k["pre_nms"], k["post_nms"])) or real(*a, **k))
    refined = vk.Pipeline(["detect"], device="cpu")(scene)["detect"]  # the bundled card says refine
    assert seen[-1] == (700, 150)  # the bundled card's counts
    (tmp_path / "a").mkdir()
    few = vk.Pipeline(["detect"], models={"detect": _with_config(tmp_path / "a", proposals=50, pre_nms=200)},
                      device="cpu")
    assert len(few(scene)["detect"]) > 0 and seen[-1] == (200, 50)
    # a run's options replace the card's counts, and 0 brings the card's back
    few.set_options("detect", proposals=20, pre_nms=100)
    few(scene)
    assert seen[-1] == (100, 20)
    few.set_options("detect", proposals=0)
    few(scene)
    assert seen[-1] == (100, 50)
    (tmp_path / "b").mkdir()
    once = vk.Pipeline(["detect"], models={"detect": _with_config(tmp_path / "b", refine=False)}, device="cpu")
    plain = once(scene)["detect"]
    # the second look moves boxes a little; labels and scores are the first look's
    assert refined.labels == plain.labels and np.allclose(refined.scores, plain.scores)
    moved = np.abs(refined.boxes - plain.boxes)
    assert 0 < moved.max() < 8 and (box_iou(refined.boxes, plain.boxes).diagonal() > 0.8).all()


@pytest.mark.parametrize("config", [{"proposals": 0}, {"pre_nms": "many"}, {"pre_nms": 2.5}])
def test_a_card_with_unusable_proposal_counts_is_refused_by_name(tmp_path, config):
    pytest.importorskip("onnx")
    import visionkit as vk
    from visionkit.errors import ModelError

    with pytest.raises(ModelError, match=f"config.{next(iter(config))} must be a whole number"):
        vk.Pipeline(["detect"], models={"detect": _with_config(tmp_path, **config)}, device="cpu")


def test_proposal_counts_outside_the_limits_are_usage_errors():
    import visionkit as vk
    from visionkit.errors import UsageError

    with pytest.raises(UsageError, match="detect.proposals"):
        vk.Pipeline(["detect"], options={"detect": {"proposals": -1}}, device="cpu")
