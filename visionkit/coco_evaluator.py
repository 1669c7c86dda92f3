"""The evaluator of tasks scored on a COCO dataset, and running a model over one.

:class:`CocoEvaluator` is what the detect, segment and pose plugins subclass: it runs the
pipeline over the dataset's images (:func:`run_pipeline`), hands the predictions to the
subclass's ``measure`` (one of :mod:`visionkit.evaluation`'s pure scoring functions), and scores
results files against ground truth through pycocotools. :func:`evaluate_pipeline` reaches the
registered evaluator by task name for the training recipes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from .data.coco import CocoDataset
from .errors import InputError, UsageError
from .evaluation import _clean, as_dataset, subset
from .evaluators import Evaluator, Report, evaluate, evaluator_for
from .metrics import _load_json as load_json
from .metrics import coco_ap


# ------------------------------------------------------------------ running a model


def run_pipeline(dataset: CocoDataset, pipeline: Any, task: str, *,
                 progress: bool = True) -> tuple[dict[int, Any], list[tuple[str, str]]]:
    """Run ``pipeline`` over the dataset's images: ({image id: the task's result},
    [(file, error)] for images that could not be read or run; the rest still run)."""
    from .progress import Progress

    paths = [str(dataset.image_path(im)) for im in dataset.images]
    predictions: dict[int, Any] = {}
    failures: list[tuple[str, str]] = []
    with Progress(len(paths), f"eval {task}", enabled=progress) as bar:
        # one result per still image, in order: a file that cannot be opened comes as an error
        for image, path, result in zip(dataset.images, paths, pipeline.stream(paths)):
            if result.error is not None or task not in result.results:
                failures.append((path, result.error or f"{path}: no {task} result"))
            else:
                predictions[image["id"]] = result.results[task]
            bar.update(1)
    return predictions, failures


#: lowest score kept while evaluating: AP needs the low-scoring tail of the precision-recall curve
EVAL_SCORE = 0.05


def evaluate_pipeline(dataset: CocoDataset, pipeline: Any, task: str, *, score: float | None = EVAL_SCORE,
                      sigmas: Sequence[float] | None = None, progress: bool = True) -> tuple[dict, list]:
    """Run ``pipeline`` over ``dataset`` and score ``task`` with the evaluator registered for it:
    the path the training recipes take (``visionkit eval`` takes it through
    :func:`visionkit.evaluators.evaluate`). Every task of the pipeline that keeps a ``score``
    threshold runs at ``score`` (None: as set). Returns (metrics with their ``notes``,
    failures); failed images are listed and left out of the metrics."""
    takes = evaluator_for(task).settings
    given = {"score": score, "sigmas": None if sigmas is None else list(sigmas)}
    report = evaluate(task, dataset, pipeline, settings={k: v for k, v in given.items() if k in takes},
                      progress=progress)
    return {**report.metrics, "notes": report.notes}, report.failures


# ------------------------------------------------------------------ the evaluator of COCO tasks


class CocoEvaluator(Evaluator):
    """An evaluator for a task scored on a COCO dataset: runs the pipeline over the dataset's
    images, hands the predictions to :meth:`measure`, and scores results files through
    pycocotools with ``iou_type``. A subclass sets ``iou_type`` and implements :meth:`measure`;
    a ``score`` setting, when it declares one, is the threshold every thresholded task runs at."""

    iou_type: ClassVar[str] = "bbox"
    data_help: ClassVar[str] = "a COCO folder holding annotations.json, or that file"

    def dataset(self, data: str | Path | CocoDataset) -> CocoDataset:
        """The dataset ``data`` names, read once per evaluation (check and evaluate share it)."""
        cached = getattr(self, "_dataset", None)
        if cached is None or cached[0] is not data:
            cached = (data, as_dataset(data))
            self._dataset = cached
        return cached[1]

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        score = settings.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                                  or not 0 <= score <= 1):
            raise UsageError(f"score must be a number between 0 and 1, not {score!r}")
        self.dataset(data)

    def prepare(self, pipeline: Any, settings: Mapping[str, Any]) -> None:
        score = settings.get("score")
        if score is None:
            return
        for name, t in pipeline.tasks.items():
            if "score" in t.default_options:
                pipeline.set_options(name, score=score)

    def measure(self, dataset: CocoDataset, predictions: Mapping[int, Any], pipeline: Any,
                settings: Mapping[str, Any]) -> dict[str, Any]:
        """The metrics of ``predictions`` ({image id: this task's result}) on ``dataset``,
        ``notes`` included (e.g. :func:`evaluate_detect`'s dict)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement measure()")

    def evaluate(self, data: Any, pipeline: Any, settings: Mapping[str, Any], progress: bool = True) -> Report:
        dataset = self.dataset(data)
        predictions, failures = run_pipeline(dataset, pipeline, self.task, progress=progress)
        if not predictions:
            raise InputError(f"no image of {dataset.path} could be run; the first: {failures[0][1]}")
        scored = subset(dataset, predictions) if failures else dataset
        metrics = dict(self.measure(scored, predictions, pipeline, settings))
        notes = list(metrics.pop("notes", []))
        context = {"data": str(dataset.path), **self.describe(pipeline)}
        scores = {n: t.options["score"] for n, t in pipeline.tasks.items() if "score" in t.default_options}
        if scores:
            values = set(scores.values())
            mixed = ", ".join(f"{n}={v}" for n, v in scores.items())
            context["score"] = values.pop() if len(values) == 1 else mixed
        return Report(metrics, failures, notes, context)

    def score_files(self, gt: str | Path, dets: str | Path, settings: Mapping[str, Any]) -> Report:
        truth = load_json(gt, "ground-truth")
        results, notes = results_for(truth, load_json(dets, "detections"))
        stats = coco_ap(truth, results, self.iou_type, sigmas=settings.get("sigmas"))
        metrics = {"task": self.name, "metric": f"COCO {stats.iou_type} (pycocotools)", **stats.to_dict(),
                   "per_class": {k: _clean(v) for k, v in stats.per_class.items()}}  # None, not NaN: valid JSON
        return Report(metrics, notes=notes)


def results_for(truth: Mapping, dets: Any) -> tuple[list[dict], list[str]]:
    """A COCO results list for the ground truth ``truth``, and notes on what was left out.

    A list is taken as it is. A whole dataset (what a results writer such as the detect
    plugin's ``coco`` writer makes) has its own image ids and category ids: its images meet the
    ground truth's by ``file_name`` (else by the name without folders, where that is unique)
    and its categories by name; results on other images or of other classes are left out."""
    if not isinstance(dets, Mapping):
        return [dict(d) for d in dets], []
    anns = [dict(a) for a in dets.get("annotations", [])]
    if "images" not in dets:
        return anns, []

    def base(name: str) -> str:
        return name.replace("\\", "/").rsplit("/", 1)[-1]

    by_name = {im["file_name"]: im["id"] for im in truth.get("images", [])}
    shared = Counter(base(fname) for fname in by_name)
    by_base = {base(fname): image_id for fname, image_id in by_name.items() if shared[base(fname)] == 1}
    images = {}
    for im in dets["images"]:
        fname = str(im.get("file_name", ""))
        found = by_name[fname] if fname in by_name else by_base.get(base(fname))
        if found is not None:
            images[im["id"]] = found
    truth_ids = {c["name"]: c["id"] for c in truth.get("categories", [])}
    own = dets.get("categories")
    cats = None if own is None else {c["id"]: truth_ids.get(c.get("name")) for c in own}
    out, off_images, off_classes = [], 0, 0
    for ann in anns:
        image_id = images.get(ann.get("image_id"))
        category = ann.get("category_id") if cats is None else cats.get(ann.get("category_id"))
        if image_id is None:
            off_images += 1
        elif category is None:
            off_classes += 1
        else:
            out.append({**ann, "image_id": image_id, "category_id": category})
    notes = []
    if off_images:
        notes.append(f"{off_images} results on images the ground truth lacks (matched by file name) left out")
    if off_classes:
        notes.append(f"{off_classes} results of classes the ground truth lacks (matched by name) left out")
    return out, notes
