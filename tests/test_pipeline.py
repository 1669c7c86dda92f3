"""The pipeline on tiny hand-built models: sharing, timings, errors that lose nothing."""

import types

import numpy as np
import pytest

import visionkit as vk
from visionkit import plugin_manager
from visionkit.errors import ModelError, UsageError, VisionkitError
from visionkit.hookspecs import hookimpl
from visionkit.imageio import write_image
from visionkit.registry import TaskSpec
from visionkit.sources import Frame, Source

from .conftest import make_standalone_classifier, make_tiny_backbone, make_tiny_head


def test_head_on_shared_backbone_gives_typed_result(tiny_models, solid_image):
    pipe = vk.Pipeline(["classify"], model=tiny_models["head"], device="cpu")
    result = pipe(solid_image((0, 200, 0)))
    cls = result["classify"]
    assert cls.top[0] == "green" and cls.scores[0] > 0.9
    assert list(cls.labels) == ["green", "red", "blue"] or cls.labels[0] == "green"
    assert result.provider == "CPUExecutionProvider"
    assert {"preprocess", "backbone", "classify", "classify.post", "total"} <= set(result.timings_ms)
    d = result.to_dict()
    assert set(d) >= {"source", "frame", "width", "height", "provider", "timings_ms", "results"}
    assert d["results"]["classify"]["labels"][0] == "green"
    assert pipe.backbone.path == tiny_models["backbone"]


def test_topk_option(tiny_models, solid_image):
    pipe = vk.Pipeline("classify", model=tiny_models["head"], options={"classify": {"topk": 1}})
    assert len(pipe(solid_image())["classify"].labels) == 1
    pipe.set_options("classify", topk=2)
    assert len(pipe(solid_image())["classify"].labels) == 2
    with pytest.raises(UsageError, match="no option 'nms'"):
        pipe.set_options("classify", nms=0.5)


def colour_plugin(tmp_path):
    """A second task ('colour') using the same backbone, to show one backbone pass serves both."""
    head = make_tiny_head(tmp_path / "models" / "colour_head.onnx")
    import onnx

    from visionkit.cards import ModelCard

    model = onnx.load(str(head))
    card = ModelCard.from_json(model.metadata_props[0].value).with_(task="colour")
    model.metadata_props[0].value = card.to_json()
    onnx.save(model, str(head))

    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="colour", summary="", factory="tests.test_pipeline:ColourTask",
                              default_model=str(head)))

    return types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)


from visionkit.plugins.classify.runtime import ClassifyTask  # noqa: E402


class ColourTask(ClassifyTask):
    name = "colour"


class BrokenTask(ClassifyTask):
    name = "colour"

    def decode(self, outputs, inputs):
        raise ZeroDivisionError("plugin bug")


def install(tmp_path, plugin):
    from importlib import metadata

    eps = metadata.entry_points(group=plugin_manager.ENTRY_POINT_GROUP)
    plugin_manager.set_plugins(plugin_manager.load_plugins(eps, extra=[("colour", plugin)]))


def test_backbone_runs_once_for_several_heads(tmp_path, tiny_models, solid_image):
    install(tmp_path, colour_plugin(tmp_path))
    pipe = vk.Pipeline(["classify", "colour"], models={"classify": tiny_models["head"]})
    calls = []
    real_run = pipe.backbone.run
    pipe.backbone.run = lambda feeds: calls.append(1) or real_run(feeds)
    result = pipe(solid_image((0, 0, 255)))
    assert len(calls) == 1
    assert result["classify"].top[0] == result["colour"].top[0] == "blue"


def test_a_plugin_that_raises_loses_only_its_own_result(tmp_path, tiny_models, solid_image, monkeypatch):
    install(tmp_path, colour_plugin(tmp_path))
    monkeypatch.setattr(ColourTask, "decode", BrokenTask.decode)
    pipe = vk.Pipeline(["classify", "colour"], models={"classify": tiny_models["head"]})
    result = next(pipe.stream(solid_image()))
    assert result["classify"].top[0] == "red"
    assert "colour" not in result.results
    assert "colour: plugin raised ZeroDivisionError: plugin bug" in result.error
    with pytest.raises(VisionkitError, match="plugin bug"):
        pipe(solid_image())


