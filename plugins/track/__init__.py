"""Multi-object tracking: boxes that keep one id per object across the frames of a stream.

Layout: ``runtime.py`` is the task (the frame's detections in, :class:`~visionkit.results.Tracks`
out); ``tracker.py`` is ByteTrack's two-pass association over ``kalman.py``'s batched
constant-velocity filter, with ``association.py``'s IoU and assignment; ``cmc.py`` follows
camera pans by sparse optical flow; ``painter.py`` draws ids and fading trails; ``writers.py``
writes MOTChallenge results (``--save-as mot``); ``metrics.py`` scores tracks against ground
truth (CLEAR MOT as py-motmetrics computes it, IDF1, HOTA) and ``evaluate.py`` is
``visionkit eval track``. MOTChallenge files are read and written by core
(:mod:`visionkit.data.mot`), as COCO files are.
"""

from visionkit.hookspecs import hookimpl
from visionkit.registry import EvaluatorSpec, PainterSpec, PanelSpec, TaskSpec, WriterSpec


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(
        name="track",
        summary="objects followed across video frames with ids (ByteTrack on any detector's boxes)",
        factory="visionkit.plugins.track.runtime:TrackTask",
    ))


@hookimpl
def visionkit_register_painters(registry):
    registry.add(PainterSpec(
        name="tracks",
        summary="a box per track in its id's colour, with a fading trail of where it went",
        factory="visionkit.plugins.track.painter:draw_tracks",
        result_kind="tracks",
        layer=70,
    ))


@hookimpl
def visionkit_register_panels(registry):
    registry.add(PanelSpec(
        name="tracks",
        summary="table of tracks by id (age, box); clicking a row highlights the track and shows its path",
        factory="visionkit.plugins.track.panel:TracksPanel",
        result_kind="tracks",
    ))


@hookimpl
def visionkit_register_writers(registry):
    registry.add(WriterSpec(
        name="mot",
        summary="MOTChallenge results, one DIR/<source name>.txt per video (frame,id,x,y,w,h,score)",
        factory="visionkit.plugins.track.writers:MotWriter",
        tasks=("track",),
        default=True,
    ))


@hookimpl
def visionkit_register_evaluators(registry):
    registry.add(EvaluatorSpec(
        name="track",
        summary="HOTA, MOTA, IDF1, ID switches and fragmentations, per sequence and combined",
        factory="visionkit.plugins.track.evaluate:TrackEvaluator",
        task="track",
    ))
