"""Object detection: boxes, scores and classes.

Layout: ``runtime.py`` is the task (options, decoder lookup); ``decoders.py`` turns model
families' raw outputs into :class:`~visionkit.results.Detections` (YOLOX today; the two-stage
head on the shared backbone joins it); ``panel.py`` is the desktop app's detection table
(Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="detect",
        summary="objects as labelled boxes (third-party models through decoders, e.g. YOLOX)",
        factory="visionkit.plugins.detect.runtime:DetectTask",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="yolox",
        summary="YOLOX: grid/stride decode of (cx, cy, w, h, objectness, classes) rows",
        factory="visionkit.plugins.detect.decoders:decode_yolox",
        task="detect",
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="detections",
        summary="table of detections; clicking a row highlights its box",
        factory="visionkit.plugins.detect.panel:DetectionsPanel",
        result_kind="detections",
    ))
