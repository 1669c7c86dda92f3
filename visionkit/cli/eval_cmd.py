"""``visionkit eval TASK``: run a model over a labelled set and print its metrics, or score a
results file against ground truth.

    visionkit eval classify --data DIR [--model PATH]        # ImageFolder DIR/<label>/<image>
    visionkit eval detect|segment|pose --data DIR [--model PATH] [--backbone PATH]
                                                             # COCO DIR/annotations.json
    visionkit eval detect --gt annotations.json --dets results.json
    visionkit eval pose --gt annotations.json --dets results.json --sigmas 0.05,0.05,...

Each TASK is an evaluator a plugin registers (:mod:`visionkit.evaluators`); this command only
parses flags, hands them to it and prints its report. With ``--data`` the task's model (its
default without ``--model``) runs over every image. Images that cannot be read or run are
listed on stderr and left out of the metrics, and the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Mapping

from ..errors import UsageError, VisionkitError
from .model_args import add_backbone_option, add_model_option, split_models
from .task_options import add_option_argument, parse_options, parse_value

#: short flags, each an alias of the evaluator setting of its name (``--score X`` is ``--set score=X``)
SETTING_ALIASES = ("score", "sigmas")
_FROM_REGISTRY = "(from the installed evaluators)"  # argparse leaves out an action without help


class _Help(argparse.RawDescriptionHelpFormatter):
    """Fills in the help of TASK, --data and --set from the registered evaluators when help is
    shown, so building the parser for any other command loads no plugin."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = {"task": _task_help, "data": _data_help, "settings": _settings_help}.get(action.dest)
        return (text() if text else super()._get_help_string(action)) or ""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "eval", parents=[common], help="evaluate a model on labelled data, or score a results file",
        description="Metrics from the field's reference implementations: COCO AP/AR through "
                    "pycocotools, mIoU and pixel accuracy for segmentation, PCK for keypoints, "
                    "top-1/top-5 and per-class accuracy for classification; plugins add their own.",
        epilog="examples:\n"
               "  visionkit data shapeworld --task classify --n 1400 --seed 31337 --out heldout\n"
               "  visionkit eval classify --data heldout --model asset:shapeworld_classify.onnx\n"
               "  visionkit data shapeworld --task detect --n 300 --seed 10000 --format coco --out held-detect\n"
               "  visionkit eval detect --data held-detect                # the task's default model\n"
               "  visionkit eval detect --data held-detect --model yolox.onnx --score 0.01\n"
               "  visionkit eval detect --data held-detect -o detect.iou=0.6 --json\n"
               "  visionkit eval segment --data held-segment/annotations.json --model segment.onnx --json\n"
               "  visionkit eval pose --data held-pose                    # pose + the detector it needs\n"
               "  visionkit eval pose --data held-pose --set 'sigmas=[0.05, 0.05, ...]'\n"
               "  visionkit eval detect --gt instances.json --dets results.json",
        formatter_class=_Help,
    )
    # the help of TASK, --data and --set is written by _Help from the registry
    p.add_argument("task", metavar="TASK", help=_FROM_REGISTRY)
    p.add_argument("--data", metavar="DIR", help=_FROM_REGISTRY)
    add_model_option(p)
    add_backbone_option(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--score", type=float, default=None,
                   help="the lowest detection score kept while evaluating (--set score=VALUE)")
    p.add_argument("--sigmas", help="OKS sigma per keypoint, comma-separated (--set sigmas=[...])")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help=_FROM_REGISTRY)
    add_option_argument(p)
    p.add_argument("--gt", metavar="FILE", help="ground truth, with --dets: COCO annotations.json; for "
                   "track a folder of MOTChallenge sequences (<seq>/gt/gt.txt)")
    p.add_argument("--dets", "--pred", dest="dets", metavar="FILE",
                   help="results to score against --gt: a COCO results list (or dataset); for track "
                        "a folder of MOT files <seq>.txt (what --save-as mot writes)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluators import evaluate, evaluator_for, score_files

    evaluator = evaluator_for(args.task)
    settings = _settings(args, evaluator.settings)
    if args.gt or args.dets:
        if args.data:
            raise UsageError("--data runs a model, --gt/--dets score a results file: give one or the other")
        if not (args.gt and args.dets):
            raise UsageError("--gt and --dets go together")
        if args.model or args.backbone or args.score is not None or args.option:
            raise UsageError("--model, --backbone, --score and --option run a model on --data, "
                             "not on --gt/--dets")
        report = score_files(args.task, args.gt, args.dets, settings)
    elif args.data:
        single, by_task = split_models(args.model)
        report = evaluate(args.task, args.data, models=single or by_task, backbone=args.backbone,
                          device=args.device, settings=settings, options=parse_options(args.option))
    else:
        raise UsageError("give --data DIR, or --gt FILE --dets FILE")
    out = report.to_dict()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print(out, evaluator.table_titles)
    for _, error in report.failures:
        print(f"error: {error}", file=sys.stderr)
    if report.failures:
        n = len(report.failures)
        scored = report.metrics.get("images")
        of = f" of {n + scored}" if isinstance(scored, int) else ""
        print(f"{n}{of} images failed; the metrics cover the others", file=sys.stderr)
    return 1 if report.failures else 0


def _settings(args: argparse.Namespace, takes: Mapping[str, Any]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items and the alias flags given, as one settings dict."""
    out: dict[str, Any] = {}
    for item in args.settings:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE (e.g. score=0.01), not {item!r}")
        out[key.strip()] = parse_value(value.strip())
    for flag in SETTING_ALIASES:
        value = getattr(args, flag)
        if value is None:
            continue
        if flag not in takes:
            raise UsageError(f"--{flag} is for {_listed(_evaluators_with(flag))}, not {args.task}")
        out[flag] = _numbers(value) if flag == "sigmas" else value
    return out


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--sigmas takes comma-separated numbers, not {text!r}") from None


def _evaluators_with(setting: str) -> list[str]:
    from ..evaluators import evaluator_for, evaluator_names

    out = []
    for name in evaluator_names():
        try:
            if setting in evaluator_for(name).settings:
                out.append(name)
        except VisionkitError:  # a broken plugin's evaluator: `visionkit plugins` reports it
            continue
    return out


def _listed(names: list[str]) -> str:
    if not names:
        return "no installed evaluator"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ------------------------------------------------------------------ help, filled in when shown


def _evaluators() -> list:
    from ..evaluators import evaluator_for, evaluator_names

    out = []
    for name in evaluator_names():
        try:
            out.append(evaluator_for(name))
        except VisionkitError:
            continue
    return out


def _task_help() -> str:
    from ..plugin_manager import get_plugins

    specs = list(get_plugins().evaluators)
    listed = "; ".join(f"{s.name}: {s.summary}" for s in specs) if specs else "none installed"
    return "what to evaluate: " + listed.replace("%", "%%")


def _data_help() -> str:
    by_help: dict[str, list[str]] = {}
    for ev in _evaluators():
        by_help.setdefault(ev.data_help, []).append(ev.name)
    listed = "; ".join(f"{text} ({', '.join(names)})" for text, names in by_help.items())
    return ("labelled data to run the model on: " + listed).replace("%", "%%")


def _settings_help() -> str:
    taking = [ev for ev in _evaluators() if ev.settings]
    listed = "; ".join(f"{ev.name}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in ev.settings.items())
                       for ev in taking)
    return ("an evaluator setting, value as JSON or text (repeatable); the settings and their "
            f"defaults: {listed or 'none'}").replace("%", "%%")


# ------------------------------------------------------------------ the printed report


def _shown(value) -> str:
    # nothing to score: None, pycocotools' -1, or a NaN (a class absent from both sides)
    if value is None or value == -1.0 or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list) and value and all(v == value[0] for v in value):
        return f"{value[0]} x {len(value)}"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _print(metrics: dict, titles: Mapping[str, str]) -> None:
    head = {k: v for k, v in metrics.items() if not isinstance(v, dict) and k not in ("notes", "failures")}
    width = max(len(k) for k in head)
    for key, value in head.items():
        print(f"{key:<{width}}  {_shown(value)}")
    for key, table in metrics.items():
        if not isinstance(table, dict) or not table:
            continue
        print(f"\n{titles.get(key, key.replace('_', ' '))}:")
        if all(isinstance(v, dict) for v in table.values()):
            _print_grid(table)
            continue
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


def _print_grid(table: Mapping[str, Mapping[str, Any]]) -> None:
    """Rows of named columns (a tracker's per-sequence scores) as an aligned grid."""
    columns = list(dict.fromkeys(c for row in table.values() for c in row))
    cells = [["", *columns]] + [[name, *(_shown(row.get(c)) for c in columns)] for name, row in table.items()]
    widths = [max(len(r[k]) for r in cells) for k in range(len(columns) + 1)]
    for r in cells:
        print("  " + "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))))
