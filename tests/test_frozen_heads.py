"""Heads trained on a frozen, exported backbone from cached features: the cache is filled once
and reused, keyed by what made it and bounded on disk; mirrored copies carry mirrored labels; a
tiny run trains, exports heads the pipeline runs on that backbone, and resumes exactly."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import visionkit as vk  # noqa: E402
from visionkit.data.figures import JOINTS  # noqa: E402
from visionkit.data.scenes import scene_for  # noqa: E402
from visionkit.data.shapeworld import render  # noqa: E402
from visionkit.errors import ModelError, UsageError  # noqa: E402
from visionkit.nn.feature_cache import feature_cache  # noqa: E402
from visionkit.results import Detections, SegmentationMask  # noqa: E402
from visionkit.testing.models import make_tiny_backbone  # noqa: E402

PARTS = [("detect", 4, 0), ("pose", 2, 0), ("classify", 2, 0)]
QUIET = {"progress": False, "log": lambda line: None}


def _recipe(**changes):
    from visionkit.nn.recipes.frozen import HeadsRecipe

    sizes = {"n_detect": 12, "n_pose": 6, "n_classify": 6, "n_val": 2, "epochs": 2, "batch_size": 8,
             "workers": 1, "threads": 2, "bf16": False}
    return HeadsRecipe(**{**sizes, **changes})


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return make_tiny_backbone(tmp_path_factory.mktemp("backbone") / "tiny_backbone.onnx", size=64)


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def trained(backbone, cache_root, tmp_path_factory):
    """``visionkit train heads`` at the sizes of :func:`_recipe`, every registered head."""
    import contextlib
    import io
    import json

    from visionkit.cli import main

    out = tmp_path_factory.mktemp("heads")
    sizes = ["--n-detect", "12", "--n-pose", "6", "--n-classify", "6", "--n-val", "2", "--epochs", "2",
             "--batch-size", "8", "--test-n", "2", "--threads", "2"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", "heads", "--backbone", str(backbone.path), "--out", str(out), "--cache",
                     str(cache_root), *sizes, "--json", "-q"]) == 0
    return {"summary": json.loads(printed.getvalue()), "out": out}


@pytest.fixture
def backbone_calls(monkeypatch):
    """How many times onnxruntime runs a model (the backbone, while a cache fills)."""
    from visionkit.runtime import OnnxModel

    calls, run = [0], OnnxModel.run

    def counted(self, feeds):
        calls[0] += 1
        return run(self, feeds)

    monkeypatch.setattr(OnnxModel, "run", counted)
    return calls


def test_the_cache_is_filled_once_then_reused_without_running_the_backbone(backbone, tmp_path, backbone_calls):
    first = feature_cache(backbone.path, PARTS, tmp_path, workers=1, **QUIET)
    assert backbone_calls[0] > 0
    assert len(first) == 8 and first.copies == 2 and first.input_size == (64, 64)
    assert first.feature_shapes == {"c2": (1, 16, 16, 16), "c3": (1, 24, 8, 8), "c4": (1, 32, 4, 4),
                                    "c5": (1, 48, 2, 2)}
    assert first.maps["c5"].dtype == np.float16 and isinstance(first.maps["c5"], np.memmap)
    backbone_calls[0] = 0
    again = feature_cache(backbone.path, PARTS, tmp_path, workers=1, **QUIET)
    assert backbone_calls[0] == 0 and again.folder == first.folder
    assert [p.name for p in tmp_path.iterdir()] == [first.folder.name]  # no partial fill left behind
    idx, copy = np.array([5, 1]), np.array([1, 0])
    for k, v in again.features(idx, copy).items():
        assert v.dtype == np.float32 and np.array_equal(v, first.maps[k][idx, copy].astype(np.float32))


def test_a_cache_filled_piece_by_piece_holds_the_whole_set(backbone, tmp_path, monkeypatch):
    import visionkit.nn.feature_cache as fc
    from visionkit.data.scene_arrays import make_scene_arrays
    from visionkit.runtime import load_model

    monkeypatch.setattr(fc, "GENERATE_CHUNK", 3)
    monkeypatch.setattr(fc, "RUN_BATCH", 2)
    cache = feature_cache(backbone.path, PARTS, tmp_path, copies=1, workers=1, **QUIET)
    whole = make_scene_arrays(PARTS, backbone.card.input, workers=1)
    model = load_model(backbone.path)
    expected = dict(zip(model.outputs, model.run({"image": whole.images})))
    index = np.arange(len(whole))
    for k, v in cache.features(index, np.zeros_like(index)).items():
        assert np.allclose(v, expected[k], rtol=2e-3, atol=1e-3), k
    got = cache.annotations(index, np.zeros_like(index))
    assert np.array_equal(got.semantic, whole.semantic) and np.array_equal(got.image_labels, whole.image_labels)
    for a, b in zip((got.boxes, got.classes, got.keypoints), (whole.boxes, whole.classes, whole.keypoints)):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_changed_seed_recipe_augmentation_or_backbone_makes_another_cache(backbone, tmp_path):
    base = feature_cache(backbone.path, PARTS, tmp_path, workers=1, **QUIET).folder
    other_seed = [(k, n, s + 1) for k, n, s in PARTS]
    more = [("detect", 5, 0)] + PARTS[1:]
    other_backbone = make_tiny_backbone(tmp_path / "b2" / "tiny_backbone.onnx", size=64, seed=1).path
    folders = {
        base,
        feature_cache(backbone.path, other_seed, tmp_path, workers=1, **QUIET).folder,
        feature_cache(backbone.path, more, tmp_path, workers=1, **QUIET).folder,
        feature_cache(backbone.path, PARTS, tmp_path, copies=1, workers=1, **QUIET).folder,
        feature_cache(other_backbone, PARTS, tmp_path, workers=1, **QUIET).folder,
    }
    assert len(folders) == 5


def test_pictures_drawn_by_changed_sampler_code_make_another_cache(backbone, tmp_path, monkeypatch):
    from visionkit.data import scene_arrays
    from visionkit.nn import feature_cache as fc

    base = feature_cache(backbone.path, PARTS, tmp_path, workers=1, **QUIET).folder
    monkeypatch.setattr(fc, "sampler_digest", lambda: "another sampler")
    assert feature_cache(backbone.path, PARTS, tmp_path, workers=1, **QUIET).folder != base
    digest = scene_arrays.sampler_digest()
    assert len(digest) == 16 and digest == scene_arrays.sampler_digest()

def test_a_cache_serves_fewer_maps_and_is_filled_again_for_more(backbone, tmp_path, backbone_calls):
    few = feature_cache(backbone.path, PARTS, tmp_path, maps=["c4", "c5"], workers=1, **QUIET)
    assert list(few.maps) == ["c4", "c5"]
    backbone_calls[0] = 0
    assert list(feature_cache(backbone.path, PARTS, tmp_path, maps=["c5"], workers=1, **QUIET).maps) == ["c5"]
    assert backbone_calls[0] == 0
    more = feature_cache(backbone.path, PARTS, tmp_path, maps=["c3", "c5"], workers=1, **QUIET)
    assert backbone_calls[0] > 0 and more.folder == few.folder and list(more.maps) == ["c3", "c4", "c5"]


def test_a_cache_over_its_limit_is_refused_in_one_line_before_any_work(backbone, tmp_path, capsys):
    from visionkit.cli import main

    with pytest.raises(UsageError, match=r"would take 0\.00 GB .* the limit is 1e-06 GB") as err:
        feature_cache(backbone.path, PARTS, tmp_path / "cache", limit_gb=1e-6, workers=1, **QUIET)
    assert "\n" not in str(err.value)
    assert not any((tmp_path / "cache").iterdir())
    args = ["train", "heads", "--backbone", str(backbone.path), "--out", str(tmp_path / "out"), "--cache",
            str(tmp_path / "cli"), "--cache-limit-gb", "0.000001", "--n-detect", "2", "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "larger --cache-limit-gb" in err and "\n" not in err


@pytest.mark.slow
def test_bad_input_is_one_line(backbone, trained, tmp_path, capsys):
    from visionkit.cli import main

    head = trained["summary"]["paths"]["segment"]
    common = ["--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "-q"]
    cases = [
        (["--backbone", head], "shapeworld_segment.onnx is a 'segment' model, not an exported backbone"),
        (["--backbone", str(tmp_path / "none.onnx")], "none.onnx: no such backbone file"),
        (["--backbone", str(backbone.path), "--heads", "detect,count"], "no plugin provides head 'count'"),
    ]
    for extra, message in cases:
        assert main(["train", "heads", *extra, *common]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    with pytest.raises(ModelError, match="gives c2, c3, c4, c5, not p6"):
        feature_cache(backbone.path, PARTS, tmp_path, maps=["p6"], **QUIET)


def test_the_mirrored_copy_has_the_mirror_images_features_and_mirrored_labels(tmp_path):
    """At 256 px (the scenes' own size, so labels are exact): copy 1's features are the
    backbone's of the mirrored picture, and its class map, boxes and joints are those of the
    mirrored picture, left and right joints swapped."""
    from visionkit.data.scene_arrays import make_scene_arrays
    from visionkit.data.scenes import FIGURE_ID
    from visionkit.runtime import load_model

    bb = make_tiny_backbone(tmp_path / "tiny_backbone.onnx", size=256)
    parts = [("pose", 1, 3), ("detect", 1, 0)]  # two figures; three shapes of three classes
    cache = feature_cache(bb.path, parts, tmp_path / "cache", workers=1, **QUIET)
    data = make_scene_arrays(parts, bb.card.input, workers=1)
    index, original, mirror = np.arange(2), np.zeros(2, int), np.ones(2, int)
    model = load_model(bb.path)
    expected = dict(zip(model.outputs, model.run({"image": np.ascontiguousarray(data.images[:, :, ::-1])})))
    for k, v in cache.features(index, mirror).items():
        assert np.allclose(v, expected[k], rtol=2e-3, atol=1e-3), k
        assert not np.allclose(v, cache.features(index, original)[k])  # the backbone is no mirror itself

    flipped = cache.annotations(index, mirror)
    assert np.array_equal(flipped.semantic, data.semantic[:, :, ::-1])
    assert np.array_equal(cache.annotations(index, original).semantic, data.semantic)
    # each object whose class is alone in its picture: its box bounds its pixels in the mirror
    checked = 0
    for semantic, boxes, classes in zip(flipped.semantic, flipped.boxes, flipped.classes):
        for box, c in zip(boxes, classes):
            if list(classes).count(c) == 1:
                ys, xs = np.nonzero(semantic == c + 1)
                assert np.allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]), c
                checked += 1
    assert checked == 3
    # a visible joint lies on a figure's pixels in the mirror; left and right change places
    left, right = JOINTS.index("l_wrist"), JOINTS.index("r_wrist")
    for f in np.flatnonzero(flipped.classes[0] == FIGURE_ID):
        joints, before = flipped.keypoints[0][f], data.keypoints[0][f]
        visible = joints[joints[:, 2] == 2]
        assert len(visible) > 5
        for x, y, _ in visible:
            assert flipped.semantic[0][int(np.rint(y)), int(np.rint(x))] == FIGURE_ID + 1
        assert np.array_equal(joints[left, 2], before[right, 2])
        assert np.allclose(joints[left, :2], [255 - before[right, 0], before[right, 1]])


@pytest.mark.slow
def test_a_tiny_run_trains_and_exports_heads_the_pipeline_runs_on_that_backbone(trained, backbone):
    from visionkit.nn.export import read_card

    summary, out = trained["summary"], trained["out"]
    paths = summary["paths"]
    assert set(paths) == {"backbone", "classify", "detect", "detect_boxes", "segment", "pose"}
    assert summary["hash"] == backbone.hash and summary["epochs"] == 2
    assert read_card(paths["backbone"]).hash == backbone.hash  # the copy beside the heads
    for role in ("classify", "detect", "detect_boxes", "segment", "pose"):
        card = read_card(paths[role])
        assert card.backbone.hash == backbone.hash and card.backbone.name == "tiny_backbone", role
        assert card.metrics["epochs_run"] == 2 and card.provenance["backbone"]["hash"] == backbone.hash
    assert "AP" in read_card(paths["detect_boxes"]).metrics and "mIoU" in read_card(paths["segment"]).metrics
    assert summary["metrics"]["pose"]["test_n"] == 2 and "top1" in summary["metrics"]["classify"]

    models = {t: paths[t] for t in ("detect", "segment")}
    image = render(scene_for("detect", 7, 0))
    for pipe in (vk.Pipeline(["detect", "segment"], models=models, backbone=paths["backbone"]),
                 vk.Pipeline(["detect", "segment"], models=models)):  # the backbone found beside them
        result = pipe(image)
        assert isinstance(result["detect"], Detections) and isinstance(result["segment"], SegmentationMask)
        assert result["segment"].label_map.shape == image.shape[:2]
    assert not (out / "shapeworld_heads.state.pt").exists() and (out / "shapeworld_heads.pt").is_file()


@pytest.mark.slow
def test_a_second_run_computes_no_features(trained, backbone, cache_root, backbone_calls):
    from visionkit.nn.recipes.frozen import train

    model, info, _ = train(_recipe(epochs=1, heads=("classify", "pose")), backbone.path, cache_root=cache_root,
                           **QUIET)
    assert backbone_calls[0] == 0  # both caches (training and validation) were filled by the first run
    assert list(model.heads) == ["classify", "pose"]
    row = info["history"]["epochs"][0]
    assert np.isfinite(row["train_cls"]) and np.isfinite(row["val_pose"]) and "train_seg" not in row


def test_a_run_of_some_heads_shares_the_folder_and_measures_with_the_heads_found_there(trained, backbone,
                                                                                       cache_root):
    from visionkit.nn.recipes.frozen import train_and_export

    out = trained["out"]
    before = (out / "shapeworld_heads.pt").read_bytes()
    result = train_and_export(out, _recipe(epochs=1, heads=("pose",)), backbone.path, cache_root=cache_root,
                              test_n=2, **QUIET)
    assert Path(result["checkpoint"]).name == "shapeworld_heads-pose.pt"
    assert (out / "shapeworld_heads.pt").read_bytes() == before  # the whole run's checkpoint is left alone
    assert result["metrics"]["pose"]["test_n"] == 2  # measured on the detector the first run left there


def test_a_head_trained_alone_skips_the_batches_it_has_no_labels_for(trained, backbone, cache_root):
    from visionkit.nn.recipes.frozen import train

    # one single-shape picture among 19: three of the four batches hold none, and their loss is constant
    recipe = _recipe(epochs=1, heads=("classify",), n_classify=1, batch_size=4)
    model, info, _ = train(recipe, backbone.path, cache_root=cache_root, **QUIET)
    row = info["history"]["epochs"][0]
    assert list(model.heads) == ["classify"] and np.isfinite(row["train_loss"]) and row["train_cls_count"] > 0


class Stop(Exception):
    """Stands in for a kill in the middle of a run."""


@pytest.mark.slow
def test_a_stopped_run_resumes_to_the_weights_of_one_that_never_stopped(backbone, cache_root, tmp_path,
                                                                       monkeypatch):
    from visionkit.nn.recipes import frozen
    from visionkit.nn.train_state import ResumeError

    recipe = _recipe(epochs=2, batch_size=4)  # 6 batches per epoch
    reference, _, _ = frozen.train(recipe, backbone.path, cache_root=cache_root, **QUIET)
    make_step = frozen.make_step

    def stopping(cache_of):
        step, calls = make_step(cache_of), {"n": 0}

        def wrapped(model, item, g, train):
            calls["n"] += train
            if calls["n"] == 9:  # the third batch of epoch 2
                raise Stop
            return step(model, item, g, train)

        return wrapped

    state, fit = tmp_path / "heads.state.pt", frozen.fit
    monkeypatch.setattr(frozen, "make_step", stopping)
    # the state is saved after every batch, as a long run saves it every ten minutes
    monkeypatch.setattr(frozen, "fit", lambda *args, **kwargs: fit(*args, **kwargs, save_every_s=0.0))
    with pytest.raises(Stop):
        frozen.train(recipe, backbone.path, cache_root=cache_root, state_path=state, **QUIET)
    monkeypatch.setattr(frozen, "make_step", make_step)
    monkeypatch.setattr(frozen, "fit", fit)
    with pytest.raises(ResumeError, match="stopped at batch 2/6 of epoch 2/2: continue it with --resume"):
        frozen.train(recipe, backbone.path, cache_root=cache_root, state_path=state, **QUIET)
    with pytest.raises(ResumeError, match="differs in lr"):
        frozen.train(_recipe(epochs=2, batch_size=4, lr=0.5), backbone.path, cache_root=cache_root,
                     state_path=state, resume=True, **QUIET)
    model, info, _ = frozen.train(recipe, backbone.path, cache_root=cache_root, state_path=state, resume=True,
                                  **QUIET)
    assert len(info["history"]["epochs"]) == 2
    for (name, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_still_frames_of_tracking_sequences_join_the_set_only_when_asked():
    from visionkit.nn.recipes.frozen import HeadsRecipe

    assert all(kind != "track" for kind, _, _ in HeadsRecipe().train_parts() + HeadsRecipe().val_parts())
    recipe = HeadsRecipe(n_track=300, seed=3)
    assert ("track", 300, 3) in recipe.train_parts() and ("track", 128, 5003) in recipe.val_parts()
