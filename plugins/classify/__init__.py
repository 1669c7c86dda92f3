"""Image classification: a pooled-feature head on the shared backbone, or any ImageNet-style
ONNX classifier with a card.

Layout: ``runtime.py`` decodes logits/probabilities (numpy only); ``head.py`` and
``train.py`` are the torch half (imported only to train or export); ``panel.py`` is the
desktop app's side panel (Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(
        TaskSpec(
            name="classify",
            summary="whole-image classes, top-k with scores",
            factory="visionkit.plugins.classify.runtime:ClassifyTask",
            default_model="asset:shapeworld_classify.onnx",
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
