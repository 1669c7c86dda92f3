"""The plugin layer: hookspecs, discovery, isolation of broken plugins, disabling."""

import inspect
import types

import pytest

from visionkit import hookspecs
from visionkit.errors import PluginError
from visionkit.hookspecs import hookimpl
from visionkit.plugin_manager import get_plugins, load_plugins, require_task
from visionkit.registry import PanelSpec, SourceSpec, TaskSpec, load_object

HOOKS = [name for name in dir(hookspecs) if name.startswith("visionkit_")]


def test_every_hook_is_prefixed_typed_and_documented():
    assert set(HOOKS) == {"visionkit_register_tasks", "visionkit_register_sources", "visionkit_register_panels",
                          "visionkit_register_decoders", "visionkit_register_painters", "visionkit_register_writers",
                          "visionkit_register_evaluators", "visionkit_register_heads"}
    for name in HOOKS:
        fn = getattr(hookspecs, name)
        sig = inspect.signature(fn)
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name
        assert fn.__doc__ and ":param registry:" in fn.__doc__ and "versionadded" in fn.__doc__, name


def test_every_hook_is_documented_with_its_signature_in_the_docs():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    for name in HOOKS:
        sig = inspect.signature(getattr(hookspecs, name))
        params = ", ".join(f"{p}: {a.annotation}".replace("'", "") for p, a in sig.parameters.items())
        assert f"{name}({params})" in doc, name


class FakeEntryPoint:
    def __init__(self, name, obj=None, error=None):
        self.name, self.value, self._obj, self._error, self.dist = name, f"fake.{name}", obj, error, None

    def load(self):
        if self._error:
            raise self._error
        return self._obj


def plugin(**hooks):
    return types.SimpleNamespace(**{k: hookimpl(v) for k, v in hooks.items()})


def add_task(name, factory="x:y"):
    def hook(registry):
        registry.add(TaskSpec(name=name, summary=f"{name} task", factory=factory))
    return hook


def test_register_tasks_hook_fills_the_registry_and_credits_the_plugin():
    plugins = load_plugins([FakeEntryPoint("good", plugin(visionkit_register_tasks=add_task("count")))])
    spec = plugins.tasks.get("count")
    assert spec.plugin == "good" and spec.summary == "count task"
    assert plugins.infos[0].provides == {"tasks": ["count"]}


def test_register_sources_hook_matches_prefixes():
    def hook(registry):
        registry.add(SourceSpec(name="rtsp", summary="network camera", opener="m:f", prefixes=("rtsp://",)))
    plugins = load_plugins([FakeEntryPoint("net", plugin(visionkit_register_sources=hook))])
    assert plugins.sources.match("rtsp://cam/1").name == "rtsp"
    assert plugins.sources.match("photo.png") is None
    assert plugins.infos[0].provides == {"sources": ["rtsp"]}


def test_register_panels_hook_maps_result_kinds_without_importing_qt():
    def hook(registry):
        registry.add(PanelSpec(name="counts", summary="count table", factory="no_such_qt_module:Panel",
                               result_kind="count"))
    plugins = load_plugins([FakeEntryPoint("counter", plugin(visionkit_register_panels=hook))])
    assert plugins.panels.for_kind("count").factory == "no_such_qt_module:Panel"  # a string, not imported
    assert plugins.panels.for_kind("classification") is None
    assert plugins.infos[0].provides == {"panels": ["counts"]}
    builtin = get_plugins().panels.for_kind("classification")
    assert builtin.plugin == "classify" and builtin.factory.endswith("classify.panel:ProbabilityPanel")


