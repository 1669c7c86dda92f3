"""Discover plugins, load each in isolation, and call their hooks through one typed facade.

Every entry point of the group ``visionkit.plugins`` (the built-ins included) is loaded inside
its own try/except, and so is each of its hook calls: a broken plugin is reported with its
reason and the others still work. ``VISIONKIT_DISABLE_PLUGINS=a,b`` skips plugins by name.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Iterator

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownTaskError, describe_failure
from .registry import (DecoderRegistry, EvaluatorRegistry, HeadRegistry, PainterRegistry, PanelRegistry,
                       SourceRegistry, TaskRegistry, WriterRegistry)

ENTRY_POINT_GROUP = "visionkit.plugins"
DISABLE_ENV = "VISIONKIT_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    """What `visionkit plugins` shows for one plugin."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)  # kind -> names


#: each registry and the hook that fills it, in the order they are filled
_HOOKS = (
    ("tasks", "visionkit_register_tasks"),
    ("sources", "visionkit_register_sources"),
    ("panels", "visionkit_register_panels"),
    ("decoders", "visionkit_register_decoders"),
    ("painters", "visionkit_register_painters"),
    ("writers", "visionkit_register_writers"),
    ("evaluators", "visionkit_register_evaluators"),
    ("heads", "visionkit_register_heads"),
)


#: core's own ``--save`` formats (visionkit.writers), registered like the plugins'
_CORE_WRITERS = (
    ("images", "annotated stills (DIR/<stem>.png) and videos (DIR/<stem>.mp4)",
     "visionkit.writers:AnnotatedWriter", True, False),
    ("jsonl", "the --json lines in DIR/results.jsonl", "visionkit.writers:JsonLinesFileWriter", False, True),
)


class Plugins:
    """The loaded plugins and the registries they filled; the only door core uses to hooks."""

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
        self._pm = pm
        self.infos = infos
        self.tasks = TaskRegistry()
        self.sources = SourceRegistry()
        self.panels = PanelRegistry()
        self.decoders = DecoderRegistry()
        self.painters = PainterRegistry()
        self.writers = WriterRegistry()
        self.evaluators = EvaluatorRegistry()
        self.heads = HeadRegistry()
        self._add_core_entries()
        for attr, hook in _HOOKS:
            self._fill(hook, registry=getattr(self, attr))

    def _add_core_entries(self) -> None:
        """What core itself provides through the registries (credited to "visionkit")."""
        from .registry import WriterSpec

        self.writers._bind("visionkit")
        for name, summary, factory, default, whole_run in _CORE_WRITERS:
            self.writers.add(WriterSpec(name=name, summary=summary, factory=factory, default=default,
                                        whole_run=whole_run))
        self.writers._bind("")

    def _registries(self) -> list:
        return [r for r in (getattr(self, attr, None) for attr, _ in _HOOKS) if r is not None]

    @property
    def failures(self) -> list[PluginInfo]:
        return [i for i in self.infos if i.status == "failed"]

    def _fill(self, hook_name: str, **kwargs: Any) -> None:
        """Call one hook on each plugin separately, crediting entries and blaming failures."""
        registry = kwargs["registry"]
        by_name = {i.name: i for i in self.infos}
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            info = by_name[impl.plugin_name]
            if info.status != "loaded":
                continue
            registry._bind(impl.plugin_name)
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # isolation, even from sys.exit(): the others still load
                info.status = "failed"
                info.error = f"{hook_name} raised {describe_failure(exc)}"
                for other in self._registries():  # half a registration is worse than none
                    other._drop(impl.plugin_name)
                info.provides.clear()
            finally:
                registry._bind("")
        for info in self.infos:
            names = registry.by_plugin(info.name)
            if names:
                info.provides[registry.kind + "s"] = names


