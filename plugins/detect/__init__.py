"""Object detection: boxes, scores and classes.

Layout: ``runtime.py`` is the task (options, decoder lookup); ``rcnn.py`` runs the two-stage
head on the shared backbone (numpy between its two graphs); ``decoders.py`` turns other
families' raw outputs (YOLOX) into :class:`~visionkit.results.Detections`; ``head.py`` and
``train.py`` are the torch half of the two-stage head; ``panel.py`` is the desktop app's
detection table (Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="detect",
        summary="objects as labelled boxes (two-stage R-CNN head; third-party models through decoders, e.g. YOLOX)",
        factory="visionkit.plugins.detect.runtime:DetectTask",
        default_model="asset:shapeworld_detect.onnx",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="yolox",
        summary="YOLOX: grid/stride decode of (cx, cy, w, h, objectness, classes) rows",
        factory="visionkit.plugins.detect.decoders:decode_yolox",
        task="detect",
    ))
    registry.add(DecoderSpec(
        name="rcnn",
        summary="two-stage: proposals from anchors, NMS, RoIAlign box head (needs <name>_boxes.onnx beside it)",
        factory="visionkit.plugins.detect.rcnn:RCNNDecoder",
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
