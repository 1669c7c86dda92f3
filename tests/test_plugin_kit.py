"""The kit for plugin authors: visionkit's pytest fixtures, the task contract, ``visionkit plugin
new`` and ``visionkit plugin check``, and the example plugin package (examples/visionkit-motion),
which is registered in-process here, never pip-installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main
from visionkit.hookspecs import hookimpl
from visionkit.registry import PainterSpec, TaskSpec
from visionkit.results import StyledImage
from visionkit.tasks import Task
from visionkit.testing import assert_task, check_task, contract_test
from visionkit.testing import plugin as kit

# the fixtures come with the pytest11 entry point once visionkit is installed with it; naming
# them here keeps this suite independent of how the checkout was installed
visionkit_plugin, tiny_backbone = kit.visionkit_plugin, kit.tiny_backbone
sample_images, sample_video = kit.sample_images, kit.sample_video

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "visionkit-motion"


# -- tasks of a well-behaved plugin and of a broken one ------------------------------------------

@dataclass(frozen=True)
class Level:
    """Mean grey level of the frames seen since the last reset."""

    mean: float
    frames: int

    kind: ClassVar[str] = "level"
    schema_version: ClassVar[int] = 1

    def summary(self) -> str:
        return f"level {self.mean:.1f} over {self.frames} frame(s)"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": round(self.mean, 4), "frames": self.frames}


class RunningLevelTask(Task):
    name = "level"
    requires_model = False
    stateful = True

    def __init__(self, model=None, **options):
        super().__init__(model, **options)
        self.reset()

    def reset(self):
        self.total, self.frames = 0.0, 0

    def decode(self, outputs, inputs):
        self.total += float(inputs.image.mean())
        self.frames += 1
        return Level(self.total / self.frames, self.frames)


class NegativeTask(Task):
    name = "negative"
    requires_model = False

    def decode(self, outputs, inputs):
        return StyledImage(255 - inputs.image, style="negative")


def draw_level(canvas, result, highlight=None):
    canvas[:4, :] = int(result.mean)


def plugin_of(tasks: dict[str, type], painters: dict[str, str] | None = None) -> types.SimpleNamespace:
    def register_tasks(registry):
        for name, cls in tasks.items():
            registry.add(TaskSpec(name=name, summary=name, factory=f"{__name__}:{cls.__name__}"))

    def register_painters(registry):
        for kind, fn in (painters or {}).items():
            registry.add(PainterSpec(name=kind, summary=kind, factory=f"{__name__}:{fn}", result_kind=kind))

    return types.SimpleNamespace(visionkit_register_tasks=hookimpl(register_tasks),
                                 visionkit_register_painters=hookimpl(register_painters))


GOOD = plugin_of({"level": RunningLevelTask, "negative": NegativeTask}, painters={"level": "draw_level"})

# a plugin's own test of its tasks, made by the helper plugin authors use
test_good_tasks_keep_the_contract = contract_test(["level", "negative"], plugin=("good", GOOD))


class Opaque:
    kind: ClassVar[str] = "opaque"


class NoDictTask(NegativeTask):
    def decode(self, outputs, inputs):
        return Opaque()


class RandomTask(NegativeTask):
    def decode(self, outputs, inputs):
        return Level(float(np.random.default_rng().random()), 1)


class ForgetfulTask(RunningLevelTask):
    def reset(self):
        if not hasattr(self, "total"):
            self.total, self.frames = 0.0, 0  # set once, never forgotten


class HiddenStateTask(ForgetfulTask):
    stateful = False


class ResetRaisesTask(RunningLevelTask):
    def __init__(self, model=None, **options):
        super().__init__(model, **options)
        self.ready = True

    def reset(self):
        if getattr(self, "ready", False):  # the pipeline's resets fail, the first one does not
            raise RuntimeError("background lost")
        super().reset()


@dataclass(frozen=True)
class NumpyLevel(Level):
    def to_dict(self):
        return {"mean": np.float32(self.mean), "frames": self.frames}


@dataclass(frozen=True)
class NanLevel(Level):
    summary = None  # summarize() then makes one from to_dict()

    def to_dict(self):
        return {"stats": {"mean": float("nan")}}


@dataclass(frozen=True)
class ChattyLevel(Level):
    def summary(self):
        return "level\nover two lines"


class NumpyTask(NegativeTask):
    def decode(self, outputs, inputs):
        return NumpyLevel(float(inputs.image.mean()), 1)


class NanTask(NegativeTask):
    def decode(self, outputs, inputs):
        return NanLevel(0.0, 1)


class ChattyTask(NegativeTask):
    def decode(self, outputs, inputs):
        return ChattyLevel(0.0, 1)


BROKEN = [
    (NoDictTask, "Opaque has no to_dict() method"),
    (RandomTask, "to_dict() is not stable: a second run on sample image 0 differs (to_dict()['mean']:"),
    (RandomTask, "not deterministic: a fresh pipeline gives another result on sample image 0"),
    (ForgetfulTask, ("reset() does not forget earlier frames: frame 0 of the clip differs after a reset "
                     "(to_dict()['frames']:")),
    (ForgetfulTask, "a second run on sample image 0 (a new source, after reset()) differs"),
    (HiddenStateTask, "results depend on earlier frames, but the task does not say stateful = True"),
    (ResetRaisesTask, "reset() raised"),
    (NumpyTask, "NumpyLevel.to_dict() is not JSON-safe: to_dict()['mean'] is a numpy.float32"),
    (NanTask, "NanLevel.to_dict() is not JSON-safe: to_dict()['stats']['mean'] is nan (JSON has no NaN"),
    (ChattyTask, "ChattyLevel's summary is not one line of text"),
]


@pytest.mark.parametrize("cls, message", BROKEN, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(BROKEN)])
def test_the_contract_names_what_a_broken_task_gets_wrong(visionkit_plugin, cls, message):
    visionkit_plugin("broken", plugin_of({"broken": cls}, painters={"level": "draw_level"}))
    report = check_task("broken")
    assert not report.ok
    assert any(message in p for p in report.problems), report.problems
    with pytest.raises(AssertionError, match="breaks the contract"):
        assert_task("broken")


def test_the_contract_reports_a_task_that_does_not_build_or_is_too_slow(visionkit_plugin):
    visionkit_plugin("good", GOOD)
    missing = check_task("nonesuch")
    assert len(missing.problems) == 1
    assert missing.problems[0].startswith("does not build through Pipeline: "
                                          "no plugin provides task 'nonesuch'")
    slow = check_task("negative", budget_ms=1e-6)
    assert slow.median_ms is not None and "over the budget of 1e-06 ms" in slow.problems[0]
    assert slow.line().startswith("negative: FAILED (")


def test_the_contract_warns_when_a_result_adds_nothing_to_the_picture(visionkit_plugin):
    visionkit_plugin("good", plugin_of({"level": RunningLevelTask}))  # no painter this time
    report = check_task("level")
    assert report.ok and report.warnings == [
        "no painter is registered for result kind 'level' and Level has no base_image(): "
        "it adds nothing to the picture"]
    with pytest.warns(UserWarning, match="adds nothing to the picture"):
        assert_task("level")


# -- fixtures ---------------------------------------------------------------------------------------

def test_visionkit_plugin_replaces_an_installed_plugin_of_the_same_name(visionkit_plugin):
    plugins = visionkit_plugin("classify", GOOD)
    assert "level" in plugins.tasks and "classify" not in plugins.tasks  # the installed one gave way
    assert "detect" in plugins.tasks
    assert vk.Pipeline(["level"]).tasks["level"].stateful


def test_visionkit_plugin_can_register_a_plugin_that_fails(visionkit_plugin):
    def boom(registry):
        raise RuntimeError("no luck")

    bad = types.SimpleNamespace(visionkit_register_tasks=hookimpl(boom))
    plugins = visionkit_plugin("bad", bad, check=False)
    assert [(i.status, i.error) for i in plugins.infos if i.name == "bad"] == [
        ("failed", "visionkit_register_tasks raised RuntimeError: no luck")]


def test_sample_images_and_video_are_small_and_seeded(sample_images, sample_video):
    from visionkit.testing import moving_frames
    from visionkit.testing import sample_images as make

    assert [im.shape for im in sample_images] == [(96, 128, 3)] * 3
    assert all(im.dtype == np.uint8 for im in sample_images)
    assert all(np.array_equal(a, b) for a, b in zip(sample_images, make()))
    frames = list(vk.open_input(sample_video))
    assert len(frames) == 12 and frames[0].fps == pytest.approx(10.0)
    assert np.abs(frames[5].image.astype(int) - moving_frames(12)[5]).mean() < 12  # mp4 is lossy


def test_tiny_backbone_is_a_backbone_a_head_runs_on(tiny_backbone, tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from visionkit.cards import METADATA_KEY, BackboneRef, ModelCard
    from visionkit.testing.models import model_hash

    card = tiny_backbone.card
    assert (card.task, card.features, card.input.layout, card.input.dtype) == (
        "backbone", ("c2", "c3", "c4", "c5"), "NHWC", "uint8")
    assert card.strides == {"c2": 4, "c3": 8, "c4": 16, "c5": 32}
    assert model_hash(onnx.load(str(tiny_backbone.path))) == tiny_backbone.hash  # the card names its graph

    # a classify head on c5, exported against the tiny backbone's hash, runs through the pipeline
    nodes = [helper.make_node("GlobalAveragePool", ["c5"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(48, 3)).astype(np.float32), "w")
    graph = helper.make_graph(nodes, "head",
                              [helper.make_tensor_value_info("c5", TensorProto.FLOAT, ["n", 48, "h", "w"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
                              initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    head_card = ModelCard(task="classify", name="tiny_head", labels=("a", "b", "c"), output="logits",
                          backbone=BackboneRef(card.name, tiny_backbone.hash), features=("c5",))
    helper.set_model_props(model, {METADATA_KEY: head_card.to_json()})
    head = tmp_path / "tiny_head.onnx"
    onnx.save_model(model, str(head))
    assert_task("classify", model=head, backbone=tiny_backbone.path)


def test_the_tiny_backbone_hash_is_the_exporters(tiny_backbone):
    pytest.importorskip("torch")
    from visionkit.nn.export import model_hash

    assert model_hash(tiny_backbone.path) == tiny_backbone.hash


def test_the_kit_needs_neither_pytest_nor_torch(tmp_path):
    code = (
        "import importlib.util, sys\n"
        "from visionkit.testing import check_task, make_tiny_backbone\n"
        "if importlib.util.find_spec('onnx'):  # only the tiny backbone needs it\n"
        f"    make_tiny_backbone({str(tmp_path / 'b.onnx')!r})\n"
        "from visionkit.cli import main\n"
        "assert main(['plugin', 'check', 'classify']) == 0\n"
        "assert check_task('classify').ok\n"
        "print(sorted(m for m in ('pytest', 'torch', 'PySide6') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def test_the_contract_test_helper_is_parametrised_over_the_tasks():
    fn = contract_test(["a", "b"])
    (mark,) = [m for m in fn.pytestmark if m.name == "parametrize"]
    assert mark.args == ("task", ["a", "b"])


# -- the example plugin package -----------------------------------------------------------------

@pytest.fixture
def motion_plugin(visionkit_plugin, monkeypatch):
    """examples/visionkit-motion, as if installed: its folder on sys.path, registered in-process."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return visionkit_plugin("motion", "visionkit_motion.plugin")


