"""Style transfer: a picture in the style of another, from a network whose output is an image.

Layout: ``runtime.py`` runs a fast style network (any with a card whose output is ``image``:
the card says the output's channel order and scale) and turns its output back into a picture
of the frame's size, with the options that do not need a new network: strength (a blend with
the frame) and keeping the frame's colours (luminance-only transfer). ``painter.py`` and
``panel.py`` give the app its before/after split; ``nn/`` is the torch half: Gatys et al.'s
optimisation (``gatys.py``, ``visionkit style optimize``), the fast network (``transformer.py``)
and its training (``train.py``, ``visionkit train style``).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, PainterSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="style",
        summary="the picture in the style of a fast style network (its card's output: image)",
        factory="visionkit.plugins.style.runtime:StyleTask",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="image",
        summary="the output is a picture (channel order and scale as the input's, or as the card's config says)",
        factory="visionkit.plugins.style.runtime:ImageOutput",
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
