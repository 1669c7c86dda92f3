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
    t.add_argument("--options", action="store_true",
                   help="also each task's options (set with --option TASK.KEY=VALUE), defaults and limits")
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


def task_options(factory: str) -> dict[str, dict]:
    """A task's options: ``{name: {"default", "limits"?, "choices"?}}`` (imports its class)."""
    from ..registry import load_object

    cls = load_object(factory)
    out = {}
    for key, default in getattr(cls, "default_options", {}).items():
        entry: dict = {"default": default}
        if key in getattr(cls, "option_limits", {}):
            entry["limits"] = list(cls.option_limits[key])
        if key in getattr(cls, "option_choices", {}):
            entry["choices"] = list(cls.option_choices[key])
        out[key] = entry
    return out


def _shown_option(name: str, entry: dict) -> str:
    text = f"{name}={json.dumps(entry['default'])}"
    if "limits" in entry:
        lo, hi = entry["limits"]
        text += f" ({'-inf' if lo is None else lo}..{'inf' if hi is None else hi})"
    if "choices" in entry:
        text += f" ({'|'.join(map(str, entry['choices']))})"
    return text


def run_tasks(args: argparse.Namespace) -> int:
    from ..errors import PluginError
    from ..plugin_manager import get_plugins

    tasks = list(get_plugins().tasks)
    options: dict[str, dict | str] = {}
    if args.options:
        for t in tasks:
            try:
                options[t.name] = task_options(t.factory)
            except PluginError as exc:  # one broken task must not hide the others
                options[t.name] = f"cannot load: {exc}"
    if args.json:
        rows = [{**vars(t), **({"options": options[t.name]} if args.options else {})} for t in tasks]
        print(json.dumps(rows, indent=2))
        return 0
    for t in tasks:
        print(f"{t.name:<12} {t.summary}  [plugin {t.plugin}; default model {t.default_model or '-'}]")
        if args.options:
            opts = options[t.name]
            shown = opts if isinstance(opts, str) else ", ".join(_shown_option(k, v) for k, v in opts.items())
            print(f"{'':<12} options: {shown or 'none'}")
    return 0
