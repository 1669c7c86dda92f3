"""The plugin API as a plugin author meets it: tasks without a model, state and lifecycle,
several graphs, the result protocol, painters and base images, writers, --option."""

import json
import sys
import types
from dataclasses import dataclass, field

import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main
from visionkit.errors import ModelError, UsageError
from visionkit.hookspecs import hookimpl
from visionkit.imageio import write_image
from visionkit.plugin_manager import plugins_added
from visionkit.registry import PainterSpec, TaskSpec, WriterSpec
from visionkit.results import StyledImage, summarize
from visionkit.tasks import Task

from .conftest import make_tiny_backbone, make_tiny_head


@dataclass(frozen=True)
class Count:
    seen: int
    source: str = ""
    kind = "frame_count"
    schema_version = 1

    def to_dict(self):
        return {"seen": self.seen, "source": self.source}


class CounterTask(Task):
    """Stateful and model-less: counts the frames of the current source it has seen."""

    name = "counter"
    requires_model = False
    stateful = True
    default_options = {"step": 1, "mode": "count"}
    option_limits = {"step": (1, 10)}
    option_choices = {"mode": ("count", "double")}
    finished: list = []

    def __init__(self, model=None, **options):
        super().__init__(model, **options)
        self.seen = 0

    def reset(self):
        self.seen = 0

    def finish(self):
        CounterTask.finished.append(self.seen)

    def decode(self, outputs, inputs):
        self.seen += self.options["step"] * (2 if self.options["mode"] == "double" else 1)
        return Count(self.seen, inputs.frame.source)


class Bare:
    kind = "bare"


class NoDictTask(Task):
    name = "nodict"
    requires_model = False

    def decode(self, outputs, inputs):
        return Bare()


@dataclass(frozen=True)
class Negative:
    image: np.ndarray = field(repr=False)
    kind = "negative"

    def base_image(self):
        return self.image

    def to_dict(self):
        return {"width": int(self.image.shape[1])}


class NegativeTask(Task):
    name = "negative"
    requires_model = False

    def decode(self, outputs, inputs):
        return Negative(255 - inputs.image)


class ProbeTask(Task):
    """Reads the backbone through the context, as explain tools do."""

    name = "probe"
    requires_model = False

    def decode(self, outputs, inputs):
        batch = np.stack([inputs.context.preprocess(inputs.image)[0][0]] * 3)
        maps = inputs.context.features_batch(batch)
        again = inputs.context.predict("classify", inputs.image)
        return Count(int(maps["c5"].shape[0]), again.labels[0])


def draw_count(canvas, result, highlight=None):
    canvas[:4, :4] = (0, 255, 0)


class CountLog:
    def __init__(self, out_dir):
        self.path = out_dir / "counts.txt"
        out_dir.mkdir(parents=True, exist_ok=True)
        self.file, self.written = open(self.path, "w"), [self.path]

    def write(self, result):
        if "counter" in result.results:
            self.file.write(f"{result['counter'].seen}\n")

    def close(self):
        self.file.close()


@hookimpl
def visionkit_register_tasks(registry):
    for name, cls in (("counter", "CounterTask"), ("nodict", "NoDictTask"), ("negative", "NegativeTask"),
                      ("probe", "ProbeTask")):
        registry.add(TaskSpec(name=name, summary=name, factory=f"tests.test_plugin_api:{cls}"))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(name="count", summary="", factory="tests.test_plugin_api:draw_count",
                             result_kind="frame_count", layer=95))


@hookimpl
def visionkit_register_writers(registry):
    registry.add(WriterSpec(name="counts", summary="", factory="tests.test_plugin_api:CountLog",
                            tasks=("counter",), default=True))


PLUGIN = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks,
                               visionkit_register_painters=visionkit_register_painters,
                               visionkit_register_writers=visionkit_register_writers)


@pytest.fixture
def counter_plugin():
    CounterTask.finished = []
    with plugins_added(("counter", PLUGIN)) as plugins:
        yield plugins


def frames(n, source="clip.mp4"):
    return [vk.sources.Frame(np.full((16, 16, 3), i * 10, np.uint8), source, i) for i in range(n)]


