"""Resumable training: a run stopped part-way and continued from its saved state ends with
exactly the weights of a run that was never stopped; a state never mixes two runs."""

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from visionkit.nn.train_state import ResumeError, read_state  # noqa: E402
from visionkit.nn.trainer import ArrayBatches, TrainConfig, fit  # noqa: E402


class Stop(Exception):
    """Stands in for a kill (the session ending, ^C) in the middle of a run."""


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return ArrayBatches(x, y, batch_size=16), ArrayBatches(x, y, batch_size=48, shuffle=False)


def _model():
    # dropout draws from the global torch RNG, the step's noise from the trainer's generator:
    # both must be restored for the resumed run to come out the same
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                               torch.nn.Linear(16, 2))


def _step(stop_at=None):
    calls = {"n": 0}

    def step(m, batch, g, train):
        if train:
            calls["n"] += 1
            if calls["n"] == stop_at:
                raise Stop
        x, y = batch
        if train:
            x = x + 0.1 * torch.randn(x.shape, generator=g)
        logits = m(x)
        return F.cross_entropy(logits, y), {"count": len(y), "correct": int((logits.argmax(1) == y).sum())}

    return step


CFG = TrainConfig(epochs=3, lr=0.05, optimizer="adamw", weight_decay=0.01, warmup_epochs=0.5,
                  monitor="loss", mode="min", progress=False, seed=3)


def _uninterrupted():
    torch.manual_seed(0)
    model = _model()
    hist = fit(model, *_data(), _step(), CFG, log=lambda line: None)
    return model, hist


# 6 batches per epoch: stop in the middle of epoch 2, and right at the start of epoch 3
@pytest.mark.parametrize("stop_at", [9, 13])
def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, stop_at):
    reference, ref_hist = _uninterrupted()
    state = tmp_path / "run.state.pt"
    torch.manual_seed(0)
    with pytest.raises(Stop):
        fit(_model(), *_data(), _step(stop_at), CFG, log=lambda line: None, state_path=state,
            save_every_s=0.0)
    saved = read_state(state)
    assert not saved["finished"]
    assert saved["step"] == stop_at - 1  # every finished batch was kept, none of the stopped one

    torch.manual_seed(123)  # another initialisation: the state's weights must replace it
    lines = []
    model = _model()
    hist = fit(model, *_data(), _step(), CFG, log=lines.append, state_path=state, resume=True)
    assert any(line.startswith(f"resuming {state}") for line in lines)
    for a, b in zip(reference.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["epoch"] for r in hist.epochs] == [1, 2, 3]
    assert hist.best_epoch == ref_hist.best_epoch
    assert hist.epochs[-1]["val_loss"] == pytest.approx(ref_hist.epochs[-1]["val_loss"], abs=0.0)
    assert read_state(state)["finished"]


