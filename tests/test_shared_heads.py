"""The shared backbone and its heads end to end: a tiny joint training run, the export of every
graph (checked against torch inside the export), and the pipeline running them together."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from visionkit.data.scenes import scene_for  # noqa: E402
from visionkit.data.shapeworld import render  # noqa: E402
from visionkit.errors import ModelError, VisionkitError  # noqa: E402
from visionkit.pipeline import Pipeline  # noqa: E402
from visionkit.results import Detections, Keypoints, SegmentationMask  # noqa: E402

TASKS = ("classify", "detect", "segment", "pose")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from visionkit.nn.recipes.export import export_shared
    from visionkit.nn.recipes.shapeworld import Recipe, train

    # both stages, tiny: classification pre-training, then the joint run
    recipe = Recipe(
        n_detect=16,
        n_pose=8,
        n_classify=8,
        n_val=4,
        epochs=1,
        batch_size=8,
        workers=1,
        threads=2,
        pretrain_options=dict(n_train=56, n_val=28, n_test=28, epochs=1),
    )
    model, info = train(
        recipe, log=lambda line: None, progress=False, workdir=tmp_path_factory.mktemp("pretrain")
    )
    out = tmp_path_factory.mktemp("shared")
    paths = export_shared(model, out)
    return {"paths": paths, "info": info, "dir": out}


def models(shared, *tasks):
    return {t: shared["paths"][t] for t in tasks}


def test_training_runs_every_loss(shared):
    assert shared["info"]["pretrain"]["test_n"] == 28  # stage 1 ran and was measured
    row = shared["info"]["history"]["epochs"][0]
    for key in ("train_seg", "train_rpn", "train_boxes", "train_cls", "train_pose"):
        assert np.isfinite(row[key]) and row[key] > 0, key
    assert row["train_pose_n"] > 0 and row["train_cls_count"] > 0


def test_every_head_runs_on_one_backbone_pass(shared):
    pipe = Pipeline(list(TASKS), models=models(shared, *TASKS), options={"detect": {"score": 0.0}})
    image = render(scene_for("pose", 7, 0))
    result = pipe(image)
    assert set(result.results) == set(TASKS)
    assert isinstance(result["detect"], Detections) and isinstance(result["segment"], SegmentationMask)
    assert isinstance(result["pose"], Keypoints)
    assert result["segment"].label_map.shape == image.shape[:2]
    assert "backbone" in result.timings_ms and all(t in result.timings_ms for t in TASKS)
    assert len(result["pose"].names) == 15 and len(result["pose"].skeleton) == 14
    json.dumps(result.to_dict())  # the schema is JSON-safe


def test_pose_alone_brings_the_detector_it_needs_and_runs_it_first(shared):
    # detect is added (a model may be named for it, else its default is used)
    pipe = Pipeline(["pose"], models=models(shared, "pose", "detect"))
    assert pipe.task_names == ["detect", "pose"] and pipe.added == {"detect": "pose"}
    pipe = Pipeline(["pose", "detect"], models=models(shared, "pose", "detect"))
    assert pipe.task_names == ["detect", "pose"] and pipe.added == {}
    whole = Pipeline(
        ["pose"],
        models=models(shared, "pose"),
        backbone=shared["paths"]["backbone"],
        options={"pose": {"whole_image": True}},
    )
    assert whole.task_names == ["pose"]
    kp = whole(render(scene_for("pose", 7, 1)))["pose"]
    assert len(kp) == 1 and kp.points.shape == (1, 15, 3)
    assert np.all((kp.points[..., 2] >= 0) & (kp.points[..., 2] <= 1))


@pytest.mark.parametrize("shape", [(10, 12, 3), (31, 300, 3), (256, 256, 3)])
def test_small_odd_and_empty_pictures(shared, shape):
    """Smaller than the largest stride, a thin strip, and a blank picture: results, not errors."""
    pipe = Pipeline(list(TASKS), models=models(shared, *TASKS))
    image = np.full(shape, 200, np.uint8)
    result = pipe(image)
    assert result.error is None
    assert result["segment"].label_map.shape == shape[:2]
    boxes = result["detect"].boxes
    assert np.all(boxes[:, 0::2] <= shape[1]) and np.all(boxes[:, 1::2] <= shape[0])


def test_hundreds_of_objects_are_capped_not_crashing(shared):
    image = np.full((256, 256, 3), 30, np.uint8)
    for i in range(400):  # a 20 x 20 grid of small squares
        y, x = divmod(i, 20)
        image[y * 12 + 2 : y * 12 + 10, x * 12 + 2 : x * 12 + 10] = (250, 200, 40)
    pipe = Pipeline(
        ["detect"], models=models(shared, "detect"), options={"detect": {"score": 0.0, "max_det": 300}}
    )
    dets = pipe(image)["detect"]
    assert 0 < len(dets) <= 300


def _retag(src, dst, **changes):
    import onnx

    from visionkit.nn.export import embed_card, read_card

    proto = onnx.load(str(src))
    card = read_card(src)
    embed_card(proto, card.with_(**changes))
    onnx.save_model(proto, str(dst))
    return dst


def test_cards_keep_other_graphs_and_fixed_configuration_apart_from_options(shared):
    from visionkit.data.figures import SKELETON
    from visionkit.nn.export import read_card

    cards = {role: read_card(path) for role, path in shared["paths"].items()}
    assert set(cards) == {"backbone", "classify", "detect", "detect_boxes", "segment", "pose"}
    assert dict(cards["detect"].parts) == {"box_head": "shapeworld_detect_boxes.onnx"}
    assert dict(cards["pose"].config) == {"skeleton": [list(p) for p in SKELETON], "figure_label": "figure"}
    assert dict(cards["classify"].options) == {"topk": 5}
    for role in ("detect", "detect_boxes", "segment", "pose"):
        assert not cards[role].options, role  # nothing a user sets
    assert cards["detect_boxes"].task == "detect.boxes"


def test_every_head_is_measured_and_its_cards_record_it(shared, tmp_path):
    from visionkit.nn.export import read_card
    from visionkit.nn.recipes.bundle import measure, record

    out = tmp_path / "models"
    shutil.copytree(shared["dir"], out)
    lines = []
    held_out = {name: (10000, 2) for name in TASKS}
    metrics = measure(out, held_out, log=lines.append)
    assert list(metrics) == list(TASKS) and len(lines) == len(TASKS)
    for name, key in (("classify", "top1"), ("detect", "AP"), ("segment", "mIoU"), ("pose", "pck@0.1")):
        assert 0 <= metrics[name][key] <= 1 and metrics[name]["test_n"] == 2, name
    record(out, metrics, {"epochs_run": 1})
    assert read_card(out / "shapeworld_detect_boxes.onnx").metrics["AP"] == metrics["detect"]["AP"]
    assert read_card(out / "shapeworld_backbone.onnx").metrics == {"epochs_run": 1}


def test_a_head_for_another_backbone_is_refused(shared, tmp_path):
    from visionkit.cards import BackboneRef

    head = _retag(
        shared["paths"]["segment"],
        tmp_path / "seg.onnx",
        backbone=BackboneRef("shapeworld_backbone", "0123456789abcdef"),
    )
    with pytest.raises(ModelError, match="re-export the head"):
        Pipeline(["segment"], model=head, backbone=shared["paths"]["backbone"])


def test_the_box_head_must_be_there_and_match(shared, tmp_path):
    from visionkit.cards import BackboneRef

    rpn = tmp_path / "det.onnx"
    shutil.copy(shared["paths"]["detect"], rpn)
    with pytest.raises(ModelError, match="box_head shapeworld_detect_boxes.onnx is missing"):
        Pipeline(["detect"], model=rpn, backbone=shared["paths"]["backbone"])
    _retag(
        shared["paths"]["detect_boxes"],
        tmp_path / "shapeworld_detect_boxes.onnx",
        backbone=BackboneRef("shapeworld_backbone", "0123456789abcdef"),
    )
    with pytest.raises(ModelError, match="another backbone"):
        Pipeline(["detect"], model=rpn, backbone=shared["paths"]["backbone"])


def test_pose_needs_figures_from_somewhere(shared):
    from visionkit.plugins.pose.runtime import PoseTask
    from visionkit.preprocess import Transform
    from visionkit.runtime import load_model
    from visionkit.tasks import TaskInputs

    task = PoseTask(load_model(shared["paths"]["pose"]))
    inputs = TaskInputs(np.zeros((64, 64, 3), np.uint8), {}, None, Transform(4.0, 4.0, 0, 0), (256, 256))
    with pytest.raises(VisionkitError, match="detect task's figures"):
        task.forward(inputs)


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--lr", "-1"], "--lr must be positive"),
    ],
)
def test_train_shapeworld_checks_its_flags(flags, message, capsys):
    from visionkit.cli import main

    assert main(["train", "shapeworld", "--out", "unused", *flags]) == 2
    assert message in capsys.readouterr().err


def test_a_shapeworld_checkpoint_exports_again(shared, tmp_path, monkeypatch):
    """`visionkit export` knows the recipe's checkpoints: same weights, same backbone hash."""
    import visionkit.nn.recipes.bundle as bundle
    from visionkit.cli import main
    from visionkit.nn.export import read_card

    from visionkit.nn.recipes.shapeworld import Recipe, SharedModel

    recipe = Recipe(
        n_detect=16, n_pose=8, n_classify=8, n_val=4, epochs=1, batch_size=8, workers=1, pretrain=False
    )
    shared_model = SharedModel()
    ckpt = tmp_path / "sw.pt"
    torch.save(
        {
            "kind": "shapeworld",
            "state_dict": shared_model.state_dict(),
            "recipe": dataclasses.asdict(recipe),
            "history": {"epochs": []},
        },
        ckpt,
    )
    monkeypatch.setattr(bundle, "measure", lambda *args, **kwargs: {})  # scoring is tested elsewhere
    assert main(["export", str(ckpt), "--out", str(tmp_path / "a"), "-q"]) == 0
    assert main(["export", str(ckpt), "--out", str(tmp_path / "b"), "-q"]) == 0
    a = read_card(tmp_path / "a" / "shapeworld_backbone.onnx")
    b = read_card(tmp_path / "b" / "shapeworld_backbone.onnx")
    assert a.hash == b.hash
    assert read_card(tmp_path / "a" / "shapeworld_pose.onnx").backbone.hash == a.hash


