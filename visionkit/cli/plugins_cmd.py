"""``visionkit plugins`` and ``visionkit tasks``: what is installed, and what failed to load."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("plugins", parents=[common], help="list plugins, versions, what they register, failures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_plugins)
    t = sub.add_parser("tasks", parents=[common], help="list the tasks the installed plugins provide")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=run_tasks)


def run_plugins(args: argparse.Namespace) -> int:
    from ..plugin_manager import get_plugins

    plugins = get_plugins()
    if args.json:
        print(json.dumps([vars(i) for i in plugins.infos], indent=2))
        return 0
    if not plugins.infos:
        print("no plugins installed")
    for info in plugins.infos:
        origin = f"{info.distribution} {info.version}".strip() or info.module
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.provides.items())
        line = f"{info.name:<16} {info.status:<9} {origin:<24} {provides or '-'}"
        print(line)
        if info.error:
            print(f"{'':<16} reason: {info.error}")
    return 0


def run_tasks(args: argparse.Namespace) -> int:
    from ..plugin_manager import get_plugins

    tasks = list(get_plugins().tasks)
    if args.json:
        print(json.dumps([vars(t) for t in tasks], indent=2))
        return 0
    for t in tasks:
        print(f"{t.name:<12} {t.summary}  [plugin {t.plugin}; default model {t.default_model or '-'}]")
    return 0