def test_broken_plugins_are_reported_and_the_rest_still_load():
    def raising(registry):
        registry.add(TaskSpec(name="half", summary="", factory="x:y"))
        raise RuntimeError("boom")

    plugins = load_plugins([
        FakeEntryPoint("good", plugin(visionkit_register_tasks=add_task("ok"))),
        FakeEntryPoint("import_fails", error=ImportError("No module named 'nope'")),
        FakeEntryPoint("hook_raises", plugin(visionkit_register_tasks=raising)),
        FakeEntryPoint("bad_hook", plugin(visionkit_register_everything=lambda registry: None)),
        FakeEntryPoint("zdup", plugin(visionkit_register_tasks=add_task("ok"))),
    ])
    status = {i.name: (i.status, i.error) for i in plugins.infos}
    assert status["good"] == ("loaded", None)
    assert status["import_fails"][0] == "failed" and "nope" in status["import_fails"][1]
    assert status["hook_raises"][0] == "failed" and "boom" in status["hook_raises"][1]
    assert status["bad_hook"][0] == "failed" and "visionkit_register_everything" in status["bad_hook"][1]
    assert status["zdup"][0] == "failed" and "already registered by plugin 'good'" in status["zdup"][1]
    assert [t.name for t in plugins.tasks] == ["ok"]  # 'half' was rolled back
    assert all("\n" not in (i.error or "") for i in plugins.infos)


def test_disable_env_var_blocks_plugins(monkeypatch):
    monkeypatch.setenv("VISIONKIT_DISABLE_PLUGINS", "b, c")
    plugins = load_plugins([FakeEntryPoint(n, plugin(visionkit_register_tasks=add_task(n))) for n in "abc"])
    assert [t.name for t in plugins.tasks] == ["a"]
    assert {i.name: i.status for i in plugins.infos} == {"a": "loaded", "b": "disabled", "c": "disabled"}


def test_builtin_classify_registers_through_the_entry_point_group():
    plugins = get_plugins()
    info = {i.name: i for i in plugins.infos}["classify"]
    assert info.status == "loaded" and info.distribution == "visionkit"
    assert require_task("classify").factory.endswith("runtime:ClassifyTask")


def test_disabling_classify_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("VISIONKIT_DISABLE_PLUGINS", "classify")
    get_plugins(reload=True)
    with pytest.raises(PluginError, match="no plugin provides task 'classify'"):
        require_task("classify")


def test_load_object_errors_are_one_line():
    with pytest.raises(PluginError, match="module:attribute"):
        load_object("nocolon")
    with pytest.raises(PluginError, match="cannot import"):
        load_object("no_such_module_xyz:thing")
    with pytest.raises(PluginError, match="has no attribute"):
        load_object("visionkit.errors:Nope")


def test_register_decoders_hook_and_rollback_across_hooks():
    from visionkit.registry import DecoderSpec

    def decoders(registry):
        registry.add(DecoderSpec(name="fam", summary="a family", factory="m:f", task="detect"))

    def broken_decoders(registry):
        raise ValueError("bad decoder")

    plugins = load_plugins([
        FakeEntryPoint("fam", plugin(visionkit_register_decoders=decoders)),
        FakeEntryPoint("half", plugin(visionkit_register_tasks=add_task("halftask"),
                                      visionkit_register_decoders=broken_decoders)),
    ])
    assert plugins.decoders.get("fam").plugin == "fam"
    assert [d.name for d in plugins.decoders.for_task("detect")] == ["fam"]
    assert {i.name: i.provides for i in plugins.infos}["fam"] == {"decoders": ["fam"]}
    # the task 'half' registered before its decoder hook raised is rolled back too
    assert "halftask" not in plugins.tasks
    assert {i.name: i.status for i in plugins.infos}["half"] == "failed"


def test_startup_imports_no_plugins_heavy_module():
    """`import visionkit` and `visionkit plugins` load each plugin's registration module only:
    tasks, painters, panels, evaluators and heads are strings until something uses them."""
    import subprocess
    import sys

    code = (
        "import sys, visionkit\n"
        "from visionkit.cli import main\n"
        "assert main(['plugins']) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.startswith('visionkit.plugins.') and m.count('.') > 2"
        " or m.split('.')[0] in ('torch', 'PySide6', 'onnx'))\n"
        "print(heavy)\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
