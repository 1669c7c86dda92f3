"""Evaluators as plugins: a third-party task gets `visionkit eval` and `vk.evaluate` without core
naming it; errors are one line; the detect plugin's COCO writer makes a file `eval` can score."""

import json
import re
import types
from pathlib import Path

import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main
from visionkit.errors import InputError, UsageError
from visionkit.evaluators import Evaluator, Report
from visionkit.hookspecs import hookimpl
from visionkit.imageio import write_image
from visionkit.plugin_manager import get_plugins, plugins_added
from visionkit.plugins.classify.runtime import ClassifyTask
from visionkit.registry import EvaluatorSpec, TaskSpec, load_object
from visionkit.results import Detections, FrameResult

from .conftest import make_tiny_backbone, make_tiny_head


class ColourTask(ClassifyTask):
    name = "colour"


class ColourEvaluator(Evaluator):
    """Share of pictures whose top label is the colour their file name starts with."""

    data_help = "a folder of <colour>_<n>.png pictures"
    settings = {"expect": None}

    def check(self, data, settings):
        if not Path(data).is_dir():
            raise InputError(f"{data}: no such folder")

    def prepare(self, pipeline, settings):
        pipeline.set_options(self.task, topk=3)

    def evaluate(self, data, pipeline, settings, progress=True):
        paths = sorted(Path(data).glob("*.png"))
        right, kept = 0, 0
        for path, result in zip(paths, pipeline.stream([str(p) for p in paths])):
            labels = result[self.task].labels
            right += labels[0] == (settings["expect"] or path.stem.split("_")[0])
            kept = max(kept, len(labels))
        return Report({"task": self.name, "metric": "share of top labels right", "images": len(paths),
                       "accuracy": right / len(paths), "labels_kept": kept}, context=self.describe(pipeline))


@pytest.fixture
def colour_plugin(tmp_path):
    """Task and evaluator 'colour' from a plugin registered in-process, and a folder to score."""
    import onnx

    from visionkit.cards import ModelCard

    make_tiny_backbone(tmp_path / "tiny_backbone.onnx")
    head = make_tiny_head(tmp_path / "colour_head.onnx")
    model = onnx.load(str(head))
    card = ModelCard.from_json(model.metadata_props[0].value).with_(task="colour")
    model.metadata_props[0].value = card.to_json()
    onnx.save(model, str(head))

    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="colour", summary="", factory=f"{__name__}:ColourTask",
                              default_model=str(head)))

    @hookimpl
    def visionkit_register_evaluators(registry):
        registry.add(EvaluatorSpec(name="colour", summary="top label against the file name",
                                   factory=f"{__name__}:ColourEvaluator", task="colour"))

    data = tmp_path / "pictures"
    data.mkdir()
    for name, rgb in (("red_1", (230, 0, 0)), ("red_2", (200, 20, 0)), ("blue_1", (0, 0, 240))):
        write_image(data / f"{name}.png", np.full((64, 64, 3), rgb, np.uint8))
    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks,
                                   visionkit_register_evaluators=visionkit_register_evaluators)
    with plugins_added(("mine", plugin)):
        yield data


