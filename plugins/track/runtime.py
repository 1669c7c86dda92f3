"""The track task at run time: the frame's detections in, tracks with ids out.

It has no graph of its own: the detect task (any detector: the bundled head, YOLOX through
its card) runs first because :meth:`TrackTask.needs` says so, and :class:`ByteTracker` links
its boxes across frames. Time is the source's (timestamps, or frame numbers over its frame
rate), so a lost track waits the same seconds at 10 fps as at 60.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from visionkit.errors import ModelError
from visionkit.results import Detections, Tracks
from visionkit.tasks import Task, TaskInputs

from .tracker import ByteTracker, TrackerConfig


class TrackTask(Task):
    name: ClassVar[str] = "track"
    requires_model: ClassVar[bool] = False
    stateful: ClassVar[bool] = True
    draws_needs: ClassVar[bool] = True  # its boxes are the detector's, with ids
    #: high: detections sure enough to match first and to keep a track (ByteTrack's first
    #: pass); low: the least score the second pass still uses; new_track: the least score that
    #: starts a track; min_hits: frames in a row before a track gets an id; buffer_s: how long a
    #: lost track waits for its object; fps: the frame rate of a source that has none (a folder
    #: of frames), 0 to take the source's; camera_motion: follow camera pans by optical flow;
    #: class_aware: a box never continues a track of another class; classes: the detector's
    #: class names to track, comma-separated ("" for all); reid: also compare how objects look,
    #: with the embed task's vectors (a track lost behind something is found again by its looks)
    default_options: ClassVar[Mapping[str, Any]] = {
        "high": 0.5, "low": 0.1, "new_track": 0.6, "min_hits": 3, "buffer_s": 1.0, "fps": 0.0,
        "camera_motion": False, "class_aware": False, "classes": "", "reid": False,
    }
    option_limits: ClassVar[Mapping[str, tuple]] = {
        "high": (0.0, 1.0), "low": (0.0, 1.0), "new_track": (0.0, 1.0), "min_hits": (1, 100),
        "buffer_s": (0.0, 3600.0), "fps": (0.0, 1000.0),
    }

    def __init__(self, model: Any = None, **options: Any) -> None:
        super().__init__(model, **options)
        self._labels: dict[int, str] = {}
        self._tracker: ByteTracker | None = None
        self._camera = None
        self._checked_detector = self._checked_classes = False

    def set_options(self, **options: Any) -> None:
        super().set_options(**options)
        tracker = getattr(self, "_tracker", None)
        if tracker is not None:  # new thresholds for the tracks it holds: ids go on, never reused
            tracker.config = self._config()

    def needs(self) -> tuple[str, ...]:
        return ("detect", "embed") if self.options["reid"] else ("detect",)

    def options_for(self, need: str) -> Mapping[str, Any]:
        """A detector brought in for tracking keeps its boxes down to ``low``: ByteTrack's second
        pass is for the weak boxes of partly hidden objects, which detect's own threshold drops."""
        return {"score": self.options["low"]} if need == "detect" else {}

    def reset(self) -> None:
        """A new source: its ids start at 1 again (ids name objects within one source)."""
        if self._tracker is not None:
            self._tracker.reset()
        if self._camera is not None:
            self._camera.reset()
        self._labels.clear()

    def _config(self) -> TrackerConfig:
        o = self.options
        return TrackerConfig(
            high_thresh=o["high"], low_thresh=min(o["low"], o["high"]), new_track_thresh=max(o["new_track"], o["high"]),
            min_hits=o["min_hits"], track_buffer_s=o["buffer_s"], class_aware=o["class_aware"],
        )

    def _check_detector(self, inputs: TaskInputs) -> None:
        """A detector that drops boxes below track.low leaves ByteTrack's second pass idle: say so once."""
        if self._checked_detector or inputs.context is None:
            return
        self._checked_detector = True
        threshold = inputs.context.task("detect").options.get("score")
        if isinstance(threshold, (int, float)) and threshold > self.options["low"]:
            self.note(f"detect.score {threshold:g} hides the low-score boxes the second matching pass "
                      f"uses (track.low {self.options['low']:g}); -o detect.score={self.options['low']:g} "
                      "lets occluded objects keep their tracks (new tracks still need track.new_track)")

    def _vectors(self, inputs: TaskInputs, n: int) -> np.ndarray | None:
        """(n, D) appearance vectors beside the detections (zero rows: not embedded), or None.
        Read by the result's documented fields (``kind`` "embeddings": ``vectors`` and the
        detection ``indices`` they belong to), so any plugin's embedder fits."""
        if not self.options["reid"]:
            return None
        emb = inputs.results.get("embed")
        if getattr(type(emb), "kind", None) != "embeddings":
            raise ModelError("track.reid needs the embed task's vectors")
        vectors = np.asarray(emb.vectors, np.float32)
        out = np.zeros((n, vectors.shape[1] if vectors.ndim == 2 else 0), np.float32)
        out[np.asarray(emb.indices, np.int64)] = vectors
        return out

    def _check_classes(self, inputs: TaskInputs, wanted: set[str]) -> None:
        """Names the detector does not have would track nothing, silently: say which."""
        if self._checked_classes or inputs.context is None:
            return
        self._checked_classes = True
        card = inputs.context.task("detect").card
        known = set(card.labels) if card is not None and card.labels else set()
        unknown = sorted(wanted - known) if known else []
        if unknown:
            self.note(f"the detector has no class {', '.join(map(repr, unknown))}: nothing of it is tracked")

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Tracks:
        dets = inputs.results.get("detect")
        if not isinstance(dets, Detections):
            raise ModelError("track needs the detect task's boxes")
        self._check_detector(inputs)
        if self._tracker is None:
            self._tracker = ByteTracker(self._config())
        if self.options["camera_motion"]:
            if self._camera is None:
                from .cmc import CameraMotion

                self._camera = CameraMotion()
            self._tracker.apply_affine(self._camera.estimate(inputs.image))
        classes = np.asarray(dets.class_ids, np.int64).reshape(-1)
        boxes, scores = np.asarray(dets.boxes, np.float64).reshape(-1, 4), np.asarray(dets.scores).reshape(-1)
        vectors = self._vectors(inputs, len(boxes))
        wanted = {c.strip() for c in self.options["classes"].split(",") if c.strip()}
        if wanted:
            keep = np.array([label in wanted for label in dets.labels], bool).reshape(-1)
            self._check_classes(inputs, wanted)
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
            vectors = vectors[keep] if vectors is not None else None
        for cid, label in zip(np.asarray(dets.class_ids).reshape(-1).tolist(), dets.labels):
            self._labels.setdefault(int(cid), label)
        frame = inputs.frame
        fps = self.options["fps"] or frame.fps
        timestamp = frame.timestamp_ms / 1000.0 if frame.timestamp_ms is not None and not self.options["fps"] else None
        if timestamp is None and fps:
            timestamp = frame.index / fps  # a folder of frames: its numbering is its clock
        out = self._tracker.update(boxes, scores, classes, vectors, timestamp_s=timestamp, fps=fps)
        if out.info.get("dropped"):
            self.note(f"{out.info['dropped']} detection(s) with a non-finite or empty box were left out")
        if out.info.get("fps_fallback"):
            self.note(f"the source gives no frame rate: {self._tracker.config.default_fps:g} fps is assumed "
                      "for how long lost tracks wait (-o track.fps=N sets it)")
        labels = tuple(self._labels.get(int(c), str(int(c))) for c in out.classes)
        return Tracks(np.asarray(out.ids, np.int64), np.asarray(out.boxes, np.float32),
                      np.asarray(out.scores, np.float32), np.asarray(out.classes, np.int64), labels,
                      np.asarray(out.ages, np.int64), np.asarray(out.trails, np.float32))
