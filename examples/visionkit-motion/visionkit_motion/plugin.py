"""The hooks of visionkit-motion. visionkit imports this module when it discovers plugins,
so it only names the code (``"module:attribute"``); that is imported when a task runs."""

from visionkit.hookspecs import hookimpl
from visionkit.registry import PainterSpec, TaskSpec, WriterSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="motion",
        summary="what moves in a video, against a background learned as it plays",
        factory="visionkit_motion.motion:MotionTask",
    ))
    registry.add(TaskSpec(
        name="cartoon",
        summary="the picture redrawn with flat colours and inked edges",
        factory="visionkit_motion.cartoon:CartoonTask",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="motion",
        summary="motion heat map, boxes round the moving regions",
        factory="visionkit_motion.painter:draw_motion",
        result_kind="motion",
        layer=20,  # a heat map: under boxes, keypoints and labels of other tasks
    ))


@hookimpl
def visionkit_register_writers(registry):
    registry.add(WriterSpec(
        name="motion_csv",
        summary="one CSV row per frame: time, moving regions, moving share (DIR/motion.csv)",
        factory="visionkit_motion.writer:MotionCsvWriter",
        tasks=("motion",),
        default=True,
    ))