def test_the_example_plugin_keeps_the_contract(motion_plugin, sample_video):
    assert motion_plugin.tasks.by_plugin("motion") == ["cartoon", "motion"]
    motion = assert_task("motion", video=sample_video)
    assert assert_task("cartoon", video=sample_video).warnings == [] and motion.warnings == []
    assert vk.Pipeline(["motion"]).tasks["motion"].stateful


def test_plugin_check_passes_on_the_example(motion_plugin, capsys):
    assert main(["plugin", "check", "motion"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["[motion] cartoon: ok", "[motion] motion: ok"]


def test_plugin_check_fails_on_a_broken_plugin(visionkit_plugin, capsys):
    visionkit_plugin("broken", plugin_of({"broken": ForgetfulTask}))
    assert main(["plugin", "check", "broken"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("[broken] broken: FAILED (") and "reset() does not forget earlier frames" in out
    assert main(["plugin", "check", "nonesuch"]) == 2


def _pytest_in_subprocess(folder: Path, *paths: Path) -> subprocess.CompletedProcess:
    """pytest on a plugin package's tests, with the package importable as if installed; visionkit's
    pytest plugin is named with -p only where its entry point is not installed (twice is an error)."""
    code = (
        "import sys, pytest\n"
        "from importlib.metadata import entry_points\n"
        "args = ['-q', '-p', 'no:cacheprovider', *sys.argv[1:]]\n"
        "if not any(ep.value == 'visionkit.testing.plugin' for ep in entry_points(group='pytest11')):\n"
        "    args += ['-p', 'visionkit.testing.plugin']\n"
        "sys.exit(pytest.main(args))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", code, *map(str, paths)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_example_passes_its_own_tests():
    proc = _pytest_in_subprocess(EXAMPLE, EXAMPLE / "tests")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


@pytest.mark.slow
def test_the_example_installs_as_a_package_and_passes_plugin_check(tmp_path):
    """pip installs it (no network, no build isolation); visionkit then finds it through its
    entry point alone, as it finds any third-party plugin."""
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                              "--no-index", "--target", str(target), str(EXAMPLE)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    check = subprocess.run([sys.executable, "-m", "visionkit", "plugin", "check", "motion"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "[motion] motion: ok" in check.stdout and "[motion] cartoon: ok" in check.stdout
    listed = subprocess.run([sys.executable, "-m", "visionkit", "plugins"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert "visionkit-motion" in listed.stdout and "tasks: cartoon, motion" in listed.stdout


# -- visionkit plugin new -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("new-plugin")
    assert main(["plugin", "new", "visionkit-glow", "--out", str(out)]) == 0
    yield out / "visionkit-glow"
    for name in [m for m in sys.modules if m == "visionkit_glow" or m.startswith("visionkit_glow.")]:
        del sys.modules[name]


def test_plugin_new_writes_a_package_with_an_entry_point(generated):
    files = sorted(p.relative_to(generated).as_posix() for p in generated.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "tests/test_glow.py", "visionkit_glow/__init__.py",
                     "visionkit_glow/painter.py", "visionkit_glow/plugin.py", "visionkit_glow/runtime.py",
                     "visionkit_glow/writer.py"]
    project = tomllib.loads((generated / "pyproject.toml").read_text())
    assert project["project"]["name"] == "visionkit-glow"
    assert project["project"]["entry-points"]["visionkit.plugins"] == {"glow": "visionkit_glow.plugin"}
    assert project["tool"]["setuptools"]["packages"] == ["visionkit_glow"]
    assert not [p for p in generated.rglob("*") if p.is_file() and "{{" in p.read_text()]


def test_the_generated_plugin_keeps_the_contract(generated, visionkit_plugin, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(generated))
    plugins = visionkit_plugin("glow", "visionkit_glow.plugin")
    assert plugins.tasks.by_plugin("glow") == ["glow"] and "glow_csv" in plugins.writers
    assert assert_task("glow").warnings == []
    assert main(["plugin", "check", "glow"]) == 0


@pytest.mark.slow
def test_the_generated_plugin_passes_its_own_tests(generated):
    proc = _pytest_in_subprocess(generated, generated / "tests")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout


def test_plugin_new_refuses_a_bad_name_or_a_full_folder(generated, capsys):
    assert main(["plugin", "new", "Glow!", "--out", str(generated.parent)]) == 2
    assert main(["plugin", "new", "glow", "--out", str(generated.parent)]) == 2
    err = capsys.readouterr().err
    assert "a plugin name is lowercase letters" in err and "already exists and is not empty" in err


def test_every_template_file_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["visionkit.templates"]
    folder = ROOT / "visionkit" / "templates"
    shipped = {p for pattern in patterns for p in folder.glob(pattern)}
    assert set(folder.rglob("*.tmpl")) == shipped
    assert config["project"]["entry-points"]["pytest11"] == {"visionkit": "visionkit.testing.plugin"}


def test_the_docs_show_the_kit():
    doc = (ROOT / "docs" / "plugin-kit.md").read_text()
    for name in ("visionkit_plugin", "tiny_backbone", "sample_images", "sample_video", "check_task",
                 "contract_test", "visionkit plugin new", "visionkit plugin check"):
        assert name in doc, name
