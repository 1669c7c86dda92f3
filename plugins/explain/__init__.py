"""Understanding CNNs: occlusion, gradients, activations, synthesised pictures and adversarial
examples for the frame's classifier.

Layout: ``runtime.py`` is the task (options, one method per result); ``scorer.py`` runs the
classifier on many altered pictures through onnxruntime; ``occlusion.py`` and
``activations.py`` need nothing else; ``nn/`` is the torch half (the ``[train]`` extra):
gradients, synthesised pictures and adversarial examples, run on the models' own ONNX files;
``pictures.py`` maps between the network's input and the frame; ``painter.py`` draws the
result; ``panel.py`` is the desktop app's Explain panel (Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import PainterSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="explain",
        summary="what the classifier looked at: occlusion, Grad-CAM, saliency, adversarial examples ...",
        factory="visionkit.plugins.explain.runtime:ExplainTask",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="explanation",
        summary="a heat map over the frame, or the picture an explanation made, with its numbers",
        factory="visionkit.plugins.explain.painter:draw_explanation",
        result_kind="explanation",
        layer=20,
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="explanation",
        summary="method, class and epsilon pickers, and the explanation's numbers",
        factory="visionkit.plugins.explain.panel:ExplainPanel",
        result_kind="explanation",
    ))
