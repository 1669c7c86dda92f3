"""The run-time half of a task: how its head runs, and how raw outputs become a result.

A plugin subclasses :class:`Task` (numpy + onnxruntime only) and names it in its
:class:`~visionkit.registry.TaskSpec`. The pipeline owns everything shared: decoding the
frame, preprocessing (once per distinct input spec), and running the backbone once; a task
only runs its own head (:meth:`Task.forward`) and decodes (:meth:`Task.decode`). Both are
timed separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from .errors import ModelError, UsageError
from .preprocess import Transform
from .runtime import OnnxModel, feature_feeds


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


class Task:
    """Base class of every task's run-time half.

    ``default_options`` declares the options the task accepts (name -> default); the GUI
    changes them live through :meth:`set_options`, the CLI through flags like ``--topk``.
    """

    name: ClassVar[str] = ""
    default_options: ClassVar[Mapping[str, Any]] = {}
    #: allowed ranges of numeric options, ``{name: (low, high)}`` inclusive, ``None`` for open;
    #: an option whose default is an int must be a whole number
    option_limits: ClassVar[Mapping[str, tuple[float | None, float | None]]] = {}

    def __init__(self, model: OnnxModel, **options: Any) -> None:
        self.model = model
        self.card = model.card
        self.options: dict[str, Any] = {**self.default_options, **dict(self.card.options)}
        self.set_options(**options)
        self._input_name = model.inputs[0].name

    def set_options(self, **options: Any) -> None:
        unknown = set(options) - set(self.default_options)
        if unknown:
            known = ", ".join(sorted(self.default_options)) or "none"
            raise UsageError(f"task {self.name!r} has no option {sorted(unknown)[0]!r} (options: {known})")
        for key, (lo, hi) in self.option_limits.items():
            if key in options:
                _check_limit(key, options[key], lo, hi, whole=isinstance(self.default_options.get(key), int))
        self.options.update(options)

    def needs(self) -> tuple[str, ...]:
        """Tasks whose results this one reads from ``TaskInputs.results`` (e.g. pose reads
        detect's figures). The pipeline adds any that are missing, with their default models,
        and runs them first."""
        return ()

    def forward(self, inputs: TaskInputs) -> list[np.ndarray]:
        """Run this task's model: a head on the feature maps, or a standalone model on the image."""
        if self.card.is_head:
            return self.model.run(feature_feeds(self.model, inputs.features or {}))
        return self.model.run({self._input_name: inputs.tensor})

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Any:
        """Turn raw outputs into this task's result type."""
        raise NotImplementedError

    def load_decoder(self) -> Callable[..., Any]:
        """The decoder a plugin registered under the card's ``output`` name, for this task."""
        from .plugin_manager import get_plugins
        from .registry import load_object

        decoders = get_plugins().decoders
        name = self.card.output
        if name not in decoders or decoders.get(name).task != self.name:
            known = ", ".join(d.name for d in decoders.for_task(self.name)) or "none"
            raise ModelError(f"{self.model.path.name}: card output {name!r} names no {self.name} "
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

    def __init__(self, model: OnnxModel, **options: Any) -> None:
        super().__init__(model, **options)
        decoder = self.load_decoder()
        # a class is a decoder with state (a second graph, caches): made once per model
        self._decoder = decoder(model) if isinstance(decoder, type) else decoder
        # a decoder that runs graphs of its own (a two-stage detector) runs the model too
        self._forward = getattr(self._decoder, "forward", None)

    def forward(self, inputs: TaskInputs) -> list[np.ndarray]:
        return self._forward(inputs) if self._forward is not None else super().forward(inputs)

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Any:
        return self._decoder(outputs, inputs, self.card, self.options)

