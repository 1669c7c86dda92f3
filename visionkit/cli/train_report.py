"""How the ``visionkit train`` commands read their numbers and report: one-line errors for
counts and rates out of range, the command line recorded in cards, progress on stderr, the
heads' headline numbers, the ``--json``/``--quiet`` flags."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import UsageError


def add_report_flags(parser: argparse.ArgumentParser) -> None:
    """How every training command reports: a JSON summary, or no progress."""
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def command_line() -> str:
    prog = Path(sys.argv[0]).name
    args = sys.argv[1:]
    return shlex.join(["visionkit", *args]) if prog in ("visionkit", "__main__.py") else shlex.join(sys.argv)


def check_numbers(args: argparse.Namespace, counts: tuple[str, ...], positive: tuple[str, ...],
                  chances: tuple[str, ...] = ()) -> None:
    """One line for a count flag below 1, a flag that must be positive, or a chance outside 0..1
    (unset ones pass)."""
    for flag in counts:
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1, not {value}")
    for flag in positive:
        value = getattr(args, flag)
        if value is not None and not value > 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be positive, not {value}")
    for flag in chances:
        value = getattr(args, flag)
        if value is not None and not 0 <= value <= 1:
            raise UsageError(f"--{flag.replace('_', '-')} is a chance from 0 to 1, not {value:g}")


def logger(quiet: bool):
    def log(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)
    return log


def headlines(metrics: dict) -> str:
    """Each trained head's headline numbers, e.g. ``classify top1 0.9914, detect AP 0.5127``."""
    from ..nn.heads import registered_heads

    known = {h.name: h.headline for h in registered_heads()}
    return ", ".join(
        " ".join([name] + [f"{k} {m[k]:.4f}" for k in known.get(name, ()) if k in m])
        for name, m in metrics.items()
    )
