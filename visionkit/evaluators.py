"""Evaluators: how a task's model is measured on labelled data (``visionkit eval TASK``,
``vk.evaluate``). This is the contract a plugin implements to give its task an evaluation.

A plugin registers an :class:`Evaluator` subclass by name, imported only when it is used::

    @hookimpl
    def visionkit_register_evaluators(registry):
        registry.add(EvaluatorSpec(name="count", summary="counting error per image",
                                   factory="mypackage.evaluate:CountEvaluator", task="count"))

Core finds the evaluator by the name users type and runs it in four steps, each of which the
subclass may override:

1. :meth:`Evaluator.resolve` merges the caller's settings over the class's ``settings``
   (an unknown key is a one-line usage error);
2. :meth:`Evaluator.check` validates the ground truth and the settings before any model loads;
3. :meth:`Evaluator.prepare` sets the pipeline up for evaluating (the low score threshold AP
   needs); task options the caller gives are applied after it, so theirs win;
4. :meth:`Evaluator.evaluate` runs the pipeline over the data and returns a :class:`Report`.

An evaluator that can score a results file against ground truth (``--gt/--dets``) also
overrides :meth:`Evaluator.score_files`. COCO tasks get all of this from
:class:`visionkit.coco_evaluator.CocoEvaluator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

from .errors import PluginError, UsageError, VisionkitError, describe_failure


@dataclass
class Report:
    """What an evaluation found, JSON-ready.

    :param metrics: the numbers: ``task`` and ``metric`` (what is measured, one line) first,
        ``images`` (how many inputs were scored), then scalars, then tables (a dict value,
        e.g. ``per_class``: name -> number, None where there was nothing to score).
    :param failures: ``(file, one-line error)`` for each input that could not be read or run;
        these are left out of the metrics.
    :param notes: one-line remarks on what the numbers mean here (classes left out, ...).
    :param context: what ran on what (data, model, thresholds); shown after task and metric.
    """

    metrics: dict[str, Any]
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """One flat dict: task, metric, the context, the metrics, notes and failures."""
        out = {k: self.metrics[k] for k in ("task", "metric") if k in self.metrics}
        out.update(self.context)
        out.update(self.metrics)
        out["notes"] = list(self.notes)
        out["failed"] = len(self.failures)
        if self.failures:
            out["failures"] = [{"file": f, "error": e} for f, e in self.failures]
        return out


class Evaluator:
    """Measures one task's model; subclass it and register it with ``visionkit_register_evaluators``.

    Instances are made per evaluation with no arguments; ``name`` and ``task`` are then set from
    the :class:`~visionkit.registry.EvaluatorSpec` it was registered with.
    """

    #: the task whose model is measured (set from the spec; a subclass may name it too)
    task: str = ""
    #: what users type: ``visionkit eval NAME`` (set from the spec)
    name: str = ""
    #: the plugin that registered it (set from the spec), named when it fails
    plugin: str = ""
    #: what ``--data`` is for this evaluator, for help texts, e.g. "an ImageFolder DIR/<class>/<image>"
    data_help: ClassVar[str] = "labelled data"
    #: the settings it takes and their defaults (``--set KEY=VALUE``, ``vk.evaluate(settings=)``)
    settings: ClassVar[Mapping[str, Any]] = {}
    #: headings of the report's tables in the printed report, e.g. {"per_class": "per class (IoU)"}
    table_titles: ClassVar[Mapping[str, str]] = {}

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The settings to use: ``given`` over the defaults; an unknown key is a usage error."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.settings))
        if unknown:
            known = ", ".join(sorted(self.settings)) or "none"
            who = self.name or self.task
            raise UsageError(f"evaluator {who!r} has no setting {unknown[0]!r} (settings: {known})")
        return {**self.settings, **given}

    def tasks(self, settings: Mapping[str, Any]) -> list[str]:
        """The pipeline tasks to build when the caller gives no pipeline (their needs are added
        by the pipeline itself)."""
        return [self.task]

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        """Raise a one-line error for ground truth or settings that cannot be scored, before
        any model is loaded. ``data`` is what ``--data`` names."""

    def prepare(self, pipeline: Any, settings: Mapping[str, Any]) -> None:
        """Set options on the pipeline for evaluating (runs before the caller's task options)."""

    def evaluate(self, data: Any, pipeline: Any, settings: Mapping[str, Any], progress: bool = True) -> Report:
        """Run ``pipeline`` over ``data`` and score this task's results. Inputs that fail are
        listed in the report's ``failures`` and left out; the rest still count."""
        raise NotImplementedError(f"{type(self).__name__} does not implement evaluate()")

    def score_files(self, gt: str | Path, dets: str | Path, settings: Mapping[str, Any]) -> Report:
        """Score a results file ``dets`` against the ground truth ``gt`` (``--gt/--dets``)."""
        raise UsageError(f"evaluator {self.name or self.task!r} cannot score a results file against ground "
                         "truth; give --data to run a model")

    def describe(self, pipeline: Any) -> dict[str, Any]:
        """The models that ran, for a report's context: this task's file name, and every
        role's when there are several (a backbone, a detector pose needs)."""
        models = pipeline.models()
        out: dict[str, Any] = {"model": models[self.task].path.name}
        if len(models) > 1:
            out["models"] = ", ".join(f"{role}={m.path.name}" for role, m in models.items())
        return out


def evaluator_names() -> list[str]:
    """The names ``visionkit eval`` takes: every registered evaluator's."""
    from .plugin_manager import get_plugins

    return [spec.name for spec in get_plugins().evaluators]


def evaluator_for(name: str) -> Evaluator:
    """A fresh evaluator registered as ``name``; a one-line usage error naming those that exist."""
    from .plugin_manager import get_plugins
    from .registry import load_object

    plugins = get_plugins()
    if name not in plugins.evaluators:
        known = ", ".join(spec.name for spec in plugins.evaluators) or "none"
        broken = [f"{i.name} ({i.error})" for i in plugins.failures]
        hint = f"; plugins that failed to load: {', '.join(broken)}" if broken else ""
        raise UsageError(f"no evaluator for task {name!r} (tasks with one: {known}){hint}")
    spec = plugins.evaluators.get(name)
    cls = load_object(spec.factory)
    if not (isinstance(cls, type) and issubclass(cls, Evaluator)):
        raise PluginError(f"plugin {spec.plugin!r}: evaluator {name!r} ({spec.factory}) "
                          "is not an Evaluator subclass")
    evaluator = _call(spec, "__init__", cls)
    evaluator.name, evaluator.task = spec.name, spec.task
    evaluator.plugin = spec.plugin
    return evaluator


def _call(spec_or_evaluator: Any, method: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """An evaluator's method; a plugin's bug there (even sys.exit()) is one line naming it."""
    try:
        return fn(*args, **kwargs)
    except (VisionkitError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        who = spec_or_evaluator
        raise PluginError(f"evaluator {who.name!r} of plugin {who.plugin!r}: {method}() raised "
                          f"{describe_failure(exc)}") from exc


def evaluate(task: str, data: Any, pipeline: Any = None, *,
             models: str | Path | Mapping[str, str | Path] | None = None, backbone: str | Path | None = None,
             device: str = "auto", settings: Mapping[str, Any] | None = None,
             options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True) -> Report:
    """Measure ``task``'s model on labelled ``data``::

        report = vk.evaluate("detect", "held-detect", settings={"score": 0.01})
        report.metrics["AP"]

    :param task: an evaluator's name (``visionkit eval`` lists them), usually the task's.
    :param data: the labelled data, as the evaluator's ``data_help`` says.
    :param pipeline: a built :class:`~visionkit.pipeline.Pipeline` to evaluate; without it one
        is built from ``models`` (a path for the task, or ``{task: path}``; defaults otherwise),
        ``backbone`` and ``device``.
    :param settings: the evaluator's settings (its ``settings`` lists them with defaults).
    :param options: task options ``{task: {key: value}}``, set after the evaluator's own.
    """
    evaluator = evaluator_for(task)
    chosen = _call(evaluator, "resolve", evaluator.resolve, settings)
    _call(evaluator, "check", evaluator.check, data, chosen)
    if pipeline is None:
        from .pipeline import Pipeline

        if isinstance(models, (str, Path)):
            models = {evaluator.task: models}
        models = dict(models or {})
        # a model for another task (pose's detector) is the one that task runs with when the
        # evaluated task needs it; a task the evaluated one does not need is refused in one line
        names = list(_call(evaluator, "tasks", evaluator.tasks, chosen))
        pipeline = Pipeline(names, models=models or None, backbone=backbone, device=device)
    _call(evaluator, "prepare", evaluator.prepare, pipeline, chosen)
    for name, values in (options or {}).items():
        if name not in pipeline.tasks:
            running = ", ".join(pipeline.tasks) or "none"
            raise UsageError(f"option for task {name!r}, which is not running (running: {running})")
        pipeline.set_options(name, **dict(values))
    return _call(evaluator, "evaluate", evaluator.evaluate, data, pipeline, chosen, progress=progress)


def score_files(task: str, gt: str | Path, dets: str | Path,
                settings: Mapping[str, Any] | None = None) -> Report:
    """Score a results file against ground truth with ``task``'s evaluator (``--gt/--dets``)."""
    evaluator = evaluator_for(task)
    chosen = _call(evaluator, "resolve", evaluator.resolve, settings)
    return _call(evaluator, "score_files", evaluator.score_files, gt, dets, chosen)
