"""``visionkit eval TASK``: run a model over a labelled set and print its metrics, or score a
results file against ground truth.

    visionkit eval classify --data DIR [--model PATH]        # ImageFolder DIR/<label>/<image>
    visionkit eval detect|segment|pose --data DIR [--model PATH] [--backbone PATH]
                                                             # COCO DIR/annotations.json
    visionkit eval detect --gt annotations.json --dets results.json
    visionkit eval pose --gt annotations.json --dets results.json --sigmas 0.05,0.05,...

With ``--data`` the task's model (its default without ``--model``) runs over every image;
classes meet the dataset's categories by name (:mod:`visionkit.evaluation` says how each metric
is computed). Images that cannot be read or run are listed on stderr and left out of the
metrics, and the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError
from ..evaluation import EVAL_SCORE
from .model_args import add_model_option, split_models

IOU_TYPES = {"detect": "bbox", "segment": "segm", "pose": "keypoints"}
TABLE_TITLES = {("classify", "per_class"): "per class (accuracy)", ("detect", "per_class"): "per class (AP@[.5:.95])",
                ("segment", "per_class"): "per class (IoU)", ("pose", "per_joint"): "per joint (PCK@0.1)"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "eval", parents=[common], help="evaluate a model on labelled data, or score a results file",
        description="Metrics from the field's reference implementations: COCO AP/AR through "
                    "pycocotools, mIoU and pixel accuracy for segmentation, PCK for keypoints, "
                    "top-1/top-5 and per-class accuracy for classification.",
        epilog="examples:\n"
               "  visionkit data shapeworld --task classify --n 1400 --seed 31337 --out heldout\n"
               "  visionkit eval classify --data heldout                  # the bundled model\n"
               "  visionkit data shapeworld --task detect --n 300 --seed 10000 --format coco --out held-detect\n"
               "  visionkit eval detect --data held-detect                # the task's default model\n"
               "  visionkit eval detect --data held-detect --model yolox.onnx --score 0.01\n"
               "  visionkit eval segment --data held-segment/annotations.json --model segment.onnx --json\n"
               "  visionkit eval pose --data held-pose                    # pose + the detector it needs\n"
               "  visionkit eval detect --gt instances.json --dets results.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", help="classify, detect, segment or pose")
    p.add_argument("--data", metavar="DIR",
                   help="labelled images: an ImageFolder (classify), or a COCO folder holding "
                        "annotations.json, or that file (detect, segment, pose)")
    add_model_option(p)
    p.add_argument("--backbone", metavar="PATH", help="backbone for head models (default: beside the head, or bundled)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--score", type=float, default=None,
                   help=f"lowest detection score kept with --data (detect, pose; default {EVAL_SCORE})")
    p.add_argument("--gt", metavar="FILE", help="COCO ground truth (annotations.json), with --dets")
    p.add_argument("--dets", metavar="FILE", help="COCO results list (or dataset) to score against --gt")
    p.add_argument("--sigmas", help="OKS sigma per keypoint, comma-separated (pose)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.sigmas and args.task != "pose":
        raise UsageError("--sigmas sets OKS constants for pose, not for " + args.task)
    failures: list[tuple[str, str]] = []
    if args.gt or args.dets:
        if args.data:
            raise UsageError("--data runs a model, --gt/--dets score a results file: give one or the other")
        if not (args.gt and args.dets):
            raise UsageError("--gt and --dets go together")
        if args.model or args.backbone or args.score is not None:
            raise UsageError("--model, --backbone and --score run a model on --data, not on --gt/--dets")
        metrics = _score_files(args)
    elif args.data:
        if args.task == "classify":
            if args.score is not None:
                raise UsageError("--score is for detect and pose")
            metrics = _eval_classify(args)
        elif args.task in IOU_TYPES:
            metrics, failures = _eval_coco(args)
        else:
            raise UsageError(f"eval takes classify, detect, segment or pose, not {args.task!r}")
    else:
        raise UsageError("give --data DIR, or --gt FILE --dets FILE")
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print(metrics)
    for _, error in failures:
        print(f"error: {error}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of {len(failures) + metrics['images']} images failed; "
              "the metrics cover the others", file=sys.stderr)
    return 1 if failures else 0


def _sigmas(args: argparse.Namespace) -> list[float] | None:
    if not args.sigmas:
        return None
    try:
        return [float(v) for v in args.sigmas.split(",")]
    except ValueError:
        raise UsageError(f"--sigmas takes comma-separated numbers, not {args.sigmas!r}") from None


def _score_files(args: argparse.Namespace) -> dict:
    from ..metrics import coco_ap

    if args.task not in IOU_TYPES:
        raise UsageError(f"--gt/--dets score detect, segment or pose results, not {args.task!r}")
    stats = coco_ap(args.gt, args.dets, IOU_TYPES[args.task], sigmas=_sigmas(args))
    return {"task": args.task, "metric": f"COCO {stats.iou_type} (pycocotools)", **stats.to_dict()}


def _eval_classify(args: argparse.Namespace) -> dict:
    import numpy as np

    from ..data.imagefolder import read_image_folder
    from ..pipeline import Pipeline
    from ..progress import Progress

    single, by_task = split_models(args.model)
    samples, folder_names = read_image_folder(args.data)
    pipe = Pipeline(["classify"], model=single or by_task.get("classify"), backbone=args.backbone, device=args.device,
                    options={"classify": {"topk": 5}})
    model_names = pipe.tasks["classify"].card.labels
    unknown = sorted(set(folder_names) - set(model_names))
    if unknown:
        raise UsageError(f"{args.data}: folders {unknown[:3]} are not classes of the model")
    hits1 = hits5 = 0
    per_class = {name: [0, 0] for name in folder_names}
    with Progress(len(samples), "eval") as bar:
        for path, class_id in samples:
            truth = folder_names[class_id]
            labels = pipe(path)["classify"].labels
            hits1 += labels[0] == truth
            hits5 += truth in labels[:5]
            per_class[truth][0] += labels[0] == truth
            per_class[truth][1] += 1
            bar.update(1)
    n = len(samples)
    return {"task": "classify", "model": pipe.tasks["classify"].model.path.name, "images": n,
            "top1": round(hits1 / n, 6), "top5": round(hits5 / n, 6),
            "per_class": {k: round(ok / total, 6) for k, (ok, total) in per_class.items() if total},
            "mean_class_accuracy": round(float(np.mean([ok / t for ok, t in per_class.values() if t])), 6)}


def _eval_coco(args: argparse.Namespace) -> tuple[dict, list[tuple[str, str]]]:
    from .. import evaluation as ev
    from ..pipeline import Pipeline

    task = args.task
    sigmas = _sigmas(args)
    score = EVAL_SCORE if args.score is None else args.score
    if not 0 <= score <= 1:
        raise UsageError(f"--score must be between 0 and 1, not {score}")
    dataset = ev.as_dataset(args.data)
    # ground truth a metric will need is checked before the model runs, not after
    if task == "pose":
        sigmas = list(ev.pose_sigmas(dataset, sigmas))
    elif task == "segment":
        ev.segment_ground_truth(dataset)
    single, models = split_models(args.model)
    if single:
        models[task] = single
    # TASK=PATH for another task (pose's detector) runs that task too, with that model
    pipe = Pipeline(list(dict.fromkeys([*models, task])), models=models or None, backbone=args.backbone,
                    device=args.device)
    thresholded = [name for name, t in pipe.tasks.items() if "score" in t.default_options]
    if args.score is not None and not thresholded:
        raise UsageError(f"--score: the {task} task keeps no detection score")
    metrics, failures = ev.evaluate_pipeline(dataset, pipe, task, score=score, sigmas=sigmas)
    # task and metric first; then what ran on what; then the metrics' own keys
    head = {"task": task, "metric": "", "data": str(dataset.path), "model": pipe.tasks[task].model.path.name}
    if len(pipe.models()) > 1:
        head["models"] = ", ".join(f"{role}={m.path.name}" for role, m in pipe.models().items())
    if thresholded:
        head["score"] = score
    out = {**head, **metrics, "failed": len(failures)}
    if failures:
        out["failures"] = [{"file": f, "error": e} for f, e in failures]
    return out, failures


def _shown(value) -> str:
    if value is None or value == -1.0:  # nothing to score (pycocotools writes -1)
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list) and value and all(v == value[0] for v in value):
        return f"{value[0]} x {len(value)}"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _print(metrics: dict) -> None:
    task = metrics.get("task")
    head = {k: v for k, v in metrics.items() if not isinstance(v, dict) and k not in ("notes", "failures")}
    width = max(len(k) for k in head)
    for key, value in head.items():
        print(f"{key:<{width}}  {_shown(value)}")
    for key, table in metrics.items():
        if not isinstance(table, dict) or not table:
            continue
        print(f"\n{TABLE_TITLES.get((task, key), key.replace('_', ' '))}:")
        rows = list(table.items())
        if key == "per_class":  # best first; classes with nothing to score last
            rows.sort(key=lambda kv: (kv[1] is None or kv[1] != kv[1], -(kv[1] or 0)))
        name_w = max(len(k) for k, _ in rows)
        for name, value in rows:
            print(f"  {name:<{name_w}}  {_shown(value)}")
    if metrics.get("notes"):
        print()
    for note in metrics.get("notes", []):
        print(f"note: {note}")
