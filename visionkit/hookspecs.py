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
    from .registry import (DecoderRegistry, EvaluatorRegistry, HeadRegistry, PainterRegistry, PanelRegistry,
                           SourceRegistry, TaskRegistry, WriterRegistry)

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


@hookspec
def visionkit_register_painters(registry: "PainterRegistry") -> None:
    """Add the overlay painters of result kinds, each on a layer of the picture.

    Call ``registry.add(PainterSpec(name=..., summary=..., factory="pkg.mod:draw",
    result_kind="count", layer=50))``. ``draw(canvas, result, highlight=None)`` draws one
    result's pixels (boxes, masks, skeletons) in place on an RGB uint8 canvas the size of the
    original frame and returns its text as :class:`visionkit.overlays.Label` records (or
    nothing), which the renderer places so that no label covers another and draws at the
    picture's scale, or at screen resolution in the app; ``highlight`` is the index of an item
    the user picked in the GUI, or None. Painters run from the lowest
    ``layer`` up (built-ins: segmentation 10, heat maps 20, boxes 50, keypoints 60, tracks 70,
    text panels 90). A result whose ``base_image()`` returns an image (a stylised picture)
    replaces the frame under every overlay. ``vk.render``, ``--save`` and the GUI all draw
    through these painters.

    :param registry: the painter registry, shared by all plugins; one painter per result kind,
        a kind taken by an earlier plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.2
    """


@hookspec
def visionkit_register_writers(registry: "WriterRegistry") -> None:
    """Add output formats for ``predict --save DIR`` (``--save-as NAME``) and the Python API.

    Call ``registry.add(WriterSpec(name="mot", summary=..., factory="pkg.mod:MotWriter",
    tasks=("track",), default=False))``. The factory is a class built as ``Writer(out_dir)``
    with ``write(frame_result)``, ``close()`` and a ``written`` list of the paths it made.
    ``tasks`` names the tasks whose results it writes (empty: any); a writer marked
    ``default=True`` runs with ``--save`` whenever one of its tasks runs.

    :param registry: the writer registry, shared by all plugins; a name taken by an earlier
        plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.2
    """


@hookspec
def visionkit_register_evaluators(registry: "EvaluatorRegistry") -> None:
    """Add ``visionkit eval TASK``: how a task's model is measured on labelled data.

    Call ``registry.add(EvaluatorSpec(name="detect", summary=..., factory="pkg.eval:DetectEvaluator",
    task="detect"))``. The factory is a :class:`visionkit.evaluators.Evaluator` subclass:
    ``check(data, settings)`` validates the ground truth before a model loads,
    ``prepare(pipeline, settings)`` sets the pipeline up (the low score threshold AP needs),
    ``evaluate(data, pipeline, settings, progress)`` returns a
    :class:`visionkit.evaluators.Report`, and an evaluator that can score a results file
    against ground truth also overrides ``score_files(gt, dets, settings)``.

    :param registry: the evaluator registry, shared by all plugins; a task evaluated by an
        earlier plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.2
    """


@hookspec
def visionkit_register_heads(registry: "HeadRegistry") -> None:
    """Add the torch half of a head trained on the shared backbone.

    Call ``registry.add(HeadSpec(name="detect", summary=..., factory="pkg.train:DetectHeadRecipe",
    task="detect"))``. The factory names a :class:`visionkit.nn.heads.SharedHead` subclass
    (torch; imported only by ``visionkit train`` and ``visionkit export``): how to build the
    head on the backbone's channels, its loss, how to export it with its card and how to
    measure it. The joint training recipe iterates over every registered head.

    :param registry: the head registry, shared by all plugins; a name taken by an earlier
        plugin is refused and reported as this plugin's failure.

    .. versionadded:: 0.2
    """
