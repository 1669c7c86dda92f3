"""``visionkit eval classify``: top-1, top-5 and per-class accuracy on an ImageFolder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from visionkit.data.imagefolder import read_image_folder
from visionkit.errors import InputError, UsageError
from visionkit.evaluators import Evaluator, Report
from visionkit.progress import Progress

TOP_K = 5


class ClassifyEvaluator(Evaluator):
    """Each image's top labels against its folder's name (folders meet model classes by name)."""

    data_help = "an ImageFolder DIR/<class>/<image>"
    table_titles = {"per_class": "per class (accuracy)"}

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        if not isinstance(data, (str, Path)):
            raise UsageError(f"{self.name} evaluates an ImageFolder given by its path, "
                             f"not a {type(data).__name__}")
        self._folder = (data, read_image_folder(data))

    def prepare(self, pipeline: Any, settings: Mapping[str, Any]) -> None:
        pipeline.set_options(self.task, topk=TOP_K)

    def evaluate(self, data: Any, pipeline: Any, settings: Mapping[str, Any], progress: bool = True) -> Report:
        cached = getattr(self, "_folder", None)
        samples, folder_names = cached[1] if cached and cached[0] is data else read_image_folder(data)
        task = pipeline.tasks[self.task]
        unknown = sorted(set(folder_names) - set(task.card.labels))
        if unknown:
            raise UsageError(f"{data}: folders {unknown[:3]} are not classes of {task.model.path.name} "
                             "(give --model for a classifier of these classes)")
        hits1 = hits5 = 0
        per_class = {name: [0, 0] for name in folder_names}
        failures: list[tuple[str, str]] = []
        paths = [str(path) for path, _ in samples]
        with Progress(len(samples), f"eval {self.name}", enabled=progress) as bar:
            # one result per image, in order: a file that cannot be read comes as an error
            for path, (_, class_id), result in zip(paths, samples, pipeline.stream(paths)):
                bar.update(1)
                if result.error is not None or self.task not in result.results:
                    failures.append((path, result.error or f"{path}: no {self.task} result"))
                    continue
                truth = folder_names[class_id]
                labels = result.results[self.task].labels
                hits1 += labels[0] == truth
                hits5 += truth in labels[:TOP_K]
                per_class[truth][0] += labels[0] == truth
                per_class[truth][1] += 1
        n = len(samples) - len(failures)
        if not n:
            raise InputError(f"no image of {data} could be run; the first: {failures[0][1]}")
        seen = {k: ok / total for k, (ok, total) in per_class.items() if total}
        metrics = {"task": self.name, "images": n, "top1": round(hits1 / n, 6), f"top{TOP_K}": round(hits5 / n, 6),
                   "per_class": {k: round(v, 6) for k, v in seen.items()},
                   "mean_class_accuracy": round(float(np.mean(list(seen.values()))), 6)}
        notes = []
        if task.options["topk"] < TOP_K:
            notes.append(f"top{TOP_K} counts the {task.options['topk']} labels the task keeps (topk option)")
        return Report(metrics, failures, notes, self.describe(pipeline))
