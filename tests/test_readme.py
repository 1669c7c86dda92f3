"""The outputs the README shows are what the commands print (timings aside)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


REALWORLD = ROOT.parent / "shared" / "realworld" / "images"


def printed_by(command: str, cwd: Path) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "visionkit", *command.split()[1:]], cwd=cwd,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [without_timings(x) for x in (proc.stdout + proc.stderr).strip().splitlines()]


@pytest.mark.skipif(not (REALWORLD / "imagenet_finch.jpeg").is_file(), reason="needs the real-world test photos")
def test_the_first_example_prints_what_the_readme_shows(tmp_path):
    # the README's photo is the reader's own; this one is a house finch, read from the shared
    # test material and never copied into the project
    command, shown = shown_after("visionkit predict photo.jpg --task classify")
    shutil.copyfile(REALWORLD / "imagenet_finch.jpeg", tmp_path / "photo.jpg")
    assert printed_by(command, tmp_path) == [without_timings(x) for x in shown]


def test_the_shapeworld_example_prints_what_the_readme_shows():
    command, shown = shown_after("visionkit predict assets/samples/shapes_star.png")
    assert printed_by(command, ROOT) == [without_timings(x) for x in shown]


def test_the_readme_names_every_cli_command():
    from visionkit.cli import build_parser

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = [c for c in commands if f"visionkit {c}" not in text]
    assert not missing, missing
