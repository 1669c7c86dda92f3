"""A .pt file is never unpickled as code: a checkpoint or training state carrying a payload is
refused in one line by every command that reads one, and the payload never runs. Broken files
(truncated, text, a folder, an older visionkit's) are refused in one line too."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from visionkit.cli import main  # noqa: E402
from visionkit.errors import InputError, ModelError  # noqa: E402
from visionkit.nn.checkpoints import load_checkpoint, plain, save_checkpoint  # noqa: E402


class Payload:
    """Unpickled, writes ``marker``: what a hostile checkpoint would do, made harmless."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _evil(path: Path, marker: Path, how: str = "torch.save") -> Path:
    """A file that runs its payload when unpickled the old way, in the guise of a checkpoint."""
    obj = {"kind": "shapeworld", "arch": "resnet_mini", "state_dict": {"x": Payload(marker)}}
    if how == "torch.save":
        torch.save(obj, path)
    else:  # a bare pickle, which torch.load also reads (its legacy format)
        path.write_bytes(pickle.dumps(obj, protocol=int(how[-1])))
    return path


def _one_line_refusal(capsys, path: Path) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("visionkit: error: ") and "\n" not in err, err
    assert str(path) in err and "Traceback" not in err
    assert "weights_only" not in err  # never advice to load it unsafely
    return err


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "payload-ran"
    yield path
    assert not path.exists(), "the checkpoint's payload ran"


def test_the_payload_is_live(tmp_path):
    """The hostile files below do run code when unpickled the unsafe way (so their refusal
    below means something)."""
    ran = tmp_path / "ran"
    evil = _evil(tmp_path / "evil.pt", ran, "pickle protocol 2")
    pickle.loads(evil.read_bytes())  # what an unsafe torch.load does with it
    assert ran.read_text() == "ran"


@pytest.mark.parametrize("how", ["torch.save", "pickle protocol 2", "pickle protocol 4"])
def test_load_checkpoint_refuses_code(tmp_path, marker, how):
    evil = _evil(tmp_path / "evil.pt", marker, how)
    with pytest.raises(ModelError, match="not a visionkit checkpoint") as err:
        load_checkpoint(evil)
    text = str(err.value)
    assert text.startswith(f"{evil}: ") and "\n" not in text and "weights_only" not in text


def test_export_refuses_code(tmp_path, marker, capsys):
    evil = _evil(tmp_path / "evil.pt", marker)
    out = tmp_path / "out"
    assert main(["export", str(evil), "--out", str(out)]) == 1
    err = _one_line_refusal(capsys, evil)
    assert "not a visionkit checkpoint" in err and "exec" in err  # names what it refused
    assert not out.exists()


def test_train_shapeworld_refuses_a_hostile_state(tmp_path, marker, capsys):
    """The state beside --checkpoint is read with --resume, and without it (to refuse starting
    over an unfinished run): neither runs its code."""
    ckpt = tmp_path / "sw.pt"
    state = _evil(tmp_path / "sw.state.pt", marker)
    args = ["train", "shapeworld", "--out", str(tmp_path / "out"), "--checkpoint", str(ckpt), "-q"]
    for extra in (["--resume"], []):
        assert main(args + extra) == 1
        assert "not a visionkit training state" in _one_line_refusal(capsys, state)
    assert not ckpt.exists()


def test_train_classify_refuses_a_hostile_state(tmp_path, marker, capsys):
    out = tmp_path / "out"
    out.mkdir()
    state = _evil(out / "shapeworld_classify.state.pt", marker)
    assert main(["train", "classify", "--out", str(out), "--resume", "-q"]) == 1
    assert "not a visionkit training state" in _one_line_refusal(capsys, state)
    assert not (out / "shapeworld_classify.pt").exists()


def test_train_shapeworld_refuses_a_hostile_init(tmp_path, marker, capsys):
    evil = _evil(tmp_path / "evil.pt", marker)
    args = ["train", "shapeworld", "--out", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "sw.pt"),
            "--init", str(evil), "-q"]
    assert main(args) == 1
    assert "not a visionkit checkpoint" in _one_line_refusal(capsys, evil)


def test_a_hostile_stage_one_is_trained_again_not_run(tmp_path, marker):
    from visionkit.nn.recipes.shapeworld import PRETRAIN_FILE, Recipe, reusable_pretrain

    _evil(tmp_path / PRETRAIN_FILE, marker)
    assert reusable_pretrain(Recipe(), tmp_path) is None


