"""Object detection: boxes, scores and classes.

Layout: ``runtime.py`` is the task (options, decoder lookup); ``rcnn.py`` runs the two-stage
head on the shared backbone (numpy between its two graphs); ``decoders.py`` turns other
grid families' raw outputs (YOLOX, NanoDet) into :class:`~visionkit.results.Detections`;
``decoders_faces.py`` reads face detectors (UltraFace; YuNet, with landmarks); ``painter.py``
draws the boxes; ``writers.py`` writes a COCO results file; ``evaluate.py`` is COCO box AP;
``head.py`` and ``train.py`` are the torch half of the two-stage head; ``panel.py`` is the
desktop app's detection table (Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, EvaluatorSpec, HeadSpec, PainterSpec, PanelSpec, TaskSpec, WriterSpec


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
        name="nanodet",
        summary="NanoDet: per-cell class scores and distributions of the box sides' distances (GFL)",
        factory="visionkit.plugins.detect.decoders:decode_nanodet",
        task="detect",
    ))
    registry.add(DecoderSpec(
        name="ultraface",
        summary="UltraFace: per-prior class probabilities and normalised corner boxes (faces)",
        factory="visionkit.plugins.detect.decoders_faces:decode_ultraface",
        task="detect",
    ))
    registry.add(DecoderSpec(
        name="yunet",
        summary="YuNet faces as boxes (2023 anchor-free or prior-box models)",
        factory="visionkit.plugins.detect.decoders_faces:decode_yunet",
        task="detect",
    ))
    registry.add(DecoderSpec(
        name="yunet_landmarks",
        summary="YuNet faces with their five landmarks (eyes, nose tip, mouth corners)",
        factory="visionkit.plugins.detect.decoders_faces:decode_yunet_landmarks",
        task="landmarks",
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


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="detections",
        summary="a labelled box per object in its class colour",
        factory="visionkit.plugins.detect.painter:draw_detections",
        result_kind="detections",
        layer=50,
    ))


@hookimpl
def visionkit_register_heads(registry):
    registry.add(HeadSpec(
        name="detect",
        summary="two-stage R-CNN: proposals on p3, RoIAlign box head on p2",
        factory="visionkit.plugins.detect.train:DetectSharedHead",
        task="detect",
    ))


@hookimpl
def visionkit_register_evaluators(registry):
    registry.add(EvaluatorSpec(
        name="detect",
        summary="COCO box AP/AR and per-class AP (pycocotools) on a COCO set, or of a results file",
        factory="visionkit.plugins.detect.evaluate:DetectEvaluator",
        task="detect",
    ))


@hookimpl
def visionkit_register_writers(registry):
    registry.add(WriterSpec(
        name="coco",
        summary="the detections of every image as one COCO results file, DIR/detections.json",
        factory="visionkit.plugins.detect.writers:CocoWriter",
        tasks=("detect",),
        default=False,
        whole_run=True,
    ))
