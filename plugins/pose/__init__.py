"""Pose: named keypoints per instance (a figure's joints) joined by a skeleton.

Layout: ``runtime.py`` is the task (figures from the detect result, joints from the head;
numpy + onnxruntime); ``rois.py`` the region a figure's joints are regressed in (shared with
training); ``head.py`` and ``train.py`` the torch half (DeepPose-style regression);
``panel.py`` the desktop app's keypoint list (Qt, imported only by the GUI). The result type,
:class:`~visionkit.results.Keypoints`, and its painter are in core.
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import PanelSpec, TaskSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="pose",
        summary="figures' joints (DeepPose-style regression on the detected figures)",
        factory="visionkit.plugins.pose.runtime:PoseTask",
        default_model="asset:shapeworld_pose.onnx",
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="keypoints",
        summary="instances and their keypoints; clicking an instance highlights its skeleton",
        factory="visionkit.plugins.pose.panel:KeypointsPanel",
        result_kind="keypoints",
    ))
