"""A head added by a plugin, in-process: the unchanged joint recipe builds it into the shared
model, trains it with the others, exports it against the backbone's hash and measures it."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from visionkit.errors import PluginError  # noqa: E402
from visionkit.hookspecs import hookimpl  # noqa: E402
from visionkit.nn.heads import HeadLoss, SharedHead  # noqa: E402
from visionkit.plugin_manager import plugins_added  # noqa: E402
from visionkit.registry import HeadSpec  # noqa: E402

BUILTIN = ["classify", "detect", "segment", "pose"]


class Counter(nn.Module):
    """``c5`` -> objects in the picture (N,)."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Linear(channels, 1)

    def forward(self, c5):
        return self.fc(c5.mean(dim=(2, 3)))[:, 0]


class CountHead(SharedHead):
    name = task = "count"
    features = ("c5",)
    headline = ("mae",)
    held_out = (7, 2)

    def build(self, channels):
        return Counter(channels["c5"])

    def loss(self, module, features, batch):
        target = torch.tensor([float(len(b)) for b in batch.boxes])
        pred = module(features["c5"]).float()
        return HeadLoss({"count_loss": F.smooth_l1_loss(pred, target)},
                        {"count_err": float((pred - target).abs().detach().sum())})

    def export(self, module, ctx):
        path = ctx.export(module, "count", features=self.features, task="count", output="count",
                          output_names=("count",), config={"unit": "objects"})
        return {"count": path}

    def measure(self, models, held_out, log):
        import onnxruntime as ort

        from visionkit.data.scene_arrays import make_scene_arrays
        from visionkit.nn.recipes.shapeworld import INPUT

        seed, n = held_out
        data = make_scene_arrays([("detect", n, seed)], INPUT, workers=1)
        run = {r: ort.InferenceSession(str(models[r]), providers=["CPUExecutionProvider"]).run
               for r in ("backbone", "count")}
        c5 = run["backbone"](["c5"], {"image": data.images})[0]
        (pred,) = run["count"](None, {"c5": c5})
        return {"mae": float(np.abs(pred - [len(b) for b in data.boxes]).mean()), "test_n": n}


class ExtraPlugin:
    @staticmethod
    @hookimpl
    def visionkit_register_heads(registry):
        registry.add(HeadSpec(name="count", summary="objects per picture", factory=f"{__name__}:CountHead",
                              task="count"))


def _heads_of(model):
    return list(dict.fromkeys(k.split(".")[0] for k in model.state_dict()))


def test_an_extra_head_comes_after_the_builtins_whose_weights_keep_their_keys():
    from visionkit.nn.recipes.shapeworld import SharedModel

    torch.manual_seed(0)
    plain = SharedModel()
    with plugins_added(("extra", ExtraPlugin)):
        torch.manual_seed(0)
        extended = SharedModel()
        assert _heads_of(extended) == ["backbone"] + BUILTIN + ["count"]
        # a checkpoint without the head builds the model it was trained as
        as_trained = SharedModel(heads=SharedModel.heads_in(plain.state_dict()))
        assert _heads_of(as_trained) == ["backbone"] + BUILTIN
    assert _heads_of(plain) == ["backbone"] + BUILTIN
    # the built-ins are made first, so they start from the same weights
    extended_state = extended.state_dict()
    for key, value in plain.state_dict().items():
        assert torch.equal(value, extended_state[key]), key
    with pytest.raises(PluginError, match="no plugin provides head 'count'"):
        SharedModel(heads=["count"])


def test_the_unchanged_recipe_trains_exports_and_measures_an_extra_head(tmp_path):
    from visionkit.nn.export import read_card
    from visionkit.nn.recipes.bundle import measure, record
    from visionkit.nn.recipes.export import export_shared
    from visionkit.nn.recipes.shapeworld import Recipe, train

    recipe = Recipe(n_detect=2, n_pose=1, n_classify=1, n_val=1, epochs=1, batch_size=4, workers=1,
                    threads=2, pretrain=False)
    with plugins_added(("extra", ExtraPlugin)):
        model, info = train(recipe, log=lambda line: None, progress=False)
        row = info["history"]["epochs"][0]
        assert np.isfinite(row["train_count_loss"]) and row["train_count_err"] >= 0
        assert "train_seg" in row and "val_count_loss" in row
        paths = export_shared(model, tmp_path)
        count = read_card(paths["count"])
        assert count.backbone.hash == read_card(paths["backbone"]).hash
        assert count.task == "count" and dict(count.config) == {"unit": "objects"} and not count.options
        heads = [model.heads["count"]]
        metrics = measure(tmp_path, log=lambda line: None, heads=heads)
        assert metrics["count"]["test_n"] == 2 and metrics["count"]["mae"] >= 0
        record(tmp_path, metrics, {"epochs_run": 1}, heads)
    assert read_card(paths["count"]).metrics == {"epochs_run": 1, **metrics["count"]}
    assert {"classify", "detect", "detect_boxes", "segment", "pose"} <= set(paths)


def test_the_training_summary_names_each_head_with_its_headline_numbers():
    from visionkit.cli.train_report import headlines as _headlines

    metrics = {"classify": {"top1": 0.99, "test_n": 2}, "detect": {"AP": 0.5, "AP50": 0.75},
               "count": {"mae": 0.25}}
    with plugins_added(("extra", ExtraPlugin)):
        assert _headlines(metrics) == "classify top1 0.9900, detect AP 0.5000, count mae 0.2500"


class NotAHead:
    name = "broken"


class BrokenPlugin:
    @staticmethod
    @hookimpl
    def visionkit_register_heads(registry):
        registry.add(HeadSpec(name="broken", summary="not a SharedHead", factory=f"{__name__}:NotAHead",
                              task="broken"))


def test_a_factory_that_is_no_shared_head_is_refused_in_one_line():
    from visionkit.nn.heads import registered_heads

    with plugins_added(("broken", BrokenPlugin)):
        with pytest.raises(PluginError, match="head 'broken' of plugin 'broken': .*NotAHead is not a Shared"):
            registered_heads()