def test_a_model_less_stateful_task_runs_and_resets_per_source(counter_plugin):
    pipe = vk.Pipeline(["counter"])
    assert pipe.models() == {} and pipe.provider == "none"
    seen = [pipe.predict_frame(f)["counter"].seen for f in frames(3)]
    assert seen == [1, 2, 3]
    # the same frame again (a redraw) never steps the state
    assert pipe.predict_frame(frames(3)[2])["counter"].seen == 3
    # a new source resets it, and the last one was finished
    assert pipe.predict_frame(frames(1, "other.mp4")[0])["counter"].seen == 1
    assert CounterTask.finished == [3]
    pipe.reset()
    assert pipe.predict_frame(frames(2, "other.mp4")[1])["counter"].seen == 1


def test_stream_finishes_each_source(counter_plugin, tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"im{i}.png")
        write_image(paths[-1], np.full((16, 16, 3), 40 * i, np.uint8))
    results = list(vk.Pipeline(["counter"]).stream([str(p) for p in paths]))
    assert [r["counter"].seen for r in results] == [1, 1, 1]  # each still is its own source
    assert CounterTask.finished == [1, 1, 1]


def test_arrays_given_one_by_one_are_one_source(counter_plugin):
    pipe = vk.Pipeline(["counter"])
    assert [pipe(np.zeros((16, 16, 3), np.uint8))["counter"].seen for _ in range(3)] == [1, 2, 3]


