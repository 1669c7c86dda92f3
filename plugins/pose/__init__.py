"""Pose: named keypoints per instance (a figure's joints) joined by a skeleton.

Layout: ``panel.py`` is the desktop app's keypoint list (Qt, imported only by the GUI). The
pose task itself (DeepPose-style regression on the shared backbone) registers here too when
it arrives; the result type, :class:`~visionkit.results.Keypoints`, and its painter are in core.
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import PanelSpec


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="keypoints",
        summary="instances and their keypoints; clicking an instance highlights its skeleton",
        factory="visionkit.plugins.pose.panel:KeypointsPanel",
        result_kind="keypoints",
    ))