def _disabled_names() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _dist_of(ep: Any, seen: dict[int, tuple[str, str]]) -> tuple[str, str]:
    """(distribution name, version) of an entry point, its metadata file read once per
    distribution: ``dist.metadata`` and ``dist.version`` each parse it again, which cost a
    cold ``visionkit predict`` 23 of its 250 ms for the nine built-in plugins."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "", ""
    if id(dist) not in seen:
        meta = dist.metadata
        seen[id(dist)] = (meta.get("Name", "") or "", meta.get("Version", "") or "")
    return seen[id(dist)]


def _check_hook_names(pm: pluggy.PluginManager, name: str) -> None:
    """Refuse a plugin implementing a hook that does not exist (a typo would go unnoticed)."""
    for hook in pm.get_hookcallers(pm.get_plugin(name)) or []:
        if not hook.has_spec():
            raise PluginError(f"implements unknown hook {hook.name!r} (see visionkit.hookspecs)")


def load_plugins(
    entry_points: Iterable[Any] | None = None,
    extra: Iterable[tuple[str, object]] = (),
) -> Plugins:
    """Load the plugins of the entry-point group (or the given entry points) plus ``extra``.

    ``extra`` is ``(name, module_or_object)`` pairs registered directly; tests and embedding
    applications use it to add a plugin without installing a distribution.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = _disabled_names()
    infos: list[PluginInfo] = []
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)

    entry_points = list(entry_points)  # the distributions stay alive while ids are compared
    seen: dict[int, tuple[str, str]] = {}
    loaders: list[tuple[str, str, tuple[str, str], Callable[[], object]]] = [
        (ep.name, ep.value, _dist_of(ep, seen), ep.load) for ep in entry_points
    ]
    loaders += [(name, getattr(obj, "__name__", repr(obj)), ("", ""), lambda o=obj: o) for name, obj in extra]

    # built-ins first, then by name: a fixed order decides who gets a contested task name
    for name, module, (dist, version), load in sorted(loaders, key=lambda t: (t[2][0] != "visionkit", t[0])):
        info = PluginInfo(name=name, module=module, distribution=dist, version=version)
        infos.append(info)
        if name in disabled:
            info.status = "disabled"
            continue
        if pm.has_plugin(name):
            info.status, info.error = "failed", f"another plugin is already named {name!r}"
            continue
        try:
            pm.register(load(), name=name)
            _check_hook_names(pm, name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken import (even one calling sys.exit()): report, go on
            if pm.has_plugin(name):
                pm.unregister(name=name)
            info.status = "failed"
            info.error = describe_failure(exc)
    return Plugins(pm, infos)


_cached: Plugins | None = None


def get_plugins(reload: bool = False) -> Plugins:
    """The process-wide plugins, loaded once."""
    global _cached
    if _cached is None or reload:
        _cached = load_plugins()
    return _cached


def set_plugins(plugins: Plugins | None) -> None:
    """Make ``plugins`` the process-wide set; ``None`` discovers them again on next use."""
    global _cached
    _cached = plugins


@contextmanager
def plugins_added(*extra: tuple[str, object], entry_points: Iterable[Any] | None = None) -> Iterator[Plugins]:
    """Within the block, the installed plugins (or ``entry_points``) plus ``extra``
    ``(name, module_or_object)`` pairs, registered in-process without a distribution::

        with plugins_added(("count", my_plugin_module)):
            vk.Pipeline(["count"])

    The previous set is restored on leaving the block. ``visionkit.testing`` wraps this in a
    pytest fixture.
    """
    global _cached
    before = _cached
    _cached = load_plugins(entry_points, extra=extra)
    try:
        yield _cached
    finally:
        _cached = before


def task_names() -> list[str]:
    return [t.name for t in get_plugins().tasks]


def require_task(name: str):
    """The TaskSpec for ``name``, or a PluginError naming the installed tasks."""
    plugins = get_plugins()
    if name not in plugins.tasks:
        broken = [f"{i.name} ({i.error})" for i in plugins.failures]
        hint = f"; plugins that failed to load: {', '.join(broken)}" if broken else ""
        known = ", ".join(t.name for t in plugins.tasks) or "none"
        raise UnknownTaskError(f"no plugin provides task {name!r} (installed: {known}){hint}")
    return plugins.tasks.get(name)
