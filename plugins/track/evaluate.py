"""``visionkit eval track``: HOTA, CLEAR MOT (MOTA, MOTP, ID switches, fragmentations) and
identity scores (IDF1), per sequence and combined, on MOTChallenge-layout ground truth.

Ground truth is a folder of sequences, ``GT/<seq>/gt/gt.txt`` or ``GT/<seq>/gt.txt`` (a
sequence folder, or one file, also works); predictions are ``PRED/<seq>.txt`` (what ``--save-as mot`` writes),
or ``PRED/<seq>/...txt``. With ``--data`` the pipeline runs over each sequence's video
(``<seq>/<seq>.mp4``, or the one video in the folder) and is scored the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from visionkit.data.mot import MotFrame, MotSequence, make_frame, read_mot
from visionkit.errors import InputError, UsageError
from visionkit.evaluators import Evaluator, Report
from visionkit.imageio import VIDEO_EXTENSIONS

from .metrics import MotMetrics, evaluate, iou_matrix

#: the numbers of the combined row the report leads with, in MOTChallenge's order
HEADLINE = {"HOTA": "hota", "DetA": "deta", "AssA": "assa", "LocA": "loca", "MOTA": "mota", "MOTP": "motp_iou",
            "IDF1": "idf1", "IDP": "idp", "IDR": "idr", "recall": "recall", "precision": "precision",
            "ID switches": "num_switches", "fragmentations": "num_fragmentations",
            "false positives": "num_false_positives", "misses": "num_misses", "objects": "num_unique_objects",
            "mostly tracked": "mostly_tracked", "partially tracked": "partially_tracked",
            "mostly lost": "mostly_lost"}
PER_SEQUENCE = {"HOTA": "hota", "MOTA": "mota", "IDF1": "idf1", "IDSW": "num_switches",
                "Frag": "num_fragmentations", "GT": "num_unique_objects"}


def ground_truth(gt: str | Path) -> dict[str, Path]:
    """Sequence name -> its gt.txt, for a folder of sequences, one sequence, or one file."""
    root = Path(gt)
    if root.is_file():
        name = root.parent.parent.name if root.parent.name == "gt" else root.stem
        return {name: root}
    if not root.is_dir():
        raise InputError(f"{gt}: no such file or folder")
    for inside in ("gt/gt.txt", "gt.txt"):
        if (root / inside).is_file():
            return {root.name: root / inside}
    found = {p.parent.parent.name: p for p in sorted(root.glob("*/gt/gt.txt"))}
    found = found or {p.parent.name: p for p in sorted(root.glob("*/gt.txt"))}
    if not found:
        raise InputError(f"{gt}: no MOTChallenge ground truth (<sequence>/gt/gt.txt) in it")
    return found


def _prediction(pred: Path, name: str) -> Path | None:
    if pred.is_file():
        return pred
    for candidate in (pred / f"{name}.txt", pred / name / f"{name}.txt", pred / name / "pred.txt"):
        if candidate.is_file():
            return candidate
    return None


def _sequence_folder(gt_file: Path) -> Path:
    return gt_file.parent.parent if gt_file.parent.name == "gt" else gt_file.parent


def _video(folder: Path) -> Path | None:
    named = [folder / f"{folder.name}{ext}" for ext in (".mp4", ".avi", ".mkv", ".mov")]
    videos = [p for p in named if p.is_file()] or sorted(
        p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    return videos[0] if videos else None


def read_truth(path: Path) -> MotSequence:
    """Ground truth with its ignored rows (conf 0: heavily occluded, distractor classes) kept
    apart, for :func:`without_distractors`."""
    return read_mot(path)  # read as a plain file: the conf column is kept, nothing is dropped


def without_distractors(truth: MotSequence, pred: MotSequence | dict[int, MotFrame], iou: float
                        ) -> tuple[dict[int, MotFrame], dict[int, MotFrame], int]:
    """The ground truth to score (rows with conf != 0) and the predictions left once those that
    cover an ignored box are removed, as the MOTChallenge devkit does: per frame, all truth and
    predictions are paired by maximum IoU (at least ``iou``), and a prediction paired with an
    ignored box is neither a hit nor a false positive. Returns them and how many were removed."""
    from scipy.optimize import linear_sum_assignment

    frames = getattr(pred, "frames", pred)
    gt_out, pred_out, removed = {}, {}, 0
    for f in sorted(set(truth.frames) | set(frames)):
        g, h = truth.frames.get(f), frames.get(f)
        ignored = g.conf == 0 if g is not None else np.zeros(0, bool)
        if g is not None and (~ignored).any():
            keep = ~ignored
            gt_out[f] = MotFrame(g.ids[keep], g.boxes[keep], g.conf[keep], g.cls[keep], g.vis[keep])
        if h is None:
            continue
        drop = np.zeros(len(h), bool)
        if ignored.any() and len(h):
            score = iou_matrix(g.boxes, h.boxes)
            rows, cols = linear_sum_assignment(-np.where(score >= iou - 1e-9, score, 0.0))
            hit = score[rows, cols] >= iou - 1e-9
            drop[cols[hit & ignored[rows]]] = True
        removed += int(drop.sum())
        pred_out[f] = MotFrame(h.ids[~drop], h.boxes[~drop], h.conf[~drop], h.cls[~drop], h.vis[~drop])
    return gt_out, pred_out, removed


class TrackEvaluator(Evaluator):
    """Tracks against MOTChallenge ground truth; boxes match at IoU >= ``iou`` (0.5, as
    py-motmetrics' and the MOTChallenge devkit's CLEAR and identity scores do; HOTA averages
    over its own thresholds 0.05..0.95)."""

    data_help: ClassVar[str] = "MOTChallenge sequences DIR/<seq>/gt/gt.txt with a video DIR/<seq>/<seq>.mp4 (track)"
    settings: ClassVar[Mapping[str, Any]] = {"iou": 0.5}
    table_titles: ClassVar[Mapping[str, str]] = {"per_sequence": "per sequence"}

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        self.check_settings(settings)
        for name, path in ground_truth(data).items():
            if _video(_sequence_folder(path)) is None:
                raise InputError(f"{_sequence_folder(path)}: sequence {name} has no video to run the tracker on")

    def score_files(self, gt: str | Path, dets: str | Path, settings: Mapping[str, Any]) -> Report:
        self.check_settings(settings)
        truth, pred, missing = ground_truth(gt), Path(dets), []
        if not pred.exists():
            raise InputError(f"{dets}: no such file or folder")
        pairs = {}
        for name, path in truth.items():
            found = _prediction(pred, name) if len(truth) > 1 or pred.is_dir() else pred
            if found is None:
                missing.append(name)
                continue
            pairs[name] = (read_truth(path), read_mot(found))
        if not pairs:
            raise InputError(f"{dets}: no predictions for any of the sequences {', '.join(truth)}")
        report = self._report(pairs, settings)
        report.notes += [f"no predictions for sequence {name} (not scored)" for name in missing]
        report.context = {"gt": str(gt), "pred": str(dets)}
        return report

    def check_settings(self, settings: Mapping[str, Any]) -> None:
        iou = settings["iou"]
        if not isinstance(iou, (int, float)) or isinstance(iou, bool) or not 0 < iou < 1:
            raise UsageError(f"iou must be a number between 0 and 1, not {iou!r}")

    def evaluate(self, data: Any, pipeline: Any, settings: Mapping[str, Any], progress: bool = True) -> Report:
        from visionkit.progress import Progress

        pairs, failures = {}, []
        truth = ground_truth(data)
        for name, path in truth.items():
            video = _video(_sequence_folder(path))
            frames: dict[int, MotFrame] = {}
            gt = read_truth(path)
            with Progress(max(gt.frames, default=0), f"eval track {name}", enabled=progress) as bar:
                for result in pipeline.stream(str(video)):
                    bar.update(1)
                    if result.error is not None or self.task not in result.results:
                        failures.append((f"{video}#{result.frame}", result.error or "no track result"))
                        continue
                    tracks = result.results[self.task]
                    xywh = tracks.boxes.astype(float).copy()
                    xywh[:, 2:] -= xywh[:, :2]
                    frames[result.frame + 1] = make_frame(tracks.ids, xywh, tracks.scores)
            pairs[name] = (gt, frames)
        report = self._report(pairs, settings)
        report.failures = failures
        report.context = {"data": str(data), **self.describe(pipeline)}
        return report

    def describe(self, pipeline: Any) -> dict[str, Any]:
        """The tracker has no model: the detector's is the one that decides the score."""
        models = pipeline.models()
        return {"models": ", ".join(f"{role}={m.path.name}" for role, m in models.items())} if models else {}

    def _report(self, pairs: Mapping[str, tuple[Any, Any]], settings: Mapping[str, Any]) -> Report:
        scored, removed = {}, 0
        for name, (truth, pred) in pairs.items():
            gt, kept, n = without_distractors(truth, pred, settings["iou"])
            scored[name], removed = (gt, kept), removed + n
        rows = evaluate(scored, threshold=settings["iou"])
        overall: MotMetrics = rows[-1]
        values = overall.to_dict()
        metrics: dict[str, Any] = {"task": "track", "metric": "HOTA, CLEAR MOT and identity scores",
                                   "sequences": len(scored)}
        metrics.update({label: values[key] for label, key in HEADLINE.items()})
        metrics["per_sequence"] = {r.name: {label: r.to_dict()[key] for label, key in PER_SEQUENCE.items()}
                                   for r in rows[:-1]}
        notes = []
        if removed:
            notes.append(f"{removed} predicted box(es) on ignored ground truth (conf 0: mostly hidden "
                         "objects) were left out, as the MOTChallenge devkit does")
        dropped = sum(getattr(side, "dropped", 0) for pair in pairs.values() for side in pair)
        if dropped:
            notes.append(f"{dropped} row(s) with a non-finite or negative-size box were left out")
        return Report(metrics, notes=notes)