def test_head_for_another_backbone_is_refused(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    make_tiny_backbone(folder / "tiny_backbone.onnx", hash_="1111111111111111")
    head = make_tiny_head(folder / "tiny_head.onnx", backbone_hash="2222222222222222")
    with pytest.raises(ModelError, match=r"exported for backbone tiny_backbone@2222222222222222.*re-export") as info:
        vk.Pipeline(["classify"], model=head)
    assert "\n" not in str(info.value)


def test_missing_backbone_says_where_it_looked(tmp_path):
    head = make_tiny_head(tmp_path / "lonely_head.onnx")
    with pytest.raises(ModelError, match="needs backbone 'tiny_backbone'.*--backbone"):
        vk.Pipeline(["classify"], model=head)


def test_explicit_backbone_path(tmp_path, tiny_models, solid_image):
    elsewhere = tmp_path / "elsewhere.onnx"
    elsewhere.write_bytes(tiny_models["backbone"].read_bytes())
    tiny_models["backbone"].unlink()
    pipe = vk.Pipeline(["classify"], model=tiny_models["head"], backbone=elsewhere)
    assert pipe(solid_image())["classify"].top[0] == "red"


@pytest.mark.parametrize("dtype,layout", [("float32", "NCHW"), ("float16", "NHWC")])
def test_standalone_model_gets_the_image_as_its_card_says(tmp_path, solid_image, dtype, layout):
    path = make_standalone_classifier(tmp_path / "m.onnx", dtype=dtype, layout=layout)
    pipe = vk.Pipeline(["classify"], model=path)
    assert pipe.backbone is None
    result = pipe(solid_image((10, 10, 240), w=50, h=30))
    assert result["classify"].top[0] == "blue"
    assert "backbone" not in result.timings_ms
    assert (result.width, result.height) == (50, 30)


def test_task_card_mismatch(tmp_path, tiny_models):
    with pytest.raises(ModelError, match="is a 'backbone' model, not 'classify'"):
        vk.Pipeline(["classify"], model=tiny_models["backbone"])


def test_usage_errors():
    with pytest.raises(UsageError):
        vk.Pipeline([])
    with pytest.raises(UsageError, match="twice"):
        vk.Pipeline(["classify", "classify"])
    with pytest.raises(UsageError, match="several tasks"):
        vk.Pipeline(["classify", "other"], model="x.onnx")


def test_stream_goes_on_past_bad_inputs(tmp_path, tiny_models, solid_image):
    good = tmp_path / "good.png"
    write_image(good, solid_image((0, 255, 0)))
    tiny = tmp_path / "tiny.png"
    write_image(tiny, solid_image(w=1, h=1))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    pipe = vk.Pipeline(["classify"], model=tiny_models["head"])
    results = list(pipe.stream([str(tmp_path / "missing.png"), str(empty), str(tiny), str(good)]))
    assert [r.ok for r in results] == [False, False, False, True]
    assert "missing.png" in results[0].error
    assert "empty" in results[1].error
    assert "1x1 px" in results[2].error
    assert results[3]["classify"].top[0] == "green" and "decode" in results[3].timings_ms
    assert all("\n" not in r.error for r in results[:3])


class Synthetic(Source):
    """A long stream made on the fly, so nothing but the pipeline could hold on to frames."""

    name, live = "synthetic", False

    def __init__(self, n):
        self.n = n

    @property
    def expected_length(self):
        return self.n

    def __iter__(self):
        for i in range(self.n):
            yield Frame(image=np.full((96, 128, 3), i % 255, np.uint8), source="synthetic", index=i)


def test_memory_stays_flat_on_a_long_stream(tiny_models):
    import tracemalloc

    pipe = vk.Pipeline(["classify"], model=tiny_models["head"])
    tracemalloc.start()
    for _ in pipe.stream(Synthetic(30)):
        pass
    after_warmup = tracemalloc.get_traced_memory()[0]
    for _ in pipe.stream(Synthetic(600)):
        pass
    after_long = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after_long - after_warmup < 1_000_000  # 600 frames of 37 kB would be 22 MB


def test_package_exports_are_the_documented_objects_whatever_was_imported_first():
    import importlib

    import visionkit

    for name, module in visionkit._EXPORTS.items():
        importlib.import_module(module)  # a submodule of the same name would shadow the export
        assert getattr(visionkit, name) is getattr(importlib.import_module(module), name), name
    assert callable(visionkit.render)


def test_option_limits_are_checked_for_every_task(tiny_models):
    from visionkit.errors import UsageError
    from visionkit.runtime import load_model
    from visionkit.tasks import Task

    class Limited(Task):
        name = "limited"
        default_options = {"score": 0.5, "n": 3, "flag": False}
        option_limits = {"score": (0.0, 1.0), "n": (1, None)}

    task = Limited(load_model(tiny_models["head"]), score=1, n=7, flag=True)
    # the card's topk is no option of this task: it is fixed configuration, not user-settable
    assert task.options == {"score": 1.0, "n": 7, "flag": True} and task.config == {"topk": 3}
    assert isinstance(task.options["score"], float)
    for bad, message in (({"score": 1.5}, "score must be between 0.0 and 1.0"), ({"score": "high"}, "between"),
                         ({"n": 0}, "n must be a positive whole number"), ({"n": 2.5}, "whole number"),
                         ({"n": True}, "whole number")):
        with pytest.raises(UsageError, match=message):
            task.set_options(**bad)
    assert task.options["score"] == 1 and task.options["n"] == 7  # a refused change changes nothing
