"""The embed task: re-ID vectors of detected objects, from a head on the shared backbone or from a
third-party re-ID model on crops; the head's training recipe, its export and its measurements."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from visionkit.cli import main
from visionkit.errors import ModelError
from visionkit.hookspecs import hookimpl
from visionkit.registry import TaskSpec
from visionkit.results import Detections
from visionkit.tasks import Task

from .conftest import realworld

ROOT = Path(__file__).resolve().parents[1]
EMBED = "visionkit.plugins.embed"
BUNDLED = ROOT / "assets" / "models" / "shapeworld_embed.onnx"
LITE0 = ROOT / "assets" / "models" / "efficientnet_lite0_backbone.onnx"
#: the boxes the stand-in detector finds in every picture, and their scores
BOXES = np.array([[4, 4, 40, 30], [30, 20, 90, 60], [10, 40, 50, 62], [0, 0, 8, 8]], np.float32)
SCORES = np.array([0.9, 0.6, 0.3, 0.05], np.float32)


class FixedDetect(Task):
    """A detector that finds BOXES: the embed task's input, without a detection model."""

    name = "detect"
    requires_model = False

    def decode(self, outputs, inputs):
        return Detections(BOXES.copy(), SCORES.copy(), np.arange(4), ("a", "b", "a", "c"))


@hookimpl
def _register_fixed(registry):
    registry.add(TaskSpec(name="detect", summary="fixed boxes", factory=f"{__name__}:FixedDetect"))


FIXED = types.SimpleNamespace(visionkit_register_tasks=_register_fixed)


@pytest.fixture(scope="module")
def tiny_run(tiny_backbone, tmp_path_factory):
    """A seconds-long training run on the tiny backbone: its summary, head file and backbone."""
    pytest.importorskip("torch")
    from visionkit.plugins.embed.train import EmbedRecipe, train_and_export

    recipe = EmbedRecipe(n_train=3, n_val=1, frames=40, size=96, epochs=4, steps=10, sequences=2, views=4,
                         dim=16, width=8, hidden=16, lr=1e-2, patience=None, threads=1, test_n=1, test_frames=40)
    out = tmp_path_factory.mktemp("embed")
    summary = train_and_export(out, recipe, tiny_backbone.path, cache_root=out / "cache", progress=False,
                               log=lambda line: None)
    return summary, Path(summary["paths"]["embed"]), tiny_backbone


def test_a_tiny_training_run_lowers_the_loss_and_exports_a_carded_head(tiny_run):
    from visionkit.nn.export import read_card

    summary, head, backbone = tiny_run
    losses = [e["train_loss"] for e in summary["history"]]
    assert losses[-1] < losses[0], losses
    card = read_card(head)
    assert (card.task, card.output, card.features) == ("embed", "embeddings", ("c3", "c4", "c5"))
    assert card.backbone.hash == backbone.hash
    assert card.options == {"score": 0.1, "max_instances": 100} and card.config["dim"] == 16
    assert {"rank1", "mAP", "idf1", "idf1_no_reid", "test_seed"} <= set(card.metrics)
    assert 0 <= card.metrics["rank1"] <= 1 and 0 <= card.metrics["mAP"] <= 1
    assert card.metrics["test_seed"] == 10000
    assert head.stat().st_size < 200_000


