"""A tiny classify training run: both ONNX files, their cards, ORT == torch, re-export, CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from visionkit.cards import METADATA_KEY, BackboneRef, ModelCard  # noqa: E402
from visionkit.data.shapeworld import CLASSES, classify_dataset  # noqa: E402

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from visionkit.plugins.classify.train import train_classify

    out = tmp_path_factory.mktemp("classify")
    result = train_classify(out, seed=1, n_train=448, n_val=112, n_test=112, epochs=3, batch_size=32,
                            lr=0.05, size=64, progress=False)
    return out, result


def _card(path) -> ModelCard:
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    return ModelCard.from_json(meta[METADATA_KEY])


@pytest.mark.slow
def test_files_and_cards(trained):
    from visionkit.nn.export import model_hash

    out, result = trained
    bb_path, head_path = out / "shapeworld_backbone.onnx", out / "shapeworld_classify.onnx"
    assert bb_path.is_file() and head_path.is_file()
    assert not list(out.glob("*.data"))  # single files, no external weights
    bb, head = _card(bb_path), _card(head_path)
    assert bb.task == "backbone" and bb.output == "features"
    assert bb.features == ("c2", "c3", "c4", "c5") and dict(bb.strides) == {"c2": 4, "c3": 8, "c4": 16, "c5": 32}
    # uint8 RGB pixels in; normalisation happens inside the graph
    assert bb.input.size == (64, 64) and bb.input.layout == "NHWC" and bb.input.dtype == "uint8"
    assert bb.input.channel_order == "rgb" and bb.input.scale == 1.0 and bb.input.mean == (0, 0, 0)
    assert bb.input.resize == 64 and bb.input.crop is None and not bb.input.letterbox  # centre crop
    assert bb.hash == model_hash(bb_path) and len(bb.hash) == 16
    assert head.task == "classify" and head.output == "logits" and head.labels == CLASSES
    assert head.backbone == BackboneRef(bb.name, bb.hash)
    assert head.features == ("c5",) and head.options["topk"] == 5
    for card in (bb, head):
        assert 0.0 <= card.metrics["top1"] <= 1.0 and card.metrics["test_seed"] == 1 + 10_000
        assert card.provenance["seed"] == 1 and card.provenance["torch"] == torch.__version__
        assert card.provenance["data"]["train"]["seed"] == 1
    assert result["metrics"]["train_loss_last"] < result["metrics"]["train_loss_first"]


@pytest.mark.slow
def test_onnxruntime_matches_torch(trained):
    from visionkit.plugins.classify.train import MEAN, STD, build_model

    out, result = trained
    ckpt = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)  # plain data only
    model = build_model(ckpt["arch"], len(ckpt["labels"]))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    images, _ = classify_dataset(3, seed=77, size=(64, 96))  # dynamic height/width too
    x = ((images.astype(np.float32) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2).astype(np.float32)
    bb = ort.InferenceSession(str(out / "shapeworld_backbone.onnx"), providers=["CPUExecutionProvider"])
    head = ort.InferenceSession(str(out / "shapeworld_classify.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in bb.get_inputs()] == ["image"]
    assert [o.name for o in bb.get_outputs()] == ["c2", "c3", "c4", "c5"]
    assert [i.name for i in head.get_inputs()] == ["c5"] and [o.name for o in head.get_outputs()] == ["logits"]
    c2, c3, c4, c5 = bb.run(None, {"image": np.ascontiguousarray(images)})  # raw uint8 NHWC pixels
    assert c3.shape[2:] == (8, 12) and c5.shape[2:] == (2, 3)
    (logits,) = head.run(None, {"c5": c5})
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert logits.shape == (3, len(CLASSES))
    assert np.abs(logits - ref).max() / np.abs(ref).max() <= 1e-4


@pytest.mark.slow
def test_export_checkpoint_is_reproducible(trained, tmp_path):
    from visionkit.cli import train_cmd

    out, result = trained
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", result["checkpoint"], "--out", str(tmp_path), "--quiet"])
    assert args.func(args) == 0
    assert _card(tmp_path / "shapeworld_backbone.onnx").hash == result["backbone_card"].hash
    assert _card(tmp_path / "shapeworld_classify.onnx").backbone.hash == result["backbone_card"].hash


def test_cli_user_errors(tmp_path):
    from visionkit.cli import train_cmd
    from visionkit.errors import InputError, UsageError

    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", str(tmp_path / "missing.pt"), "--out", str(tmp_path)])
    with pytest.raises(InputError):
        args.func(args)
    args = parser.parse_args(["train", "classify", "--epochs", "0"])
    with pytest.raises(UsageError):
        args.func(args)
    args = parser.parse_args(["train", "classify", "--data", str(tmp_path / "nope")])
    with pytest.raises(InputError):
        args.func(args)


def test_augment_is_seeded_and_moves_labels_with_pixels():
    from visionkit.nn.augment import Augment, to_float, warp_labels

    images, _, maps = classify_dataset(8, seed=3, size=64, semantic_stride=1)
    plain, _ = classify_dataset(8, seed=3, size=64)
    assert np.array_equal(images, plain)  # dense labels do not change the pixels
    aug = Augment(stretch=1.3, degrees=20, translate=0.1, affine_p=1.0)
    a, la = aug(to_float(images), torch.Generator().manual_seed(5), labels=torch.from_numpy(maps).long())
    b, lb = aug(to_float(images), torch.Generator().manual_seed(5), labels=torch.from_numpy(maps).long())
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert a.shape == (8, 3, 64, 64) and 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    # the identity warp leaves labels alone; a coarse map warps like the fine one
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).repeat(8, 1, 1)
    assert torch.equal(warp_labels(torch.from_numpy(maps).long(), theta), torch.from_numpy(maps).long())
    shift = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]).repeat(8, 1, 1)  # read 16 px to the right
    moved = warp_labels(torch.from_numpy(maps).long(), shift)
    assert torch.equal(moved[:, :, :48], torch.from_numpy(maps).long()[:, :, 16:])
    assert (moved[:, :, 48:] == 0).all()


def test_fit_early_stops_and_restores_best_weights():
    import torch.nn.functional as F

    from visionkit.nn.trainer import ArrayBatches, TrainConfig, fit

    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(2, 2)
    seen = []

    def step(m, batch, gen, train):
        xb, yb = batch
        logits = m(xb)
        return F.cross_entropy(logits, yb), {"count": len(yb), "correct": int((logits.argmax(1) == yb).sum())}

    def log(line):
        seen.append(line)

    cfg = TrainConfig(epochs=30, lr=0.5, weight_decay=0.0, patience=2, progress=False, seed=0)
    hist = fit(model, ArrayBatches(x, y, batch_size=32), ArrayBatches(x, y, batch_size=64, shuffle=False),
               step, cfg, log=log)
    assert hist.stopped_early and len(hist.epochs) < 30
    assert hist.best["val_accuracy"] >= 0.95
    with torch.no_grad():
        acc = float((model(x).argmax(1) == y).float().mean())
    assert acc == pytest.approx(hist.best["val_accuracy"])
    assert any("early stop" in line for line in seen) and "acc" in seen[0]


@pytest.mark.parametrize("pays", [True, False])
def test_bf16_auto_autocasts_only_where_it_pays(monkeypatch, pays):
    """bf16="auto" follows the probe: on a CPU without native bfloat16 the reference kernels
    are 50x slower than fp32, so the recipes must not autocast there."""
    import torch.nn.functional as F

    from visionkit.nn import trainer

    monkeypatch.setattr(trainer, "bf16_pays", lambda: pays)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    dtypes, seen = [], []

    def step(m, batch, gen, train):
        logits = m(batch[0])
        if train:
            dtypes.append(logits.dtype)
        return F.cross_entropy(logits.float(), batch[1]), {"count": len(batch[1])}

    cfg = trainer.TrainConfig(epochs=1, lr=0.1, bf16="auto", progress=False)
    hist = trainer.fit(torch.nn.Linear(2, 2), trainer.ArrayBatches(x, y, batch_size=32), None, step, cfg,
                       log=seen.append)
    assert hist.bf16 is pays
    assert set(dtypes) == {torch.bfloat16 if pays else torch.float32}
    assert seen[0] == ("precision: bfloat16 autocast" if pays else
                       "precision: float32 (bfloat16 is slower on this CPU)")


def test_bf16_probe_answers_once():
    from visionkit.nn.trainer import bf16_pays

    first = bf16_pays()
    assert isinstance(first, bool) and bf16_pays() is first


def test_bf16_probe_leaves_the_random_state_alone():
    from visionkit.nn import trainer

    trainer.bf16_pays.cache_clear()
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    trainer.bf16_pays()
    assert torch.equal(torch.rand(4), expected)