def _broken(tmp_path: Path) -> dict[str, Path]:
    real = tmp_path / "real.pt"
    save_checkpoint({"state_dict": {"w": torch.randn(64, 64)}, "arch": "resnet_mini"}, real)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    text = tmp_path / "notes.pt"
    text.write_text("these are not weights\n")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    listed = tmp_path / "list.pt"
    torch.save([1, 2, 3], listed)
    return {"truncated": truncated, "text": text, "empty": empty, "folder": folder, "list": listed}


@pytest.mark.parametrize("kind", ["truncated", "text", "empty", "folder", "list"])
def test_broken_files_are_refused_in_one_line(tmp_path, capsys, kind):
    path = _broken(tmp_path)[kind]
    with pytest.raises(InputError if kind == "folder" else ModelError) as err:
        load_checkpoint(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    assert "not a visionkit checkpoint" in str(err.value)
    assert main(["export", str(path), "--out", str(tmp_path / "out")]) == 1
    _one_line_refusal(capsys, path)


def test_a_state_of_an_older_visionkit_is_refused_naming_it(tmp_path):
    """Older versions pickled numpy's random state into training states: those files no longer
    load (plain data only), and the message says why."""
    from visionkit.nn.train_state import read_state

    old = tmp_path / "old.state.pt"
    torch.save({"kind": "visionkit.train_state", "version": 1, "rng": {"numpy": np.random.get_state()}}, old)
    with pytest.raises(ModelError, match="written by an older visionkit") as err:
        read_state(old)
    assert "\n" not in str(err.value)


@dataclasses.dataclass
class _Options:
    size: int
    where: Path


def test_what_a_checkpoint_records_is_saved_as_plain_data(tmp_path):
    """numpy numbers and arrays, paths, torch's version string and dataclasses are saved as
    what the weights-only reader builds; anything else is refused when saving, not loading."""
    data = {
        "state_dict": torch.nn.BatchNorm1d(2).state_dict(),
        "metrics": {"top1": np.float32(0.5), "n": np.int64(7), "ok": np.bool_(True)},
        "torch": torch.__version__, "path": tmp_path / "x", "options": _Options(3, Path("a")),
        "mean": (0.5, 0.5, 0.5), "table": np.arange(6, dtype=np.uint8).reshape(2, 3),
    }
    path = save_checkpoint(data, tmp_path / "c.pt")
    back = torch.load(path, weights_only=True)  # what load_checkpoint does
    assert back["metrics"] == {"top1": 0.5, "n": 7, "ok": True}
    assert type(back["metrics"]["n"]) is int and type(back["torch"]) is str
    assert back["path"] == str(tmp_path / "x") and back["options"] == {"size": 3, "where": "a"}
    assert back["mean"] == (0.5, 0.5, 0.5)
    assert torch.equal(back["table"], torch.arange(6, dtype=torch.uint8).reshape(2, 3))
    assert back["state_dict"]._metadata == data["state_dict"]._metadata  # module versions kept
    assert plain(data)["state_dict"]["weight"] is data["state_dict"]["weight"]  # tensors as they are
    with pytest.raises(TypeError, match=r"Payload \(at extra.x\)"):
        save_checkpoint({"extra": {"x": Payload(tmp_path / "never")}}, tmp_path / "d.pt")
    assert not (tmp_path / "never").exists() and not (tmp_path / "d.pt").exists()


def test_a_training_state_holds_only_plain_data(tmp_path):
    """A real state (numpy's random state included) loads with the weights-only reader and
    restores numpy's generator exactly."""
    import torch.nn.functional as F

    from visionkit.nn.train_state import random_states, read_state, restore_random_states
    from visionkit.nn.trainer import ArrayBatches, TrainConfig, fit

    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()

    def step(m, batch, g, train):
        logits = m(batch[0])
        return F.cross_entropy(logits, batch[1]), {"count": len(batch[1])}

    state = tmp_path / "run.state.pt"
    fit(torch.nn.Linear(3, 2), ArrayBatches(x, y, batch_size=8), None, step,
        TrainConfig(epochs=1, optimizer="adamw", progress=False), state_path=state)
    saved = read_state(state)
    assert isinstance(saved["rng"]["numpy"]["key"], torch.Tensor)
    np.random.seed(5)
    np.random.standard_normal()  # leaves a cached Gaussian in the state
    kept = random_states()
    expected = np.random.random(4), np.random.standard_normal()
    restore_random_states(torch.load(save_checkpoint(kept, tmp_path / "rng.pt"), weights_only=True))
    assert np.array_equal(np.random.random(4), expected[0]) and np.random.standard_normal() == expected[1]