def test_a_plugins_evaluator_runs_through_the_cli(colour_plugin, capsys):
    assert main(["eval", "colour", "--data", str(colour_plugin), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "colour" and report["images"] == 3 and report["accuracy"] == 1.0
    assert report["model"] == "colour_head.onnx" and report["labels_kept"] == 3 and report["failed"] == 0
    # evaluator settings and task options, the latter after the evaluator's own
    assert main(["eval", "colour", "--data", str(colour_plugin), "--set", "expect=blue",
                 "-o", "colour.topk=1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"accuracy\s+0\.3333\n", out) and re.search(r"labels_kept\s+1\n", out)
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "colour: top label against the file name" in " ".join(capsys.readouterr().out.split())


def test_a_plugins_evaluator_runs_through_the_python_api(colour_plugin):
    report = vk.evaluate("colour", colour_plugin, settings={"expect": "blue"}, options={"colour": {"topk": 2}})
    assert report.metrics["accuracy"] == pytest.approx(1 / 3) and report.metrics["labels_kept"] == 2
    assert report.to_dict()["model"] == "colour_head.onnx"


def test_unknown_task_and_setting_are_one_line_errors(colour_plugin, capsys):
    assert main(["eval", "nosuch", "--data", "x"]) == 2
    err = capsys.readouterr().err
    assert "no evaluator for task 'nosuch'" in err and "colour" in err and err.count("\n") == 1
    assert main(["eval", "colour", "--data", str(colour_plugin), "--set", "bogus=1"]) == 2
    err = capsys.readouterr().err
    assert "evaluator 'colour' has no setting 'bogus' (settings: expect)" in err and err.count("\n") == 1
    assert main(["eval", "colour", "--data", str(colour_plugin), "--set", "expect"]) == 2
    assert "--set takes KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(UsageError, match="no evaluator for task 'nosuch'"):
        vk.evaluate("nosuch", colour_plugin)
    with pytest.raises(UsageError, match="cannot score a results file"):
        main(["--debug", "eval", "colour", "--gt", "a.json", "--dets", "b.json"])


# ------------------------------------------------------------------ the detect plugin's COCO writer


def test_the_coco_writer_is_registered_for_detect():
    spec = get_plugins().writers.get("coco")
    assert spec.tasks == ("detect",) and not spec.default
    assert load_object(spec.factory).__name__ == "CocoWriter"


def test_coco_writer_output_scores_as_the_model_does(tmp_path, capsys):
    from visionkit.data.coco import load_coco, write_coco
    from visionkit.coco_evaluator import EVAL_SCORE

    writer_cls = load_object(get_plugins().writers.get("coco").factory)
    data = Path(write_coco(tmp_path / "set", "detect", n=3, seed=515, size=96)["out_dir"])
    ds = load_coco(data)
    pipe = vk.Pipeline(["detect"], options={"detect": {"score": EVAL_SCORE}})
    writer = writer_cls(tmp_path / "out")
    # in reverse, so the file's image ids differ from the ground truth's; its file names are
    # those below the images' folder, which the scorer meets with the set's images/<name>
    for result in pipe.stream([str(ds.image_path(im)) for im in ds.images[::-1]]):
        writer.write(result)
    writer.close()
    (path,) = writer.written
    doc = json.loads(path.read_text())
    assert [im["file_name"] for im in doc["images"]] == [Path(im["file_name"]).name for im in ds.images[::-1]]
    assert {"bbox", "score", "category_id", "image_id"} <= set(doc["annotations"][0])

    assert main(["eval", "detect", "--gt", str(data / "annotations.json"), "--dets", str(path), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert main(["eval", "detect", "--data", str(data), "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    for key in ("AP", "AP50", "AR100"):
        assert scored[key] == pytest.approx(ran[key], abs=1e-6), key
    assert scored["notes"] == []


def test_coco_writer_numbers_the_frames_of_a_video(tmp_path):
    writer_cls = load_object(get_plugins().writers.get("coco").factory)
    det = Detections(np.array([[1, 2, 11, 22]], np.float32), np.array([0.9], np.float32), np.array([0]),
                     ("star",))
    with writer_cls(tmp_path) as writer:
        for frame in (0, 1):
            writer.write(FrameResult("clips/walk.mp4", frame, 64, 48, "cpu", {}, {"detect": det}))
        writer.write(FrameResult("clips/gone.png", 0, 0, 0, "cpu", {}, {}, error="unreadable"))
    doc = json.loads((tmp_path / "detections.json").read_text())
    names = [(im["file_name"], im["frame"]) for im in doc["images"]]
    assert names == [("walk_000000.png", 0), ("walk_000001.png", 1)]
    assert doc["categories"] == [{"id": 1, "name": "star"}]
    assert doc["annotations"][1]["bbox"] == [1.0, 2.0, 10.0, 20.0] and doc["annotations"][1]["image_id"] == 2


def test_an_evaluator_that_exits_is_its_plugins_failure(tmp_path, capsys):
    import types

    from visionkit.cli import main
    from visionkit.evaluators import Evaluator
    from visionkit.hookspecs import hookimpl
    from visionkit.plugin_manager import plugins_added
    from visionkit.registry import EvaluatorSpec

    class Quitter(Evaluator):
        def check(self, data, settings):
            raise SystemExit(2)

    globals()["Quitter"] = Quitter

    @hookimpl
    def visionkit_register_evaluators(registry):
        registry.add(EvaluatorSpec(name="quit", summary="", factory=f"{__name__}:Quitter", task="classify"))

    with plugins_added(("q", types.SimpleNamespace(visionkit_register_evaluators=visionkit_register_evaluators))):
        assert main(["eval", "quit", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "evaluator 'quit' of plugin 'q': check() raised SystemExit(2)" in err and len(err.splitlines()) == 1
