"""Registries that plugins fill through the hooks in :mod:`visionkit.hookspecs`.

Entries are small frozen records naming their code by ``"module:attribute"``; nothing heavy is
imported until :func:`load_object` is called on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Generic, Iterator, TypeVar

from .errors import PluginError, describe_failure


@dataclass(frozen=True)
class TaskSpec:
    """A task a plugin provides."""

    name: str  # what users type: --task NAME
    summary: str  # one line for `visionkit tasks`
    factory: str  # "module:Class", a visionkit.tasks.Task subclass
    default_model: str | None = None  # path, or "asset:NAME.onnx" for a bundled model
    plugin: str = ""  # filled in by the registry: who registered it


@dataclass(frozen=True)
class SourceSpec:
    """An opener for a kind of input (a URL scheme, a device, ...)."""

    name: str
    summary: str
    opener: str  # "module:function", called as function(spec, **options) -> Source
    prefixes: tuple[str, ...] = ()
    plugin: str = ""


@dataclass(frozen=True)
class PanelSpec:
    """A side panel of the desktop app that shows one kind of result in detail.

    Core never imports the factory: it names a Qt widget class that only the GUI imports.
    """

    name: str
    summary: str
    factory: str  # "module:QtWidgetClass", built as Class(parent) by the GUI
    result_kind: str = ""  # the ``kind`` ClassVar of the result type it shows, e.g. "classification"
    plugin: str = ""


@dataclass(frozen=True)
class DecoderSpec:
    """Turns one model family's raw outputs into a task's result type.

    A model's card names its decoder in ``output`` (e.g. ``"yolox"``); the task looks the
    name up here. The factory is called as ``fn(outputs, inputs, card, options)`` with the
    model's raw outputs, the frame's :class:`~visionkit.tasks.TaskInputs`, the card and the
    task's live options, and returns the task's result. A factory naming a class is a
    decoder with state: it is instantiated once per model as ``cls(model)``, then called as
    above; if it has ``forward(inputs) -> outputs`` that replaces the plain model run (a
    two-stage detector runs its second graph there).
    """

    name: str
    summary: str
    factory: str  # "module:function"
    task: str  # the task whose result it returns, e.g. "detect"
    plugin: str = ""


@dataclass(frozen=True)
class PainterSpec:
    """Draws one kind of result on the picture, on a layer (lowest first).

    The factory is called as ``draw(canvas, result, highlight=None)`` and draws in place.
    """

    name: str
    summary: str
    factory: str  # "module:function"
    result_kind: str  # the ``kind`` ClassVar of the result type it draws
    layer: int = 50  # segmentation 10, heat maps 20, boxes 50, keypoints 60, tracks 70, text 90
    plugin: str = ""


@dataclass(frozen=True)
class WriterSpec:
    """An output format of ``--save``: a class built as ``Writer(out_dir)`` with
    ``write(frame_result)``, ``close()`` and ``written`` (the paths it made)."""

    name: str  # what users type: --save-as NAME
    summary: str
    factory: str  # "module:Class"
    tasks: tuple[str, ...] = ()  # tasks whose results it writes; () for any
    default: bool = False  # written by --save whenever one of its tasks runs
    #: gathers every input of a run in one file (a COCO results file): ``visionkit batch``,
    #: whose workers write each input on its own, cannot run it
    whole_run: bool = False
    plugin: str = ""


@dataclass(frozen=True)
class EvaluatorSpec:
    """``visionkit eval TASK``: a :class:`visionkit.evaluators.Evaluator` subclass."""

    name: str  # what users type: visionkit eval NAME (usually the task's name)
    summary: str
    factory: str  # "module:Class"
    task: str  # the task whose model it measures
    plugin: str = ""


@dataclass(frozen=True)
class HeadSpec:
    """The torch half of a head on the shared backbone: a ``visionkit.nn.heads.SharedHead``
    subclass, imported only to train or export."""

    name: str  # the head's role in the shared model and the exported file's suffix
    summary: str
    factory: str  # "module:Class"
    task: str  # the run-time task whose model the exported head is
    plugin: str = ""


E = TypeVar("E", TaskSpec, SourceSpec, PanelSpec, DecoderSpec, PainterSpec, WriterSpec, EvaluatorSpec, HeadSpec)


class _Registry(Generic[E]):
    kind = "entry"

    def __init__(self) -> None:
        self._entries: dict[str, E] = {}
        self._plugin = ""

    def _bind(self, plugin: str) -> None:
        """Entries added from now on are credited to ``plugin`` (set by the plugin manager)."""
        self._plugin = plugin

    def add(self, entry: E) -> None:
        if not entry.name or not isinstance(entry.name, str):
            raise PluginError(f"a {self.kind} needs a non-empty name")
        taken = self._entries.get(entry.name)
        if taken is not None:
            raise PluginError(
                f"{self.kind} {entry.name!r} is already registered by plugin {taken.plugin!r}"
            )
        self._entries[entry.name] = type(entry)(**{**entry.__dict__, "plugin": self._plugin})

    def _drop(self, plugin: str) -> None:
        self._entries = {k: e for k, e in self._entries.items() if e.plugin != plugin}

    def get(self, name: str) -> E:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise PluginError(f"no plugin provides {self.kind} {name!r} (installed: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(e.name for e in self._entries.values() if e.plugin == plugin)


class TaskRegistry(_Registry[TaskSpec]):
    kind = "task"


class SourceRegistry(_Registry[SourceSpec]):
    kind = "source"

    def match(self, spec: str) -> SourceSpec | None:
        """The entry whose prefix the spec starts with (the longest prefix wins)."""
        best: tuple[int, SourceSpec] | None = None
        for entry in self._entries.values():
            for prefix in entry.prefixes:
                if spec.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), entry)
        return None if best is None else best[1]


class PanelRegistry(_Registry[PanelSpec]):
    kind = "panel"

    def for_kind(self, result_kind: str) -> PanelSpec | None:
        """The panel for a result kind (the first by name when several plugins offer one)."""
        return next((e for e in self if e.result_kind == result_kind), None)


class DecoderRegistry(_Registry[DecoderSpec]):
    kind = "decoder"

    def for_task(self, task: str) -> list[DecoderSpec]:
        return [d for d in self if d.task == task]


class PainterRegistry(_Registry[PainterSpec]):
    kind = "painter"

    def add(self, entry: PainterSpec) -> None:
        taken = self.for_kind(entry.result_kind)
        if taken is not None:
            raise PluginError(f"result kind {entry.result_kind!r} is already painted by plugin {taken.plugin!r}")
        super().add(entry)

    def for_kind(self, result_kind: str) -> PainterSpec | None:
        return next((e for e in self._entries.values() if e.result_kind == result_kind), None)


class WriterRegistry(_Registry[WriterSpec]):
    kind = "writer"

    def defaults_for(self, tasks: list[str]) -> list[WriterSpec]:
        """The writers ``--save`` uses without ``--save-as``: defaults whose tasks run."""
        return [w for w in self if w.default and (not w.tasks or set(w.tasks) & set(tasks))]


class EvaluatorRegistry(_Registry[EvaluatorSpec]):
    kind = "evaluator"


class HeadRegistry(_Registry[HeadSpec]):
    kind = "head"


def load_object(reference: str) -> Any:
    """Import ``"package.module:attribute"``; a failure becomes a one-line PluginError."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise PluginError(f"{reference!r} is not of the form 'module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a plugin's import may fail in any way, sys.exit() too
        raise PluginError(f"cannot import {module_name} ({describe_failure(exc)})") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PluginError(f"{module_name} has no attribute {attr!r}") from None
