"""``visionkit eval TASK``: run a model over a labelled set and print its metrics, or score a
results file against ground truth.

    visionkit eval classify --data DIR [--model PATH]        # ImageFolder DIR/<label>/<image>
    visionkit eval detect --gt annotations.json --dets results.json
    visionkit eval pose --gt annotations.json --dets results.json --sigmas 0.05,0.05,...
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError
from .model_args import add_model_option, split_models

IOU_TYPES = {"detect": "bbox", "segment": "segm", "pose": "keypoints"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "eval", parents=[common], help="evaluate a model on labelled data, or score a results file",
        description="Metrics from the field's reference implementations: COCO AP/AR through "
                    "pycocotools, top-1/top-5 and per-class accuracy for classification.",
        epilog="examples:\n"
               "  visionkit data shapeworld --task classify --n 1400 --seed 31337 --out heldout\n"
               "  visionkit eval classify --data heldout                  # the bundled model\n"
               "  visionkit eval detect --gt instances.json --dets results.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", help="classify, detect, segment or pose")
    p.add_argument("--data", metavar="DIR", help="labelled images: an ImageFolder (classify)")
    add_model_option(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--gt", metavar="FILE", help="COCO ground truth (annotations.json), with --dets")
    p.add_argument("--dets", metavar="FILE", help="COCO results list (or dataset) to score against --gt")
    p.add_argument("--sigmas", help="OKS sigma per keypoint, comma-separated (pose)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.gt or args.dets:
        if not (args.gt and args.dets):
            raise UsageError("--gt and --dets go together")
        metrics = _score_files(args)
    elif args.data:
        if args.task != "classify":
            raise UsageError(f"eval {args.task} --data needs a COCO dataset reader; "
                             "score a results file with --gt/--dets")
        metrics = _eval_classify(args)
    else:
        raise UsageError("give --data DIR, or --gt FILE --dets FILE")
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print(metrics)
    return 0


def _score_files(args: argparse.Namespace) -> dict:
    from ..metrics import coco_ap

    if args.task not in IOU_TYPES:
        raise UsageError(f"--gt/--dets score detect, segment or pose results, not {args.task!r}")
    sigmas = None
    if args.sigmas:
        try:
            sigmas = [float(v) for v in args.sigmas.split(",")]
        except ValueError:
            raise UsageError(f"--sigmas takes comma-separated numbers, not {args.sigmas!r}") from None
    stats = coco_ap(args.gt, args.dets, IOU_TYPES[args.task], sigmas=sigmas)
    return {"task": args.task, "metric": f"COCO {stats.iou_type} (pycocotools)", **stats.to_dict()}


def _eval_classify(args: argparse.Namespace) -> dict:
    import numpy as np

    from ..data.imagefolder import read_image_folder
    from ..pipeline import Pipeline
    from ..progress import Progress

    single, by_task = split_models(args.model)
    samples, folder_names = read_image_folder(args.data)
    pipe = Pipeline(["classify"], model=single or by_task.get("classify"), device=args.device,
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


def _print(metrics: dict) -> None:
    per_class = metrics.pop("per_class", {})
    head = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    width = max(len(k) for k in head)
    for key, value in head.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    if per_class:
        title = "accuracy" if metrics.get("task") == "classify" else "AP"
        print(f"\nper class ({title}):", file=sys.stdout)
        name_w = max(len(k) for k in per_class)
        for name, value in sorted(per_class.items(), key=lambda kv: -kv[1] if kv[1] == kv[1] else 1):
            print(f"  {name:<{name_w}}  {value:.4f}")
