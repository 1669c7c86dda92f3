"""The hooks a visionkit plugin may implement.

A plugin is a module (or object) registered under the entry-point group ``visionkit.plugins``::

    [project.entry-points."visionkit.plugins"]
    mytask = "mypackage.visionkit_plugin"

whose functions are decorated with :data:`hookimpl` and named like the specs below. Hooks are
few and coarse: each receives a registry and adds entries to it. Entries name their heavy code
by ``"module:attribute"`` strings, imported on first use, so discovering plugins stays cheap.
A plugin may implement any subset of the hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registry import DecoderRegistry, PanelRegistry, SourceRegistry, TaskRegistry

PROJECT = "visionkit"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate plugin functions with this: ``@hookimpl def visionkit_register_tasks(registry): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def visionkit_register_tasks(registry: "TaskRegistry") -> None:
    """Add the tasks this plugin provides.

    Call ``registry.add(TaskSpec(name=..., summary=..., factory="pkg.mod:TaskClass",
    default_model=...))`` once per task. The factory is imported only when a pipeline uses
    the task; it must be a :class:`visionkit.tasks.Task` subclass.

    :param registry: the task registry, shared by all plugins; a name taken by an earlier
        plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.1
    """


@hookspec
def visionkit_register_sources(registry: "SourceRegistry") -> None:
    """Add openers for kinds of input the built-in sources do not read.

    Call ``registry.add(SourceSpec(name=..., summary=..., opener="pkg.mod:open_fn",
    prefixes=("rtsp://",)))``. When a source spec string starts with one of ``prefixes``,
    ``open_fn(spec, **options)`` is called and must return a :class:`visionkit.sources.Source`.
    Plugin openers are asked before the built-in ones.

    :param registry: the source registry, shared by all plugins.

    .. versionadded:: 0.1
    """


@hookspec
def visionkit_register_panels(registry: "PanelRegistry") -> None:
    """Add side panels for the desktop app, one per kind of result they show.

    Call ``registry.add(PanelSpec(name=..., summary=..., factory="pkg.panel:Widget",
    result_kind="classification"))``. ``result_kind`` is the ``kind`` class attribute of the
    result type. The factory names a Qt widget class and is imported only by the GUI (never by
    core or the CLI); it is built as ``Widget(parent)`` and must have
    ``update_result(result, frame_result)``. Results without a panel get a generic one.

    :param registry: the panel registry, shared by all plugins; a panel name taken by an
        earlier plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.1
    """


@hookspec
def visionkit_register_decoders(registry: "DecoderRegistry") -> None:
    """Add decoders that turn a model family's raw outputs into a task's result.

    Call ``registry.add(DecoderSpec(name="yolox", summary=..., factory="pkg.mod:decode",
    task="detect"))``. A third-party model whose card says ``output: "yolox"`` is then run by
    the ``detect`` task and decoded by ``decode(outputs, inputs, card, options)``.

    :param registry: the decoder registry, shared by all plugins; a name taken by an earlier
        plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.1
    """
