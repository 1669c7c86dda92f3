"""Image captioning: a sentence about the picture, from an attention decoder on the shared backbone.

Layout: ``runtime.py`` is the task (the encoder graph on the backbone's maps, then the step graph word by
word; :class:`~visionkit.results.Caption` out); ``decode.py`` is the word loop (greedy and beam
search, in numpy); ``vocab.py`` the vocabulary the card holds; ``painter.py`` draws the caption
along the bottom and, for a picked word, where it looked; ``panel.py`` is the desktop app's list
of captions with clickable words (Qt, imported only by the GUI); ``metrics.py`` is BLEU and
CIDEr-D and ``evaluate.py`` ``visionkit eval caption``; ``head.py`` and ``train.py`` are the
torch half (the Show, Attend and Tell decoder and ``visionkit train caption``). The decoder
trains on its own recipe (captions, not boxes), not in ``visionkit train heads``.
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import EvaluatorSpec, PainterSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="caption",
        summary="a sentence about the whole picture (attention GRU decoder, beam search); "
                "the bundled one speaks of ShapeWorld shapes only",
        factory="visionkit.plugins.caption.runtime:CaptionTask",
        default_model="asset:shapeworld_caption.onnx",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="caption",
        summary="the best caption along the bottom; a picked word's attention as a heat map",
        factory="visionkit.plugins.caption.painter:draw_caption",
        result_kind="caption",
        layer=5,
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="captions",
        summary="the captions with their scores; click a word to see where it looked",
        factory="visionkit.plugins.caption.panel:CaptionPanel",
        result_kind="caption",
    ))


@hookimpl
def visionkit_register_evaluators(registry):
    registry.add(EvaluatorSpec(
        name="caption",
        summary="BLEU-1..4, CIDEr-D, exact matches and ShapeWorld counts/colours on a COCO captions set",
        factory="visionkit.plugins.caption.evaluate:CaptionEvaluator",
        task="caption",
    ))