def test_the_exported_head_gives_unit_vectors(tiny_run):
    import onnxruntime as ort

    _, head, backbone = tiny_run
    session = ort.InferenceSession(str(head), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["c3", "c4", "c5", "rois", "batch_indices"]
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.normal(size=(2, backbone.channels[i.name], *(64 // s,) * 2)).astype(np.float32)
             for i, s in zip(session.get_inputs()[:3], (8, 16, 32))}
    feeds |= {"rois": np.array([[0, 0, 20, 30], [10, 5, 64, 64], [30, 30, 34, 33]], np.float32),
              "batch_indices": np.array([0, 1, 1], np.int64)}
    (vectors,) = session.run(None, feeds)
    assert vectors.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_the_task_embeds_the_detections_above_its_score(tiny_run, visionkit_plugin):
    from visionkit.pipeline import Pipeline

    _, head, backbone = tiny_run
    visionkit_plugin("embed", EMBED)
    visionkit_plugin("detect", FIXED)
    pipe = Pipeline(["embed"], model=head, backbone=backbone.path, device="cpu")
    image = np.random.default_rng(1).integers(0, 255, (64, 96, 3), np.uint8)
    result = pipe(image)["embed"]
    assert result.kind == "embeddings" and list(result.indices) == [0, 1, 2]  # 0.05 is below score 0.1
    assert result.labels == ("a", "b", "a") and result.vectors.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(result.for_detections(4)[3], 0)  # not embedded: no feature
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["vectors"]) == 3 and len(data["vectors"][0]) == 16
    assert "3 embedded (16-d)" in result.summary()
    pipe.set_options("embed", score=0.0, max_instances=2)
    assert list(pipe(image)["embed"].indices) == [0, 1]  # the two best, in the detector's order
    from visionkit.plugins.embed.painter import draw_embeddings

    canvas = image.copy()
    assert draw_embeddings(canvas, result) and (canvas != image).any()


def test_a_head_exported_for_another_backbone_is_refused_naming_both(tiny_run, tmp_path, visionkit_plugin):
    from visionkit.pipeline import Pipeline
    from visionkit.testing.models import make_tiny_backbone

    _, head, backbone = tiny_run
    visionkit_plugin("embed", EMBED)
    visionkit_plugin("detect", FIXED)
    other = make_tiny_backbone(tmp_path / "other_backbone.onnx", seed=5)
    with pytest.raises(ModelError) as err:
        Pipeline(["embed"], model=head, backbone=other.path, device="cpu")
    assert backbone.hash in str(err.value) and other.hash in str(err.value)


def test_the_bundled_head_ranks_a_fresh_sequence_as_its_card_says():
    if not BUNDLED.is_file():
        pytest.skip("assets/models/shapeworld_embed.onnx is not there (visionkit train embed makes it)")
    from visionkit.plugins.embed.evaluate import HeadEmbedder

    from visionkit.nn.recipes.embed_measure import measure
    from visionkit.onnx_cards import read_card

    card = read_card(BUNDLED)
    got = measure(HeadEmbedder(LITE0, BUNDLED, threads=2), seed=20000, n_sequences=1, frames=100,
                  gap=card.metrics.get("test_gap", 10))
    assert got["queries"] > 30
    # one sequence's rank-1 varies by several points about the card's mean over eight
    assert got["rank1"] >= card.metrics["rank1"] - 0.15, (got, card.metrics)
    assert got["mAP"] >= card.metrics["mAP"] - 0.15, (got, card.metrics)


def link(tmp_path: Path, folder: str, name: str) -> Path:
    target = tmp_path / name
    if not target.exists():
        target.symlink_to(realworld("models", folder, name))
    return target


def test_a_third_party_person_reid_model_tells_people_apart_across_frames(tmp_path, visionkit_plugin):
    cv2 = pytest.importorskip("cv2")
    from scipy.optimize import linear_sum_assignment

    from visionkit.pipeline import Pipeline

    visionkit_plugin("embed", EMBED)
    reid = link(tmp_path, "reid", "person-reidentification-retail-0288.onnx")
    yolox = link(tmp_path, "detection", "yolox_nano_416x416.onnx")
    video = realworld("video", "opencv_vtest_480x360.mp4")
    # OpenVINO's re-ID models take BGR pixels 0-255, the crop stretched to 256 x 128
    assert main(["models", "card", str(reid), "--task", "embed", "--output", "crops", "--channel-order", "bgr",
                 "--scale", "1"]) == 0
    assert main(["models", "card", str(yolox), "--task", "detect", "--output", "yolox", "--labels", "coco",
                 "--channel-order", "bgr", "--scale", "1", "--letterbox", "topleft"]) == 0
    pipe = Pipeline(["embed"], model=reid, models={"detect": yolox}, device="cpu",
                    options={"detect": {"score": 0.4}, "embed": {"score": 0.4}})
    capture = cv2.VideoCapture(str(video))
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(160)]
    capture.release()
    hits = pairs = 0
    for t in range(20, 150, 25):  # the same people 0.4 s later (10 fps), matched by their boxes
        a, b = (pipe(frames[k])["embed"] for k in (t, t + 4))
        people = [[i for i, lab in enumerate(r.labels) if lab == "person"] for r in (a, b)]
        boxes = [r.boxes[p] for r, p in zip((a, b), people)]
        lo, hi = np.maximum(boxes[0][:, None, :2], boxes[1][None, :, :2]), np.minimum(boxes[0][:, None, 2:],
                                                                                       boxes[1][None, :, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), -1)
        area = [np.prod(x[:, 2:] - x[:, :2], -1) for x in boxes]
        iou = inter / (area[0][:, None] + area[1][None] - inter)
        sim = a.vectors[people[0]] @ b.vectors[people[1]].T
        assert a.dim == 256
        for i, j in zip(*linear_sum_assignment(-iou)):
            if iou[i, j] > 0.5 and sim.shape[1] > 1:
                pairs += 1
                hits += sim[i].argmax() == j  # nearer to themselves than to anyone else
    assert pairs >= 12 and hits / pairs >= 0.8, (hits, pairs)
