"""Pose: named keypoints per instance (a figure's joints) joined by a skeleton.

Layout: ``runtime.py`` is the task (figures from the detect result, joints from the head;
numpy + onnxruntime); ``rois.py`` the region a figure's joints are regressed in (shared with
training); ``head.py`` and ``train.py`` the torch half (DeepPose-style regression);
``landmarks.py`` is the landmarks task (other projects' face and hand models, through
decoders), ``palms.py`` and ``hands.py`` MediaPipe's palm detector and hand joints;
``painter.py`` draws the skeletons; ``evaluate.py`` is keypoint AP and PCK; ``panel.py`` the
desktop app's keypoint list (Qt, imported only by the GUI). The result type,
:class:`~visionkit.results.Keypoints`, is in core, so other tasks can read and draw it.
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import DecoderSpec, EvaluatorSpec, HeadSpec, PainterSpec, PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="pose",
        summary="figures' joints (DeepPose-style regression on the detected figures)",
        factory="visionkit.plugins.pose.runtime:PoseTask",
        default_model="asset:shapeworld_pose.onnx",
    ))
    registry.add(TaskSpec(
        name="landmarks",
        summary="named points on the faces or hands other projects' models find (e.g. YuNet, MediaPipe)",
        factory="visionkit.plugins.pose.landmarks:LandmarksTask",
    ))


@hookimpl
def visionkit_register_decoders(registry):
    registry.add(DecoderSpec(
        name="mediapipe_palm",
        summary="MediaPipe palm detector: anchor offsets to palm boxes",
        factory="visionkit.plugins.pose.palms:decode_palms",
        task="detect",
    ))
    registry.add(DecoderSpec(
        name="mediapipe_hand",
        summary="MediaPipe hands: 21 joints per palm crop (needs the palm detector as part 'palm')",
        factory="visionkit.plugins.pose.hands:HandLandmarks",
        task="landmarks",
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="keypoints",
        summary="instances and their keypoints; clicking an instance highlights its skeleton",
        factory="visionkit.plugins.pose.panel:KeypointsPanel",
        result_kind="keypoints",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="keypoints",
        summary="skeletons: bones as lines, joints as dots",
        factory="visionkit.plugins.pose.painter:draw_keypoints",
        result_kind="keypoints",
        layer=60,
    ))


@hookimpl
def visionkit_register_heads(registry):
    registry.add(HeadSpec(
        name="pose",
        summary="DeepPose-style joint regression in the figures' regions",
        factory="visionkit.plugins.pose.train:PoseSharedHead",
        task="pose",
    ))


@hookimpl
def visionkit_register_evaluators(registry):
    registry.add(EvaluatorSpec(
        name="pose",
        summary="COCO keypoint AP (OKS, pycocotools) and PCK@0.1 on a COCO set, or of a results file",
        factory="visionkit.plugins.pose.evaluate:PoseEvaluator",
        task="pose",
    ))