def test_resume_without_a_state_starts_afresh(tmp_path):
    reference, _ = _uninterrupted()
    torch.manual_seed(0)
    model = _model()
    fit(model, *_data(), _step(), CFG, log=lambda line: None, state_path=tmp_path / "none.pt", resume=True)
    for a, b in zip(reference.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_state_never_continues_another_run(tmp_path):
    state = tmp_path / "run.state.pt"
    with pytest.raises(Stop):
        fit(_model(), *_data(), _step(4), CFG, log=lambda line: None, state_path=state,
            fingerprint={"recipe": 1}, save_every_s=0.0)
    other_cfg = TrainConfig(**{**CFG.__dict__, "lr": 0.5})
    with pytest.raises(ResumeError, match="another run"):
        fit(_model(), *_data(), _step(), other_cfg, state_path=state, resume=True, fingerprint={"recipe": 1})
    with pytest.raises(ResumeError, match="another run"):
        fit(_model(), *_data(), _step(), CFG, state_path=state, resume=True, fingerprint={"recipe": 2})


def test_a_file_that_is_no_state_is_refused_in_one_line(tmp_path):
    from visionkit.errors import ModelError

    junk = tmp_path / "run.state.pt"
    junk.write_bytes(b"<html>not a checkpoint</html>")
    with pytest.raises(ModelError, match="not a visionkit training state") as err:
        read_state(junk)
    assert "\n" not in str(err.value)
    torch.save({"state_dict": {}}, junk)
    with pytest.raises(ModelError, match="not a visionkit training state"):
        read_state(junk)


def test_the_recipe_will_not_start_over_an_unfinished_run(tmp_path):
    """`train shapeworld` without --resume refuses, naming where the run stopped; with another
    recipe's options it refuses too, naming what differs."""
    from visionkit.nn.recipes.shapeworld import Recipe, _existing_state

    state = tmp_path / "shapeworld.state.pt"
    recipe = Recipe(epochs=3)
    decisive = {k: v for k, v in recipe.__dict__.items() if k not in ("threads", "workers")}
    with pytest.raises(Stop):
        fit(_model(), *_data(), _step(9), CFG, log=lambda line: None, state_path=state,
            fingerprint={"recipe": decisive}, extra={"stage1": {"top1": 0.9, "val": float("nan")}},
            save_every_s=0.0)
    with pytest.raises(ResumeError, match=r"stopped at batch 2/6 of epoch 2/3: continue it with --resume"):
        _existing_state(recipe, state, resume=False)
    with pytest.raises(ResumeError, match="differs in epochs, lr"):
        _existing_state(Recipe(epochs=4, lr=0.1), state, resume=True)
    assert _existing_state(Recipe(epochs=3, threads=1), state, resume=True)["extra"]["stage1"]["top1"] == 0.9
    assert _existing_state(recipe, tmp_path / "missing.pt", resume=False) is None


def _tiny_recipe(**changes):
    from visionkit.nn.recipes.shapeworld import Recipe

    return Recipe(n_detect=2, n_pose=1, n_classify=1, n_val=1, epochs=2, batch_size=4, workers=1,
                  threads=2, pretrain=False, **changes)


def test_the_shared_recipe_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """The real recipe (every head's losses, numpy sampling of anchors and regions), stopped in
    its second epoch and resumed, ends where the uninterrupted run ends."""
    import visionkit.nn.recipes.shapeworld as sw

    reference, _ = sw.train(_tiny_recipe(), log=lambda line: None, progress=False)
    make_step = sw.make_step

    def stopping(data_of):
        step, calls = make_step(data_of), {"n": 0}

        def wrapped(model, idx, g, train):
            calls["n"] += train
            if calls["n"] == 2:  # the first batch of epoch 2 (one batch per epoch)
                raise Stop
            return step(model, idx, g, train)

        return wrapped

    state = tmp_path / "sw.state.pt"
    monkeypatch.setattr(sw, "make_step", stopping)
    with pytest.raises(Stop):
        sw.train(_tiny_recipe(), log=lambda line: None, progress=False, state_path=state)
    monkeypatch.setattr(sw, "make_step", make_step)
    _a_running_state_exports(state, tmp_path / "progress", monkeypatch)
    with pytest.raises(ResumeError, match="continue it with --resume"):
        sw.train(_tiny_recipe(), log=lambda line: None, progress=False, state_path=state)
    model, info = sw.train(_tiny_recipe(), log=lambda line: None, progress=False, state_path=state,
                           resume=True)
    assert len(info["history"]["epochs"]) == 2
    for (name, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_cli_names_the_stopped_run_and_the_way_on(tmp_path, capsys):
    from dataclasses import asdict

    from visionkit.cli import main
    from visionkit.nn.recipes.bundle import state_path_for
    from visionkit.nn.recipes.shapeworld import Recipe

    ckpt = tmp_path / "sw.pt"
    recipe = Recipe(epochs=3, n_detect=16)
    decisive = {k: v for k, v in asdict(recipe).items() if k not in ("threads", "workers")}
    with pytest.raises(Stop):
        fit(_model(), *_data(), _step(9), CFG, log=lambda line: None, state_path=state_path_for(ckpt),
            fingerprint={"recipe": decisive}, save_every_s=0.0)
    args = ["train", "shapeworld", "--out", str(tmp_path / "out"), "--checkpoint", str(ckpt),
            "--epochs", "3", "--n-detect", "16", "-q"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert "sw.state.pt holds a run stopped at batch 2/6 of epoch 2/3" in err and "\n" not in err
    assert main(args[:-3] + ["--epochs", "4", "--resume", "-q"]) == 1
    assert "differs in epochs" in capsys.readouterr().err


def _a_running_state_exports(state, out, monkeypatch):
    """`visionkit export RUN.state.pt` exports a run's weights mid-run, saying so in the cards."""
    import visionkit.nn.recipes.bundle as bundle
    from visionkit.cli import main
    from visionkit.nn.export import read_card

    monkeypatch.setattr(bundle, "measure", lambda *args, **kwargs: {})  # scoring is tested elsewhere
    assert main(["export", str(state), "--out", str(out), "-q"]) == 0
    made = read_card(out / "shapeworld_segment.onnx").provenance
    assert made["training_state"].startswith("in progress at epoch 2 of 2")
    assert made["command"] == f"visionkit export {state}"


def test_a_state_of_another_recipe_does_not_export(tmp_path, capsys):
    from visionkit.cli import main

    state = tmp_path / "toy.state.pt"
    with pytest.raises(Stop):
        fit(_model(), *_data(), _step(4), CFG, log=lambda line: None, state_path=state, save_every_s=0.0)
    assert main(["export", str(state), "--out", str(tmp_path / "out")]) == 1
    assert "not of 'visionkit train shapeworld'" in capsys.readouterr().err


def test_train_classify_resumes_and_refuses_like_the_shared_recipe(tmp_path, monkeypatch):
    """Stage 1 (and `visionkit train classify`) keeps its state the same way: stopped, it
    refuses a fresh start and another recipe, and --resume finishes to the uninterrupted weights."""
    import visionkit.plugins.classify.train as classify_train

    options = dict(seed=2, n_train=64, n_val=28, n_test=28, epochs=2, batch_size=32, size=32, progress=False)
    reference = classify_train.train_classify(tmp_path / "ref", **options)
    real_fit = classify_train.fit

    def stopping_fit(model, train_src, val_src, step, cfg, **kwargs):
        calls = {"n": 0}

        def wrapped(m, batch, g, train):
            calls["n"] += train
            if calls["n"] == 3:  # the first batch of epoch 2 (two per epoch)
                raise Stop
            return step(m, batch, g, train)

        return real_fit(model, train_src, val_src, wrapped, cfg, **kwargs)

    out = tmp_path / "run"
    monkeypatch.setattr(classify_train, "fit", stopping_fit)
    with pytest.raises(Stop):
        classify_train.train_classify(out, **options)
    monkeypatch.setattr(classify_train, "fit", real_fit)
    state = out / "shapeworld_classify.state.pt"
    with pytest.raises(ResumeError, match="stopped at epoch 2/2: continue it with --resume"):
        classify_train.train_classify(out, **options)
    with pytest.raises(ResumeError, match="differs in lr"):
        classify_train.train_classify(out, **{**options, "lr": 0.5}, resume=True)
    resumed = classify_train.train_classify(out, **options, resume=True)
    assert not state.exists()
    a = torch.load(reference["checkpoint"], weights_only=True)["state_dict"]
    b = torch.load(resumed["checkpoint"], weights_only=True)["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
