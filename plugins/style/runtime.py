"""Style transfer at run time: the ``style`` task and the fixed-style networks' decoder.

Two kinds of network paint the picture. A fast style network (Johnson, Alahi & Fei-Fei 2016)
knows one style and maps a picture to it; its card's output is ``image`` (:class:`ImageOutput`).
Many are exported with a fixed input size: the frame is resized to it (as its card says) and the
output resized back. The output's channel order and scale are the input's unless the card's
``config`` says otherwise:

``output_channel_order``  ``"rgb"`` or ``"bgr"``
``output_scale``          what one grey level is in the output: 1 for 0-255 outputs, ``1/255``
                          for 0-1 ones; values outside 0-255 are clamped

The arbitrary-style network (the default model; card output ``adain``, :mod:`.arbitrary`) takes
any style picture at run time. The ``style`` option names what to paint with: a picture file or
a built-in painting (``mosaic``, ``strokes:7``; :mod:`.paintings`) for the arbitrary-style
network, or another style network's ``.onnx`` file, which then runs instead of the task's model
(empty: the model's own style). ``strength``, ``keep_colours`` and ``size`` are described in
:mod:`.picture`.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Mapping

import numpy as np

from visionkit.errors import ModelError, UsageError
from visionkit.preprocess import preprocess
from visionkit.runtime import load_model
from visionkit.tasks import DecoderTask, TaskInputs

from .arbitrary import AdainOutput, style_value
from .picture import MAX_OUTPUT_SIDE, finish_picture, network_picture

#: a picture this many times the network's input side loses detail when squeezed into it
LARGE_FACTOR = 3


class StyleTask(DecoderTask):
    name: ClassVar[str] = "style"
    default_options: ClassVar[Mapping[str, Any]] = {"style": "", "strength": 1.0, "keep_colours": False, "size": 0}
    option_limits: ClassVar[Mapping[str, tuple]] = {"strength": (0.0, 1.0), "size": (0, MAX_OUTPUT_SIDE)}

    def __init__(self, model, **options: Any) -> None:
        #: style networks named by the ``style`` option: path -> (model, decoder)
        self._named: dict[str, tuple[Any, Any]] = {}
        super().__init__(model, **options)
        if model is not None and model.card.is_head and model.card.output != "adain":
            raise ModelError(f"{model.path.name} reads the backbone's maps, so its card's output must be adain "
                             f"(an AdaIN decoder), not {model.card.output!r}")
        self._wire(self._decoder)
        #: (model, decoder) that paints the style option, chosen when the option is set
        self._active = self._choose()  # a style that cannot be painted is refused now, not at the first frame

    def _wire(self, decoder) -> None:
        decoder.note = self.note

    def set_options(self, **options: Any) -> None:
        before = dict(getattr(self, "options", {}))
        super().set_options(**options)
        if "style" in options and hasattr(self, "_active"):
            try:
                self._active = self._choose()
            except Exception:  # any refusal, then raised as it came
                self.options = before  # a style that cannot be painted leaves the one in force
                raise

    def _choose(self) -> tuple[Any, Any]:
        """(model, decoder) that paints the ``style`` option, its picture read or its network
        loaded; one line for a style that cannot be painted."""
        value = str(self.options["style"])
        if value.lower().endswith(".onnx"):
            if value not in self._named:
                self._named[value] = self._load(value)
            return self._named[value]
        if not isinstance(self._decoder, AdainOutput):
            if value:
                raise UsageError(f"{self.model_name_of(self.model)} paints one style; a style picture needs the "
                                 "arbitrary-style network (the style task's default model)")
        else:
            self._decoder.prepare(style_value(self.options))
        return self.model, self._decoder

    def _load(self, path: str) -> tuple[Any, Any]:
        if not os.path.isfile(path):
            raise UsageError(f"style model {path}: no such file")
        model = load_model(path, device=self.model.device if self.model else "auto",
                           threads=self.model.threads if self.model else None)
        if model.card.task != "style":
            raise ModelError(f"{model.path.name} is not a style network (its card's task is {model.card.task!r})")
        decoder = self.decoder_for(model)
        self._wire(decoder)
        return model, decoder

    @staticmethod
    def model_name_of(model) -> str:
        return model.path.name if model is not None else "this task"

    @property
    def model_name(self) -> str:
        return self.model_name_of(self._active[0])

    def forward(self, inputs: TaskInputs) -> list[np.ndarray]:
        model, decoder = self._active
        if isinstance(decoder, AdainOutput):
            return decoder.run(inputs, self.options)
        if model is self.model:
            return super().forward(inputs)
        tensor, _ = preprocess(inputs.image, model.card.input)
        return model.run({model.inputs[0].name: tensor})

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Any:
        model, decoder = self._active
        return decoder(outputs, inputs, model.card, self.options)


class ImageOutput:
    """The ``image`` decoder: a network's output picture, back at the frame's size."""

    def __init__(self, model) -> None:
        card = model.card
        self.name = model.path.name
        self.style = card.name or model.path.stem
        self.size = tuple(card.input.size) if card.input is not None else (0, 0)
        self.note = lambda text: None
        order = str(card.config.get("output_channel_order", card.input.channel_order)).lower()
        if order not in ("rgb", "bgr"):
            raise ModelError(f"{self.name}: card config output_channel_order is rgb or bgr, not {order!r}")
        self.bgr = order == "bgr"
        try:
            self.scale = float(card.config.get("output_scale", card.input.scale))
        except (TypeError, ValueError):
            raise ModelError(f"{self.name}: card config output_scale must be a number") from None
        if not self.scale > 0:
            raise ModelError(f"{self.name}: card config output_scale must be positive")

    def __call__(self, outputs: list[np.ndarray], inputs: TaskInputs, card, options: Mapping[str, Any]):
        picture = network_picture(outputs[0], self.name, bgr=self.bgr, scale=self.scale)
        h, w = inputs.image.shape[:2]
        net_h, net_w = self.size if self.size != (0, 0) else picture.shape[:2]
        if max(h, w) > LARGE_FACTOR * max(net_h, net_w):
            self.note(f"{w}x{h} pictures are styled at the network's {net_w}x{net_h} and enlarged: fine detail "
                      f"is lost (pass a smaller picture, or set style.size)")
        return finish_picture(picture, inputs, options, style=self.style, network_size=(net_h, net_w))