def _stage1_checkpoint(path, seed=0, **recipe_changes):
    from visionkit.nn.recipes.shapeworld import PRETRAIN_FILE, SharedModel
    from visionkit.plugins.classify.train import DEFAULTS

    model = SharedModel()
    state = {f"backbone.{k}": v for k, v in model.backbone.state_dict().items()}
    state.update({f"head.{k}": v for k, v in model.classify.state_dict().items()})
    recipe = {k: DEFAULTS[k] for k in ("epochs", "batch_size", "lr", "optimizer")} | recipe_changes
    ckpt = {
        "arch": "resnet_mini",
        "state_dict": state,
        "metrics": {"top1": 0.5},
        "provenance": {"seed": seed, "recipe": recipe, "data": {"train": {"n": DEFAULTS["n_train"]}}},
    }
    path.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path / PRETRAIN_FILE)
    return model


def test_stage_one_is_reused_only_when_it_would_come_out_the_same(tmp_path, monkeypatch):
    import visionkit.plugins.classify.train as classify_train
    from visionkit.nn.recipes.shapeworld import PRETRAIN_FILE, Recipe, SharedModel, pretrain, reusable_pretrain

    made = _stage1_checkpoint(tmp_path / "same")
    _stage1_checkpoint(tmp_path / "seed", seed=1)
    _stage1_checkpoint(tmp_path / "lr", lr=0.5)
    _stage1_checkpoint(tmp_path / "augment", augment="Augment(flip=0.0)")
    assert reusable_pretrain(Recipe(), tmp_path / "same") is not None
    assert reusable_pretrain(Recipe(seed=1), tmp_path / "same") is None
    assert reusable_pretrain(Recipe(), tmp_path / "seed") is None
    assert reusable_pretrain(Recipe(), tmp_path / "lr") is None
    assert reusable_pretrain(Recipe(), tmp_path / "augment") is None
    assert reusable_pretrain(Recipe(pretrain_options={"epochs": 1}), tmp_path / "same") is None
    assert reusable_pretrain(Recipe(), tmp_path / "missing") is None
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / PRETRAIN_FILE).write_bytes(b"<html>not a checkpoint</html>")
    assert reusable_pretrain(Recipe(), tmp_path / "junk") is None

    def no_training(*args, **kwargs):
        raise AssertionError("stage 1 ran again")

    monkeypatch.setattr(classify_train, "train_classify", no_training)
    lines = []
    model = SharedModel()
    assert pretrain(model, Recipe(), tmp_path / "same", lines.append, False) == {"top1": 0.5}
    assert "reusing" in lines[0]
    for a, b in zip(made.backbone.state_dict().values(), model.backbone.state_dict().values()):
        assert torch.equal(a, b)
