"""Building a pipeline's tasks: each plugin's task class with its model, the one shared backbone
their heads were exported for, and the order their needs give.

A head's card names its backbone by name and hash; the first head loads it (beside the head,
or bundled, or the path given), every later head must name the same one. A task that needs
another (``track`` needs ``detect``) gets it built with its default model unless one is given.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping
from typing import Any

from .bundled import models_dir, resolve_model
from .errors import ModelError, PluginError, UsageError, VisionkitError, describe_failure
from .plugin_manager import require_task
from .registry import load_object
from .runtime import Device, OnnxModel, default_spinning, load_model
from .tasks import Task


class TaskAssembly:
    """What builds a pipeline's tasks, and the shared backbone once one is loaded.

    :param models: ``{task: model}`` for the tasks whose model is not their default.
    :param backbone: the backbone file, when it is neither beside a head nor bundled.
    :param precision: ``"int8"`` loads the backbone's int8 copy beside it.
    """

    def __init__(self, models: Mapping[str, str | Path], backbone: str | Path | None, device: Device,
                 threads: int | None, options: Mapping[str, Mapping[str, Any]], spinning: bool,
                 precision: str = "fp32") -> None:
        self.models, self.explicit_backbone = dict(models), backbone
        self.device, self.threads, self.options = device, threads, dict(options)
        self.spinning, self.precision = spinning, precision
        #: the shared backbone, once a head needed it
        self.backbone: OnnxModel | None = None

    def build(self, name: str, card: str | Path | None = None, asked: Mapping[str, Any] | None = None) -> Task:
        """The task ``name`` with its model (given, else its plugin's default); ``card`` describes
        a given model in place of its own; ``asked``: options another task asks of it
        (:meth:`Task.options_for`), under the user's own."""
        spec = require_task(name)
        cls = load_object(spec.factory)
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise PluginError(f"plugin {spec.plugin!r}: task {name!r} factory {spec.factory} "
                              "is not a visionkit.tasks.Task subclass")
        options = {k: v for k, v in (asked or {}).items() if k in cls.default_options}
        options.update(self.options.get(name, {}))
        ref = self.models.get(name) or spec.default_model
        if ref is None:
            if cls.requires_model:
                raise UsageError(f"task {name!r} has no default model; give one with --model")
            with default_spinning(self.spinning):
                return _construct(spec, cls, None, options)
        head = load_model(resolve_model(ref), device=self.device, threads=self.threads, card=card,
                          spinning=self.spinning)
        if head.card.task != name:
            raise ModelError(f"{head.path.name} is a {head.card.task!r} model, not {name!r}")
        if head.card.is_head:
            self._attach_backbone(head)
        with default_spinning(self.spinning):  # the sessions a task opens itself (its parts)
            return _construct(spec, cls, head, options)

    def arrange(self, asked: list[str], built: dict[str, Task]) -> tuple[list[str], dict[str, str]]:
        """The asked tasks ordered after what they need, building (into ``built``) a missing
        need; returns the order and, for each task added for another, the first that needed it.
        A built task nothing needs any more is not in the order."""
        order: list[str] = []
        added: dict[str, str] = {}

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if name in order:
                return
            if name in chain:
                raise UsageError(f"tasks need each other in a circle: {' -> '.join(chain + (name,))}")
            needed_by = chain[-1] if chain and name not in asked else None
            if name not in built:
                built[name] = self.build(name, asked=built[needed_by].options_for(name) if needed_by else None)
            if needed_by:
                added.setdefault(name, needed_by)
            for dep in built[name].needs():
                visit(dep, chain + (name,))
            order.append(name)

        for name in asked:
            visit(name, ())
        return order, added

    def _attach_backbone(self, head: OnnxModel) -> None:
        ref = head.card.backbone
        if self.backbone is None:
            explicit = self.explicit_backbone
            candidates = [Path(explicit)] if explicit else [head.path.with_name(f"{ref.name}.onnx"),
                                                           models_dir() / f"{ref.name}.onnx"]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                raise ModelError(
                    f"{head.path.name} needs backbone {ref.name!r}; put {ref.name}.onnx beside it "
                    "or pass --backbone PATH"
                )
            if self.precision == "int8":
                path = _int8_backbone(path)
            self.backbone = load_model(path, device=self.device, threads=self.threads, spinning=self.spinning)
            if self.backbone.card.task != "backbone":
                raise ModelError(f"{path.name} is a {self.backbone.card.task!r} model, not a backbone")
        have = self.backbone.card
        if have.hash != ref.hash:
            raise ModelError(
                f"{head.path.name} was exported for backbone {ref.name}@{ref.hash}, but the loaded "
                f"backbone is {have.name}@{have.hash}; re-export the head against this backbone"
            )


def _int8_backbone(path: Path) -> Path:
    """The int8 copy of a backbone file, beside it; a file named as the copy is taken as is."""
    from .quantize import INT8_SUFFIX, int8_path

    if path.stem.endswith(INT8_SUFFIX):
        return path
    int8 = int8_path(path)
    if not int8.is_file():
        raise ModelError(f"no int8 copy of {path.name} (looked for {int8}); make it with "
                         f"`visionkit models quantize {path}`")
    return int8


def _construct(spec: Any, cls: type, model: OnnxModel | None, options: Mapping[str, Any]) -> Task:
    """Build a plugin's task; its bugs (not our one-line errors) become a PluginError naming it."""
    try:
        return cls(model, **dict(options))
    except (VisionkitError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginError(f"plugin {spec.plugin!r}: task {spec.name!r} could not be built: "
                          f"{describe_failure(exc)}") from exc