def test_options_are_checked_and_reach_the_task_from_the_cli(counter_plugin, tmp_path, capsys):
    with pytest.raises(UsageError, match="counter.step must be between 1 and 10"):
        vk.Pipeline(["counter"], options={"counter": {"step": 11}})
    with pytest.raises(UsageError, match="counter.mode must be one of count, double"):
        vk.Pipeline(["counter"], options={"counter": {"mode": "triple"}})
    img = tmp_path / "a.png"
    write_image(img, np.zeros((16, 16, 3), np.uint8))
    assert main(["predict", str(img), "-t", "counter", "-o", "counter.step=3", "--option", "counter.mode=double",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["counter"]["seen"] == 6
    assert main(["predict", str(img), "-t", "counter", "-o", "counter.nope=1"]) == 2
    assert "has no option 'nope'" in capsys.readouterr().err
    assert main(["predict", str(img), "-t", "counter", "-o", "step=1"]) == 2
    assert "TASK.KEY=VALUE" in capsys.readouterr().err


def test_a_result_without_summary_gets_one_and_prints(counter_plugin, tmp_path, capsys):
    assert summarize(Count(4, "x")) == "seen 4, source x"
    img = tmp_path / "a.png"
    write_image(img, np.zeros((16, 16, 3), np.uint8))
    assert main(["predict", str(img), "-t", "counter"]) == 0
    assert "counter: seen 1" in capsys.readouterr().out


def test_a_result_without_to_dict_is_refused_naming_the_plugin(counter_plugin):
    result = next(vk.Pipeline(["nodict"]).stream(np.zeros((16, 16, 3), np.uint8)))
    assert not result.ok and "plugin 'counter'" in result.error and "to_dict" in result.error


def test_a_base_image_replaces_the_frame_under_the_overlays(counter_plugin):
    image = np.full((16, 16, 3), 10, np.uint8)
    r = vk.Pipeline(["negative", "counter"])(image)
    canvas = vk.render(r)
    assert (canvas[8:, 8:] == 245).all()  # the negative is the base
    assert (canvas[:4, :4] == (0, 255, 0)).all()  # and the counter's painter drew on it
    assert (vk.render(r, tasks=["counter"])[8:, 8:] == 10).all()  # hidden: the frame again
    styled = StyledImage(np.zeros((8, 8, 3), np.uint8), style="night")
    assert styled.to_dict() == {"width": 8, "height": 8, "style": "night"} and "night" in summarize(styled)


def test_the_context_runs_the_backbone_and_other_tasks(counter_plugin, tiny_models):
    pipe = vk.Pipeline(["classify", "probe"], models={"classify": tiny_models["head"]})
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 2] = 255
    r = pipe(image)
    assert r["probe"] == Count(3, "blue")
    with pytest.raises(UsageError, match="keeps state"):
        vk.Pipeline(["counter"]).context.predict("counter", image)


def test_writers_come_from_the_registry(counter_plugin, tmp_path, capsys):
    img = tmp_path / "a.png"
    write_image(img, np.zeros((16, 16, 3), np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(img), "-t", "counter", "--save", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "counts.txt"]  # both defaults
    assert (out / "counts.txt").read_text() == "1\n"
    out2 = tmp_path / "out2"
    assert main(["predict", str(img), "-t", "counter", "--save", str(out2), "--save-as", "jsonl"]) == 0
    assert json.loads((out2 / "results.jsonl").read_text())["results"]["counter"]["seen"] == 1
    assert main(["predict", str(img), "-t", "counter", "--save", str(out2), "--save-as", "masks"]) == 2
    assert "writes segment results" in capsys.readouterr().err
    assert main(["predict", str(img), "-t", "counter", "--save", str(out2), "--save-as", "nope"]) == 2
    assert "no writer 'nope'" in capsys.readouterr().err


def test_card_parts_are_loaded_and_checked(tmp_path, tiny_models):
    import onnx

    from visionkit.cards import ModelCard
    from visionkit.parts import load_parts
    from visionkit.runtime import load_model

    def with_parts(path, parts):
        model = onnx.load(str(path))
        card = ModelCard.from_json(model.metadata_props[0].value).with_(parts=parts)
        model.metadata_props[0].value = card.to_json()
        onnx.save(model, str(path))
        return load_model(path)

    folder = tiny_models["head"].parent
    make_tiny_head(folder / "second.onnx")
    make_tiny_head(folder / "other.onnx", backbone_hash="0123456789abcdef")
    main_model = with_parts(make_tiny_head(folder / "a.onnx"), {"second": "second.onnx"})
    assert load_parts(main_model)["second"].path.name == "second.onnx"
    with pytest.raises(ModelError, match="names no 'step' part"):
        load_parts(main_model, ("step",))
    for bad, why in (("../x.onnx", "not a path"), ("/etc/x.onnx", "not a path"), ("sub\\x.onnx", "not a path"),
                     ("..", "not a path"), ("missing.onnx", "is missing"), ("other.onnx", "another backbone")):
        model = with_parts(make_tiny_head(folder / f"b{abs(hash(bad))}.onnx"), {"step": bad})
        with pytest.raises(ModelError, match=why):
            load_parts(model)


def test_version_1_cards_move_parts_and_config_out_of_options():
    from visionkit.cards import ModelCard

    card = ModelCard.from_dict({"task": "detect", "name": "d", "version": 1,
                                "backbone": {"name": "b", "hash": "0123456789abcdef"},
                                "options": {"box_head": "d_boxes.onnx", "figure_label": "figure", "score": 0.4}})
    assert card.parts == {"box_head": "d_boxes.onnx"} and card.config == {"figure_label": "figure"}
    assert card.options == {"score": 0.4} and card.version == 2
    assert ModelCard.from_dict(card.to_dict()) == card


def test_the_bundled_detector_gets_its_box_head_from_parts():
    pipe = vk.Pipeline(["detect", "pose"])
    assert pipe.tasks["detect"].parts["box_head"].path.name == "shapeworld_detect_boxes.onnx"
    assert pipe.tasks["pose"].config["figure_label"] == "figure" and "figure_label" not in pipe.tasks["pose"].options


def test_a_plugin_task_that_is_no_task_class_is_refused():
    @hookimpl
    def visionkit_register_tasks(registry):
        registry.add(TaskSpec(name="fake", summary="", factory="visionkit.results:summarize"))

    with plugins_added(("fake", types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks))):
        with pytest.raises(vk.VisionkitError, match="not a visionkit.tasks.Task subclass"):
            vk.Pipeline(["fake"])


def test_reset_and_finish_errors_name_the_task(counter_plugin, monkeypatch):
    pipe = vk.Pipeline(["counter"])
    monkeypatch.setattr(CounterTask, "reset", lambda self: 1 / 0)
    with pytest.raises(vk.VisionkitError, match=r"counter: reset\(\) raised ZeroDivisionError"):
        pipe.reset()


def test_make_tiny_backbone_is_still_there(tmp_path):
    # the part checks above compare hashes; a backbone made here keeps the default one
    assert make_tiny_backbone(tmp_path / "b.onnx").is_file()


def exits(*args, **kwargs):
    raise SystemExit(3)


def test_plugins_that_exit_are_that_plugins_failure(counter_plugin, tmp_path, capsys, monkeypatch):
    """sys.exit() in a plugin's hook, task, painter or source opener fails that plugin, in one
    line, and everything else still runs."""
    from visionkit.registry import SourceSpec

    @hookimpl
    def visionkit_register_tasks(registry):
        raise SystemExit(3)

    with plugins_added(("quitter", types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks))) as p:
        info = {i.name: i for i in p.infos}["quitter"]
        assert info.status == "failed" and "SystemExit(3)" in info.error
        assert "classify" in p.tasks

    img = tmp_path / "a.png"
    write_image(img, np.zeros((16, 16, 3), np.uint8))
    monkeypatch.setattr(NegativeTask, "decode", exits)
    assert main(["predict", str(img), "-t", "negative,counter", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["results"]["counter"]["seen"] == 1  # the other task's result is kept
    assert "negative: plugin raised SystemExit(3)" in err

    from visionkit import overlays

    monkeypatch.setattr(sys.modules[__name__], "draw_count", exits)
    monkeypatch.setattr(overlays, "_loaded", {})  # painters are imported once per process
    out_dir = tmp_path / "out"
    images = [tmp_path / "a.png", tmp_path / "b.png"]
    write_image(images[1], np.zeros((16, 16, 3), np.uint8))
    assert main(["predict", *map(str, images), "-t", "counter", "--save", str(out_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("cannot save") == 2 and "'frame_count' painter raised SystemExit(3)" in err

    @hookimpl
    def visionkit_register_sources(registry):
        registry.add(SourceSpec(name="quit", summary="", opener="tests.test_plugin_api:exits", prefixes=("quit://",)))

    with plugins_added(("q", types.SimpleNamespace(visionkit_register_sources=visionkit_register_sources))):
        results = vk.predict(["quit://x", str(img)], tasks="classify")
    assert not results[0].ok and "source plugin 'q' raised SystemExit(3)" in results[0].error
    assert results[1].ok


def test_a_cards_option_defaults_meet_the_tasks_limits(tmp_path):
    import onnx

    from visionkit.cards import ModelCard
    from visionkit.errors import CardError

    head = make_tiny_head(tmp_path / "h.onnx")
    model = onnx.load(str(head))
    card = ModelCard.from_json(model.metadata_props[0].value)
    model.metadata_props[0].value = card.with_(options={"topk": 0}).to_json()
    onnx.save(model, str(head))
    make_tiny_backbone(tmp_path / "tiny_backbone.onnx")
    with pytest.raises(CardError, match="h.onnx: card option classify.topk must be a positive whole number"):
        vk.Pipeline(["classify"], model=head)


def test_a_task_that_cannot_use_what_it_was_given_says_so_once(tmp_path, capsys):
    """pose behind a detector that has no 'figure' class: one note, not silence."""
    import shutil

    import onnx

    from visionkit.bundled import models_dir
    from visionkit.cards import ModelCard

    for name in ("shapeworld_detect.onnx", "shapeworld_detect_boxes.onnx"):
        shutil.copy(models_dir() / name, tmp_path / name)
    model = onnx.load(str(tmp_path / "shapeworld_detect.onnx"))
    entry = next(p for p in model.metadata_props if p.key == "visionkit.card")
    card = ModelCard.from_json(entry.value)
    entry.value = card.with_(labels=tuple("person" if x == "figure" else x for x in card.labels)).to_json()
    onnx.save(model, str(tmp_path / "shapeworld_detect.onnx"))
    image = str(models_dir().parent / "samples" / "scene_figures.png")
    assert main(["predict", image, image, "-t", "pose", "--model", f"detect={tmp_path / 'shapeworld_detect.onnx'}"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "has no class 'figure'" in notes[0] and "whole_image" in notes[0]
