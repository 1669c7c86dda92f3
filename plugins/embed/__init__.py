"""Embed: re-identification vectors, one per detected object, for trackers and search.

Layout: ``runtime.py`` is the task (the detector's boxes in, :class:`~.results.Embeddings`
out; numpy + onnxruntime), either a head on the shared backbone's maps or a third-party re-ID
model on crops (``crops.py``, the ``crops`` decoder); ``results.py`` the result type;
``painter.py`` a colour swatch per box; ``evaluate.py`` retrieval rank-1 / mAP across frames
and a tracker's IDF1 with and without the vectors; ``head.py`` and ``train.py`` the torch half
(RoIAlign head, batch-hard triplet loss on ShapeWorld sequences, ``visionkit train embed``).
The head trains on its own recipe (identities across the frames of a sequence), not in
``visionkit train heads``, so it registers no HeadSpec.
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, PainterSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="embed",
        summary="re-identification vectors of the detected objects (a RoIAlign head, or a re-ID model on crops)",
        factory="visionkit.plugins.embed.runtime:EmbedTask",
        default_model="asset:shapeworld_embed.onnx",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="crops",
        summary="a third-party re-ID model run on each detected box's crop (e.g. OpenVINO person re-ID)",
        factory="visionkit.plugins.embed.crops:CropEmbedder",
        task="embed",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="embeddings",
        summary="a swatch per embedded box, coloured by its vector (alike colours: alike to the model)",
        factory="visionkit.plugins.embed.painter:draw_embeddings",
        result_kind="embeddings",
        layer=55,
    ))
