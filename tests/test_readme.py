"""The outputs the README shows are what the commands print (timings aside)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shown_after(marker: str) -> tuple[str, list[str]]:
    """The command in the ```sh block that contains ``marker`` and the lines of the next block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)
    for i, (_, body) in enumerate(blocks):
        if marker in body:
            return body.strip().split("&& ")[-1], blocks[i + 1][1].strip().splitlines()
    raise AssertionError(f"README shows no command with {marker!r}")


def without_timings(line: str) -> str:
    return re.sub(r"\(\d+(\.\d+)? ms\)", "(… ms)", line).strip()


def test_the_first_example_prints_what_the_readme_shows():
    command, shown = shown_after("visionkit predict assets/samples/shapes_star.png --task classify")
    args = command.split()[1:]
    proc = subprocess.run([sys.executable, "-m", "visionkit", *args], cwd=ROOT, capture_output=True, text=True)
    printed = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 0
    assert [without_timings(x) for x in printed] == [without_timings(x) for x in shown]


def test_the_readme_names_every_cli_command():
    from visionkit.cli import build_parser

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = [c for c in commands if f"visionkit {c}" not in text]
    assert not missing, missing
