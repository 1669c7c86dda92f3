"""The bundled models, checked against their cards on freshly generated data and real photos.

Every head shares the one bundled backbone, EfficientNet-Lite0 on ImageNet. The ShapeWorld
seeds below were used by nothing else (training: 0, validation: 5000, the cards' test sets:
10000, samples: 424242), so these are held-out sets the heads have never seen. The sets are
smaller than the cards' (the suite must stay fast), so each head is held to its own card's
number less a margin for the smaller set.
"""

from pathlib import Path

import json

import numpy as np
import pytest

import visionkit as vk
from visionkit.bundled import resolve_model, samples
from visionkit.data.coco import load_coco, write_coco
from visionkit.data.shapeworld import CLASSES, iter_classify
from visionkit.coco_evaluator import evaluate_pipeline
from visionkit.runtime import load_model

HELD_OUT_SEED = 31337
N = 1400  # 100 per class on average: the margin below is five standard errors of a 99 % model
ROLES = ("classify", "detect", "detect_boxes", "segment", "pose", "embed", "caption", "caption_step")
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "images"


@pytest.fixture(scope="module")
def pipe():
    return vk.Pipeline(["classify"], models={"classify": "asset:shapeworld_classify.onnx"}, device="cpu")


def card(role: str):
    return load_model(resolve_model(f"asset:shapeworld_{role}.onnx"), device="cpu").card


def test_cards_are_consistent():
    backbone = load_model(resolve_model("asset:efficientnet_lite0_backbone.onnx"), device="cpu").card
    assert backbone.features == ("c2", "c3", "c4", "c5")
    assert backbone.strides == {"c2": 4, "c3": 8, "c4": 16, "c5": 32}
    assert backbone.input.letterbox and backbone.input.size == (224, 224)
    imagenet = load_model(resolve_model("asset:imagenet_classify.onnx"), device="cpu").card
    assert imagenet.backbone.hash == backbone.hash and len(imagenet.labels) == 1000
    for role in ROLES:
        head = card(role)
        assert head.backbone.name == backbone.name and head.backbone.hash == backbone.hash, role
        assert "command" in head.provenance and "seed" in str(head.provenance), role
    assert card("classify").labels == CLASSES
    assert card("classify").metrics["top1"] >= 0.98
    for role, metric in (("detect", "AP"), ("detect", "AP50"), ("segment", "mIoU"), ("pose", "pck@0.1")):
        assert 0 < card(role).metrics[metric] <= 1, (role, metric)
        assert card(role).metrics["test_seed"] == 10000, role

def test_top1_on_fresh_held_out_data_matches_the_card(pipe):
    correct = 0
    for image, label in iter_classify(N, seed=HELD_OUT_SEED):
        correct += pipe(image)["classify"].class_ids[0] == label
    accuracy = correct / N
    stated = pipe.tasks["classify"].card.metrics["top1"]
    assert accuracy >= stated - 0.015, f"top-1 {accuracy:.4f} on fresh data; the card states {stated:.4f}"


def test_the_default_classifier_names_a_real_photo():
    # the bundled samples are ShapeWorld's; a real photo comes from the shared test material
    photo = PHOTOS / "imagenet_finch.jpeg"
    if not photo.is_file():
        pytest.skip("needs the real-world test photos")
    top = vk.Pipeline(["classify"], device="cpu")(photo)["classify"]
    assert top.labels[0] == "house finch" and top.scores[0] > 0.5


def test_every_bundled_sample_is_classified_as_its_name(pipe):
    for path in (p for p in samples() if p.name.startswith("shapes_")):
        expected = path.stem.split("_")[1]
        assert pipe(path)["classify"].top[0] == expected, path.name


@pytest.mark.parametrize(
    "task,n,margins",
    [
        ("detect", 120, {"AP": 0.06, "AP50": 0.06}),
        ("segment", 80, {"mIoU": 0.06}),
        ("pose", 80, {"pck@0.1": 0.05}),
    ],
)
def test_scene_heads_on_fresh_held_out_data_match_their_cards(task, n, margins, tmp_path):
    write_coco(tmp_path, task, n, HELD_OUT_SEED)
    pipe = vk.Pipeline([task], device="cpu")
    metrics, failures = evaluate_pipeline(load_coco(tmp_path / "annotations.json"), pipe, task, progress=False)
    assert not failures
    for metric, margin in margins.items():
        stated = card(task).metrics[metric]
        assert metrics[metric] >= stated - margin, f"{task} {metric} {metrics[metric]:.4f} on fresh data; card {stated:.4f}"


def test_agnostic_nms_leaves_one_label_per_object(capsys):
    from visionkit.boxes import box_iou
    from visionkit.cli import main

    scene = next(str(p) for p in samples() if p.name == "scene_figures.png")
    per_class = vk.Pipeline(["detect"], options={"detect": {"score": 0.05}})(scene)["detect"]
    agnostic = vk.Pipeline(["detect"], options={"detect": {"score": 0.05, "agnostic": True}})(scene)["detect"]
    iou = box_iou(agnostic.boxes, agnostic.boxes)
    np.fill_diagonal(iou, 0)
    # NMS sees the first look's boxes; the detector's second look (card config.refine) then
    # moves each up to halfway to where it looks again, so an overlap may pass the threshold
    # (0.45) by a little: two boxes on one object overlap far more than this
    assert len(agnostic) and iou.max() <= 0.6 and len(agnostic) < len(per_class)
    assert main(["predict", scene, "--task", "detect", "--score", "0.05", "--agnostic", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert len(row["results"]["detect"]["boxes"]) == len(agnostic)


def test_the_captioner_on_fresh_held_out_scenes_matches_its_card():
    from visionkit.data.captions import scene_captions
    from visionkit.data.shapeworld import render
    from visionkit.plugins.caption.evaluate import caption_metrics

    stated = card("caption").metrics
    assert stated["test_seed"] == 10000 and stated["images"] == 500
    pipe = vk.Pipeline(["caption"], device="cpu")
    pipe.set_options("caption", beam=stated["beam"], captions=1)
    scenes = [scene_captions(HELD_OUT_SEED, i) for i in range(120)]
    best = [pipe(render(truth.scene))["caption"].text for truth, _ in scenes]
    got = caption_metrics(best, [refs for _, refs in scenes])
    # 120 scenes: about 0.04 standard error on a share near 0.8, 0.03 on BLEU-4
    for metric, margin in (("BLEU-4", 0.1), ("counts_colours", 0.12), ("exact_match", 0.12)):
        assert got[metric] >= stated[metric] - margin, f"{metric} {got[metric]:.4f} on fresh scenes; card {stated[metric]:.4f}"
