"""Semantic segmentation: a class per pixel.

Layout: ``runtime.py`` is the task; ``decoders.py`` maps per-pixel classes back onto the
original image (the FCN head's label map, DeepLabV3's NHWC logits); ``painter.py`` draws the
translucent classes; ``writers.py`` saves label maps; ``evaluate.py`` is mIoU; ``head.py``
and ``train.py`` are the torch half of the FCN head; ``panel.py`` is the desktop app's
class-area table (Qt, imported only by the GUI).
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, EvaluatorSpec, HeadSpec, PainterSpec, PanelSpec, TaskSpec, WriterSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="segment",
        summary="a class for every pixel (FCN head; third-party models through decoders, e.g. DeepLabV3)",
        factory="visionkit.plugins.segment.runtime:SegmentTask",
        default_model="asset:shapeworld_segment.onnx",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="deeplab",
        summary="per-pixel class scores (NHWC or NCHW, any resolution), argmax, mapped to the image",
        factory="visionkit.plugins.segment.decoders:decode_class_scores",
        task="segment",
    ))
    registry.add(DecoderSpec(
        name="fcn",
        summary="class ids per input pixel (the FCN head on the shared backbone), mapped to the image",
        factory="visionkit.plugins.segment.decoders:decode_label_map",
        task="segment",
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="segmentation",
        summary="classes present with their colours and areas",
        factory="visionkit.plugins.segment.panel:SegmentationPanel",
        result_kind="segmentation",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="segmentation",
        summary="translucent class colours and a legend",
        factory="visionkit.plugins.segment.painter:draw_segmentation",
        result_kind="segmentation",
        layer=10,
    ))


@hookimpl
def visionkit_register_writers(registry):
    registry.add(WriterSpec(
        name="masks",
        summary="each still's label map as DIR/<stem>_mask.png (uint8 class ids, 0 = background)",
        factory="visionkit.plugins.segment.writers:MaskWriter",
        tasks=("segment",),
        default=True,
    ))


@hookimpl
def visionkit_register_heads(registry):
    registry.add(HeadSpec(
        name="segment",
        summary="FCN with Panoptic-FPN branches: a class per pixel",
        factory="visionkit.plugins.segment.train:SegmentSharedHead",
        task="segment",
    ))


@hookimpl
def visionkit_register_evaluators(registry):
    registry.add(EvaluatorSpec(
        name="segment",
        summary="per-class IoU, mIoU and pixel accuracy on a COCO set (label maps or masks)",
        factory="visionkit.plugins.segment.evaluate:SegmentEvaluator",
        task="segment",
    ))
