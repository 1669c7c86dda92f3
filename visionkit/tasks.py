"""The run-time half of a task: how its head runs, and how raw outputs become a result.

A plugin subclasses :class:`Task` (numpy + onnxruntime only) and names it in its
:class:`~visionkit.registry.TaskSpec`. The pipeline owns everything shared: decoding the
frame, preprocessing (once per distinct input spec), and running the backbone once; a task
only runs its own head (:meth:`Task.forward`) and decodes (:meth:`Task.decode`). Both are
timed separately.

A task has zero, one or several graphs: ``model`` is its main one (``None`` for a task that
only reads other tasks' results, such as a tracker), and ``parts`` are the others its card
names (a detector's box head, a captioner's decoder step), loaded and backbone-checked by
core. A task may keep state across the frames of one source: the pipeline calls
:meth:`Task.reset` when a new source starts (and the desktop app on every seek) and
:meth:`Task.finish` when one ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

import numpy as np

from .errors import CardError, ModelError, UsageError
from .parts import load_parts
from .preprocess import Transform
from .runtime import OnnxModel, feature_feeds

if TYPE_CHECKING:
    from .context import TaskContext


@dataclass(frozen=True)
class FrameInfo:
    """Which frame this is: the identity a stateful task keys its state on."""

    source: str  # the path, ``"webcam:0"`` or ``"array"``
    index: int  # frame number within the source (0 for a still)
    timestamp_ms: float | None = None  # position in a video, or time since a camera opened
    fps: float | None = None  # the source's frame rate, when it has one


@dataclass(frozen=True)
class TaskInputs:
    """What one frame offers a task."""

    image: np.ndarray  # the original RGB uint8 frame
    features: Mapping[str, np.ndarray] | None  # backbone feature maps, for heads
    tensor: np.ndarray | None  # the preprocessed input, for a standalone model
    transform: Transform  # network-input pixels -> image pixels
    input_size: tuple[int, int] = (0, 0)  # (height, width) of the network input
    #: results of the tasks this one needs (see :meth:`Task.needs`), by task name
    results: Mapping[str, Any] = field(default_factory=dict)
    frame: FrameInfo = FrameInfo("array", 0)
    #: the shared backbone and the other tasks as callables (tasks that run them many times)
    context: "TaskContext | None" = None


class Task:
    """Base class of every task's run-time half.

    ``default_options`` declares the options users may set (name -> default): the CLI's
    ``--option TASK.KEY=VALUE``, ``Pipeline(options=...)`` and the GUI's editors all go
    through :meth:`set_options`, which checks them against ``option_limits`` and
    ``option_choices``. What the card fixes (``card.config``) is in :attr:`config`.
    """

    name: ClassVar[str] = ""
    default_options: ClassVar[Mapping[str, Any]] = {}
    #: allowed ranges of numeric options, ``{name: (low, high)}`` inclusive, ``None`` for open;
    #: an option whose default is an int must be a whole number
    option_limits: ClassVar[Mapping[str, tuple[float | None, float | None]]] = {}
    #: allowed values of options that take one of a few, ``{name: ("a", "b")}``
    option_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = {}
    #: False for a task with no graph of its own (it reads other tasks' results)
    requires_model: ClassVar[bool] = True
    #: graphs besides the main one that the card must name in ``parts``
    required_parts: ClassVar[tuple[str, ...]] = ()
    #: True when results depend on earlier frames; the pipeline then never runs the task twice
    #: on one frame (the GUI's redraw after an option change gets the result it has)
    stateful: ClassVar[bool] = False
    #: True when this task's overlay already shows what the tasks it needs found (a tracker's
    #: boxes are its detector's): a picture then leaves their overlays out unless they were asked for
    draws_needs: ClassVar[bool] = False

    def __init__(self, model: OnnxModel | None = None, **options: Any) -> None:
        if model is None and self.requires_model:
            raise UsageError(f"task {self.name!r} needs a model; give one with --model")
        self.model = model
        self.card = model.card if model is not None else None
        card_options = dict(self.card.options) if self.card is not None else {}
        # a card may carry keys that are not options of this task (an older card's fixed
        # settings): they are configuration, never something a user sets
        self.config: dict[str, Any] = {k: v for k, v in card_options.items() if k not in self.default_options}
        self.config.update(dict(self.card.config) if self.card is not None else {})
        self.options: dict[str, Any] = dict(self.default_options)
        for key, value in card_options.items():
            if key in self.default_options:  # a card's defaults meet the limits users' values do
                try:
                    self.options[key] = self._checked(key, value)
                except UsageError as exc:
                    raise CardError(f"{model.path.name}: card option {exc}") from None
        self.set_options(**options)
        #: the card's other graphs by role, loaded and checked against the main model's backbone
        self.parts: dict[str, OnnxModel] = load_parts(model, self.required_parts) if model is not None else {}
        self._input_name = model.inputs[0].name if model is not None else ""
        #: lines for the user, each said once: what this task cannot do with what it was given
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        """Tell the user something once (the CLI prints it at the end, the app shows it)."""
        line = f"{self.name}: {text}" if self.name else text
        if line not in self.notes:
            self.notes.append(line)

    def set_options(self, **options: Any) -> None:
        unknown = set(options) - set(self.default_options)
        if unknown:
            known = ", ".join(sorted(self.default_options)) or "none"
            raise UsageError(f"task {self.name!r} has no option {sorted(unknown)[0]!r} (options: {known})")
        checked = {key: self._checked(key, value) for key, value in options.items()}
        self.options.update(checked)

    def _checked(self, key: str, value: Any) -> Any:
        default = self.default_options[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise UsageError(f"{self.name}.{key} is true or false, not {value!r}")
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(default, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a style named "1" or a file called 3
        if key in self.option_limits:
            lo, hi = self.option_limits[key]
            _check_limit(f"{self.name}.{key}" if self.name else key, value, lo, hi,
                         whole=isinstance(default, int) and not isinstance(default, bool))
        if key in self.option_choices and value not in self.option_choices[key]:
            allowed = ", ".join(map(str, self.option_choices[key]))
            raise UsageError(f"{self.name}.{key} must be one of {allowed}, not {value!r}")
        return value

    def needs(self) -> tuple[str, ...]:
        """Tasks whose results this one reads from ``TaskInputs.results`` (e.g. pose reads
        detect's figures). The pipeline adds any that are missing, with their default models,
        and runs them first."""
        return ()

    def options_for(self, need: str) -> Mapping[str, Any]:
        """Options this task asks of ``need`` (one of :meth:`needs`) when the pipeline adds that
        task for it. The user's own options for it win, and a task the user asked for keeps its
        defaults: a tracker wants every box its detector finds, someone who asked for detect wants
        detect's threshold. Keys the need does not have are left out."""
        return {}

    def reset(self) -> None:
        """Forget what earlier frames left: called when a new source starts and on a seek."""

    def finish(self) -> None:
        """The source has ended (flush buffers, close files); :meth:`reset` follows before
        the next source's first frame."""

    def forward(self, inputs: TaskInputs) -> list[np.ndarray]:
        """Run this task's model: a head on the feature maps, or a standalone model on the
        image. A task without a model overrides this (or returns nothing and decodes from
        ``inputs`` alone)."""
        if self.model is None:
            return []
        if self.card.is_head:
            return self.model.run(feature_feeds(self.model, inputs.features or {}))
        return self.model.run({self._input_name: inputs.tensor})

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Any:
        """Turn raw outputs into this task's result (see :class:`visionkit.results.Result`)."""
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        """The main model's file name, or ``""`` for a task without one."""
        return self.model.path.name if self.model is not None else ""

    def load_decoder(self, model: OnnxModel | None = None) -> Callable[..., Any]:
        """The decoder a plugin registered under the card's ``output`` name, for this task
        (of ``model``'s card: another model the task runs; default its own)."""
        from .plugin_manager import get_plugins
        from .registry import load_object

        model = model or self.model
        decoders = get_plugins().decoders
        name = model.card.output
        if name not in decoders or decoders.get(name).task != self.name:
            known = ", ".join(d.name for d in decoders.for_task(self.name)) or "none"
            raise ModelError(f"{model.path.name}: card output {name!r} names no {self.name} "
                             f"decoder (installed: {known})")
        return load_object(decoders.get(name).factory)


def _check_limit(key: str, value: Any, lo: float | None, hi: float | None, whole: bool) -> None:
    number = isinstance(value, int) if whole else isinstance(value, (int, float))
    outside = number and ((lo is not None and value < lo) or (hi is not None and value > hi))
    if isinstance(value, bool) or not number or outside:
        if whole and lo == 1 and hi is None:
            raise UsageError(f"{key} must be a positive whole number, not {value!r}")
        raise UsageError(f"{key} must be between {lo} and {hi}, not {value!r}")


class DecoderTask(Task):
    """A task whose model outputs are read by the decoder its card names in ``output``.

    Decoders come from plugins (``visionkit_register_decoders``), so one task serves every model
    family that has one: YOLOX and a head on the shared backbone alike. A card naming no
    decoder of this task is refused when the task is built, with the installed ones listed.
    """

    def __init__(self, model: OnnxModel | None = None, **options: Any) -> None:
        super().__init__(model, **options)
        self._decoder = self.decoder_for(model)
        # a decoder that runs graphs of its own (a two-stage detector) runs the model too
        self._forward = getattr(self._decoder, "forward", None)

    def decoder_for(self, model: OnnxModel) -> Callable[..., Any]:
        """The decoder of ``model``'s card, ready to call: a class is a decoder with state (a
        second graph, caches), made here once for the model."""
        decoder = self.load_decoder(model)
        return decoder(model) if isinstance(decoder, type) else decoder

    def forward(self, inputs: TaskInputs) -> list[np.ndarray]:
        return self._forward(inputs) if self._forward is not None else super().forward(inputs)

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Any:
        return self._decoder(outputs, inputs, self.card, self.options)
