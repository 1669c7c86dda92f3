"""``visionkit eval caption``: BLEU-1..4, CIDEr-D and exact matches on a COCO captions set.

Each picture's best caption is scored against all its references (:mod:`.metrics`). Where
the references name their shapes the ShapeWorld way ("two red hearts ..."), and all of them
name the same ones, the best caption is also checked for them: ``counts_colours`` is the
share of those pictures whose caption names the same (count, colour) pairs, ``groups`` the
share that also gets every class right (:func:`visionkit.data.captions.mentions`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Mapping

from visionkit.data.caption_sets import read_caption_set
from visionkit.data.captions import mentions
from visionkit.errors import InputError, UsageError
from visionkit.evaluators import Evaluator, Report
from visionkit.progress import Progress

from .metrics import bleu, cider_d, exact_match

__all__ = ["CaptionEvaluator", "caption_metrics", "run_captions"]


def _truth(refs: Sequence[str]) -> list | None:
    """The (count, colour, class) multiset all references agree on, or None."""
    found = [sorted(g.key() for g in mentions(r)) for r in refs]
    return found[0] if found[0] and all(f == found[0] for f in found) else None


def caption_metrics(best: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The numbers of ``best[i]`` against ``references[i]``."""
    b = bleu(best, references)
    cider, _ = cider_d(best, references)
    out: dict[str, Any] = {f"BLEU-{n + 1}": round(v, 6) for n, v in enumerate(b)}
    out |= {"CIDEr-D": round(cider, 6), "exact_match": round(exact_match(best, references), 6)}
    checked = right = whole = 0
    for cand, refs in zip(best, references):
        truth = _truth(refs)
        if truth is None:
            continue
        said = sorted(g.key() for g in mentions(cand))
        checked += 1
        right += Counter((n, c) for n, c, _ in said) == Counter((n, c) for n, c, _ in truth)
        whole += said == truth
    if checked:
        out |= {"counts_colours": round(right / checked, 6), "groups": round(whole / checked, 6),
                "checked": checked}
    return out


def run_captions(pipeline: Any, items: Iterable[tuple[str, Any, Sequence[str]]], n: int, task: str = "caption",
                 progress: bool = True, label: str = "eval caption",
                 times: list[float] | None = None) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """Caption every ``(name, image or path, references)``; the best captions, their
    references, and the inputs that failed. ``times`` collects each caption's milliseconds."""
    best, refs, failures = [], [], []
    with Progress(n, label, enabled=progress) as bar:
        for name, image, references in items:
            result = pipeline([image])[0]
            bar.update(1)
            if result.error is not None or task not in result.results:
                failures.append((name, result.error or f"{name}: no {task} result"))
                continue
            best.append(result.results[task].text)
            refs.append(list(references))
            if times is not None:
                times.append(result.timings_ms.get(task, 0.0))
    return best, refs, failures


class CaptionEvaluator(Evaluator):
    """Best captions against every reference of a COCO captions set."""

    data_help = "a COCO captions set: DIR with captions.json (or captions_*.json) and its images"

    def check(self, data: Any, settings: Mapping[str, Any]) -> None:
        if not isinstance(data, (str, Path)):
            raise UsageError(f"{self.name} evaluates a captions set given by its path, not a {type(data).__name__}")
        self._set = (data, read_caption_set(data))

    def evaluate(self, data: Any, pipeline: Any, settings: Mapping[str, Any], progress: bool = True) -> Report:
        cached = getattr(self, "_set", None)
        captions = cached[1] if cached and cached[0] is data else read_caption_set(data)
        items = ((str(p), str(p), refs) for p, refs in zip(captions.paths, captions.captions))
        best, refs, failures = run_captions(pipeline, items, len(captions), self.task, progress, f"eval {self.name}")
        if not best:
            raise InputError(f"no image of {data} could be captioned; the first: {failures[0][1]}")
        metrics = {"task": self.name, "images": len(best), **caption_metrics(best, refs)}
        task = pipeline.tasks[self.task]
        notes = [f"beam {task.options['beam']}, length penalty {task.options['alpha']:g}"]
        if "checked" not in metrics:
            notes.append("the references name no ShapeWorld shapes: counts and colours are not checked")
        return Report(metrics, failures, notes, self.describe(pipeline))
