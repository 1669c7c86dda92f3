"""Image classification: a pooled-feature head on the shared backbone, or any ImageNet-style
ONNX classifier with a card.

Layout: ``runtime.py`` decodes logits/probabilities (numpy only); ``painter.py`` draws the
top classes; ``evaluate.py`` measures top-1/top-5 on an ImageFolder; ``head.py`` and
``train.py`` are the torch half (imported only to train or export); ``panel.py`` is the
desktop app's side panel (Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import EvaluatorSpec, HeadSpec, PainterSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(
        TaskSpec(
            name="classify",
            summary="whole-image classes, top-k with scores",
            factory="visionkit.plugins.classify.runtime:ClassifyTask",
            default_model="asset:imagenet_classify.onnx",
        )
    )


@hookimpl
def visionkit_register_panels(registry):
    registry.add(
        PanelSpec(
            name="classification",
            summary="top-k classes as probability bars",
            factory="visionkit.plugins.classify.panel:ProbabilityPanel",
            result_kind="classification",
        )
    )


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="classification",
        summary="top classes on a dark panel, top-left",
        factory="visionkit.plugins.classify.painter:draw_classification",
        result_kind="classification",
        layer=90,
    ))


@hookimpl
def visionkit_register_heads(registry):
    registry.add(HeadSpec(
        name="classify",
        summary="whole-image classes from convolutions on c4 and c5, pooled",
        factory="visionkit.plugins.classify.train:ClassifySharedHead",
        task="classify",
    ))


@hookimpl
def visionkit_register_evaluators(registry):
    registry.add(EvaluatorSpec(
        name="classify",
        summary="top-1, top-5 and per-class accuracy on an ImageFolder",
        factory="visionkit.plugins.classify.evaluate:ClassifyEvaluator",
        task="classify",
    ))
