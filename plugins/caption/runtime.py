"""The caption task at run time: the encoder graph once per picture, the step graph once per word.

The model's card names the step graph as its ``step`` part and holds the vocabulary in
``config.vocab``; both are checked when the task is built (a step graph whose word scores do
not match the vocabulary's length was exported with another one). The encoder reads the
shared backbone's maps (c2 to c5, at the grid of c4); the word loop is :func:`.decode.beam_search`, in numpy.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from visionkit.errors import CardError, ModelError
from visionkit.results import Caption
from visionkit.runtime import feature_feeds
from visionkit.tasks import Task, TaskInputs

from .decode import beam_search
from .vocab import BOS, PAD, UNK, Vocabulary

ENCODER_OUTPUTS = ("memory", "keys", "state")
STEP_INPUTS = ("token", "state", "memory", "keys")
MAX_BEAM = 50


class CaptionTask(Task):
    name: ClassVar[str] = "caption"
    #: beam: captions kept open while searching (1: greedy); captions: how many to return;
    #: alpha: length penalty (0: by probability alone); max_words: longest caption
    default_options: ClassVar[Mapping[str, Any]] = {"beam": 3, "captions": 3, "alpha": 0.0, "max_words": 24}
    option_limits: ClassVar[Mapping[str, tuple]] = {"beam": (1, MAX_BEAM), "captions": (1, MAX_BEAM),
                                                    "alpha": (0.0, 5.0), "max_words": (1, 200)}
    required_parts: ClassVar[tuple[str, ...]] = ("step",)

    def __init__(self, model, **options: Any) -> None:
        super().__init__(model, **options)
        if not self.card.is_head:
            raise ModelError(f"{model.path.name}: a caption model is an encoder head on the shared backbone "
                             "with a 'step' part (visionkit train caption makes one)")
        words = self.config.get("vocab")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise CardError(f"{model.path.name}: its card has no vocabulary (config.vocab, a list of words)")
        self.vocab = Vocabulary(words)
        self.step = self.parts["step"]
        names = [o for o in model.outputs]
        if tuple(names[:3]) != ENCODER_OUTPUTS:
            raise ModelError(f"{model.path.name}: an encoder gives {', '.join(ENCODER_OUTPUTS)}, not {', '.join(names)}")
        inputs = [i.name for i in self.step.inputs]
        if tuple(inputs) != STEP_INPUTS:
            raise ModelError(f"{self.step.path.name}: a step graph takes {', '.join(STEP_INPUTS)}, not {', '.join(inputs)}")
        scores = self.step.session.get_outputs()[0].shape[-1]
        if isinstance(scores, int) and scores != len(self.vocab):
            raise ModelError(f"{self.step.path.name} scores {scores} words but the card's vocabulary has "
                             f"{len(self.vocab)}: the two were exported apart; export them together")
        self._banned = tuple(self.vocab.index[w] for w in (PAD, BOS, UNK))

    def _searched(self) -> tuple[int, int]:
        """Beam width and captions returned, within what the vocabulary allows (said once)."""
        usable = len(self.vocab) - len(self._banned)
        beam = min(self.options["beam"], usable)
        if beam < self.options["beam"]:
            self.note(f"beam {self.options['beam']} is more than the {usable} words it can choose from; using {beam}")
        n = min(self.options["captions"], beam)
        if n < self.options["captions"]:
            self.note(f"a beam of {beam} finds at most {beam} captions; returning {n}")
        return beam, n

    def _step(self, token, state, memory, keys):
        return self.step.run({"token": token, "state": state, "memory": memory, "keys": keys})

    def forward(self, inputs: TaskInputs) -> list[Any]:
        feats = inputs.features or {}
        memory, keys, state = self.model.run(feature_feeds(self.model, feats))[:3]
        beam, n = self._searched()
        hyps = beam_search(self._step, memory, keys, state, bos=self.vocab.bos, eos=self.vocab.eos,
                           banned=self._banned, width=beam, max_words=self.options["max_words"],
                           alpha=self.options["alpha"], n_best=n)
        grid = self._grid(feats)
        return [hyps, grid]

    def _grid(self, feats) -> tuple[int, int]:
        """The attention grid: the cells of the map the encoder works at (c4's)."""
        name = "c4" if "c4" in feats else self.model.inputs[0].name
        return tuple(int(v) for v in feats[name].shape[2:])

    def decode(self, outputs: list[Any], inputs: TaskInputs) -> Caption:
        hyps, (gh, gw) = outputs
        words = tuple(tuple(self.vocab.decode(h.ids)) for h in hyps)
        h, w = inputs.input_size
        region = tuple(float(v) for v in inputs.transform.to_image(np.array([0, 0, w, h], np.float32)))
        attention = tuple(np.asarray(hyp.attention, np.float32).reshape(-1, gh, gw) for hyp in hyps)
        return Caption(tuple(" ".join(ws) for ws in words),
                       np.exp(np.array([hyp.logprob for hyp in hyps], np.float64)).astype(np.float32),
                       words, attention, region)
