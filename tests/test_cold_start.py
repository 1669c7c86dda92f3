"""Cold start: ``visionkit predict`` imports only what predicting needs, and the lazily built
argument parser says exactly what the whole tree says."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from visionkit.bundled import samples
from visionkit.cli import COMMANDS, _command_in, build_parser

#: modules a predict must never import (training, the desktop app, evaluation, data generators)
HEAVY = ("torch", "PySide6", "visionkit.evaluation", "visionkit.coco_evaluator", "visionkit.data.shapeworld",
         "visionkit.nn")


def modules_after(argv: list[str], tmp_path) -> tuple[int, list[str]]:
    """Run ``python -m visionkit ARGV`` in a fresh interpreter; its exit code and sys.modules."""
    out = tmp_path / "modules.json"
    code = (
        "import json, runpy, sys\n"
        f"sys.argv = ['visionkit', *{argv!r}]\n"
        "try:\n"
        "    runpy.run_module('visionkit', run_name='__main__', alter_sys=True)\n"
        "    rc = 0\n"
        "except SystemExit as exc:\n"
        "    rc = exc.code\n"
        f"open({str(out)!r}, 'w').write(json.dumps({{'rc': rc, 'modules': sorted(sys.modules)}}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    return got["rc"], got["modules"]


def test_predict_imports_only_what_predicting_needs(tmp_path):
    sample = next(p for p in samples() if p.name == "shapes_star.png")
    rc, modules = modules_after(["predict", str(sample), "--json"], tmp_path)
    assert rc == 0
    heavy = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert not heavy, heavy
    commands = [m for m in modules if m.startswith("visionkit.cli.") and m.endswith("_cmd")]
    assert commands == ["visionkit.cli.predict_cmd"]  # the other commands' modules stay unread


def test_the_command_table_names_every_registered_command():
    full = _subcommands(build_parser())
    assert list(full) == list(COMMANDS)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _helps(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every parser's help in a tree, by command path."""
    out = {path: parser.format_help()}
    if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        for name, sub in _subcommands(parser).items():
            out.update(_helps(sub, path + (name,)))
    return out


def test_a_command_alone_parses_and_helps_as_in_the_whole_tree():
    full = _helps(build_parser())
    for command in COMMANDS:
        lazy = {path: text for path, text in _helps(build_parser(command)).items() if path[:1] == (command,)}
        assert lazy == {path: text for path, text in full.items() if path[:1] == (command,)}, command


def test_the_command_is_found_after_top_level_flags_only():
    assert _command_in(["predict", "x.png", "--task", "classify"]) == "predict"
    assert _command_in(["--debug", "models", "info", "m.onnx"]) == "models"
    assert _command_in(["tasks", "--options"]) == "tasks"
    # the whole tree: top-level help and version, no command, an unknown one
    for argv in ([], ["--help"], ["-h", "predict"], ["--version"], ["nosuch"], ["--debug"]):
        assert _command_in(argv) is None, argv


def test_version_and_top_level_help_still_list_everything():
    version = subprocess.run([sys.executable, "-m", "visionkit", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("visionkit ")
    top = subprocess.run([sys.executable, "-m", "visionkit", "--help"], capture_output=True, text=True)
    assert top.returncode == 0
    assert all(f"    {c} " in top.stdout or f"    {c}\n" in top.stdout for c in COMMANDS), top.stdout
