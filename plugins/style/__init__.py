"""Style transfer: a picture in the style of another, from a network whose output is an image.

Layout: ``runtime.py`` is the task, which runs the network the ``style`` option picks, and the
decoder of fast style networks (a card whose output is ``image``); ``arbitrary.py`` runs the
arbitrary-style network (AdaIN: any style picture, a decoder on the shared backbone's maps);
``picture.py`` turns a network's output into a picture of the frame's size with the options
that need no network (strength, keeping the frame's colours, size); ``paintings.py`` draws
style pictures from a seed. ``painter.py`` and ``panel.py`` give the app its before/after split
and style pickers. ``nn/`` is the torch half: Gatys et al.'s optimisation (``gatys.py``,
``visionkit style optimize``), the fast network (``transformer.py``, ``train.py``, ``visionkit
train style``), the AdaIN decoder (``adain.py``, ``train_adain.py``, ``visionkit train adain``)
and where training pictures come from (``pictures.py``).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, PainterSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="style",
        summary="the picture in the style of any style picture (AdaIN), or of a fast style network",
        factory="visionkit.plugins.style.runtime:StyleTask",
        default_model="asset:style_adain.onnx",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="image",
        summary="the output is a picture (channel order and scale as the input's, or as the card's config says)",
        factory="visionkit.plugins.style.runtime:ImageOutput",
        task="style",
    ))
    registry.add(DecoderSpec(
        name="adain",
        summary="a decoder on the backbone's maps renormalised to a style picture's statistics (AdaIN)",
        factory="visionkit.plugins.style.arbitrary:AdainOutput",
        task="style",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="styled_image",
        summary="a before/after split over a styled picture, where the app asks for one",
        factory="visionkit.plugins.style.painter:draw_styled",
        result_kind="styled_image",
        layer=5,
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="styled_image",
        summary="what styled the picture, and a before/after split",
        factory="visionkit.plugins.style.panel:StylePanel",
        result_kind="styled_image",
    ))
