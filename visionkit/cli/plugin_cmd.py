"""``visionkit plugin new NAME`` writes a plugin package to start from; ``visionkit plugin
check [NAME ...]`` holds the installed plugins' tasks to the task contract
(:mod:`visionkit.testing.contract`), without pytest."""

from __future__ import annotations

import argparse

from ..errors import UsageError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("plugin", parents=[common],
                       help="write a new plugin package, or check the installed plugins' tasks")
    actions = p.add_subparsers(dest="plugin_command", metavar="ACTION")
    actions.required = True
    new = actions.add_parser(
        "new", parents=[common], help="write a working plugin package (task, painter, writer, tests)",
        description="Write DIR/visionkit-NAME: a plugin package with a small working task, its painter "
                    "and writer, a README and tests on visionkit's pytest fixtures.",
    )
    new.add_argument("name", metavar="NAME", help="the plugin's and its task's name, e.g. brightness")
    new.add_argument("--out", metavar="DIR", default=".", help="where to write it (default: here)")
    new.set_defaults(func=run_new)
    check = actions.add_parser(
        "check", parents=[common], help="run the task contract on installed plugins' tasks",
        description="Run every task of the installed plugins (or of the named ones) on sample pictures "
                    "and a clip, and print one line per task: ok, or what breaks the contract. "
                    "Exit status 1 when any task fails.",
    )
    check.add_argument("names", nargs="*", metavar="NAME", help="plugins to check (default: all)")
    check.add_argument("--video", metavar="PATH", help="a clip to check state and reset() on "
                                                       "(default: a generated one)")
    check.add_argument("--budget-ms", type=float, default=None,
                       help="the most the median time per frame may be (default: 2000)")
    check.set_defaults(func=run_check)


def run_new(args: argparse.Namespace) -> int:
    from ..templates import PluginNames, new_plugin

    root = new_plugin(args.name, args.out)
    names = PluginNames.of(args.name)
    print(f"wrote {root}")
    print(f"  pip install -e '{root}[test]'  then  pytest {root}  and  visionkit plugin check {names.name}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from ..plugin_manager import get_plugins
    from ..registry import load_object
    from ..testing.contract import DEFAULT_BUDGET_MS, check_task

    plugins = get_plugins()
    known = {i.name for i in plugins.infos}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        raise UsageError(f"no plugin named {unknown[0]!r} (installed: {', '.join(sorted(known)) or 'none'})")
    failed = False
    for info in plugins.infos:
        if args.names and info.name not in args.names:
            continue
        if info.status != "loaded":
            print(f"[{info.name}] {info.status}" + (f": {info.error}" if info.error else ""))
            failed = failed or info.status == "failed"
            continue
        tasks = plugins.tasks.by_plugin(info.name)
        if not tasks and args.names:
            print(f"[{info.name}] provides no task")
        for name in tasks:
            spec = plugins.tasks.get(name)
            try:
                needs_model = getattr(load_object(spec.factory), "requires_model", True)
            except Exception:
                needs_model = False  # the contract reports why it does not build
            if needs_model and spec.default_model is None:
                print(f"[{info.name}] {name}: skipped (needs a model and has no default one)")
                continue
            report = check_task(name, video=args.video,
                                budget_ms=args.budget_ms if args.budget_ms is not None else DEFAULT_BUDGET_MS)
            print(f"[{info.name}] {report.line()}")
            for text in report.warnings:
                print(f"[{info.name}]   warning: {text}")
            failed = failed or not report.ok
    return 1 if failed else 0
