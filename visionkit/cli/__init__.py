"""The ``visionkit`` command. Each subcommand lives in its own ``*_cmd.py`` module exposing
``register(subparsers)``; this module only dispatches and turns errors into exit codes:

    0  every input succeeded
    1  some inputs (or the run) failed; one line each on stderr
    2  usage error (bad flags, unknown task, options that do not fit)

No traceback reaches the user unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import DependencyError, UsageError, VisionkitError, describe_failure, printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from . import data_cmd, eval_cmd, gui_cmd, models_cmd, plugin_cmd, plugins_cmd, predict_cmd, train_cmd

    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: otherwise a subcommand's default would overwrite `visionkit --debug predict ...`
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="visionkit",
        description="One CNN backbone, many task heads: predict, inspect models, train.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"visionkit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (predict_cmd, eval_cmd, models_cmd, plugins_cmd, plugin_cmd, data_cmd, train_cmd, gui_cmd):
        module.register(sub, common)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("visionkit")
    except PackageNotFoundError:
        return "unknown"


def _safe_streams() -> None:
    """A name that is not UTF-8 must never crash printing: show it escaped instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream already written to in another mode
                pass


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)  # argparse itself exits 2 on usage errors
    if extra:  # say it with the subcommand's usage, not the top level's
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    args.debug = getattr(args, "debug", False)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        if args.debug:
            raise
        print(f"visionkit: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (VisionkitError, DependencyError) as exc:
        if args.debug:
            raise
        print(f"visionkit: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("visionkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`visionkit predict ... --json | head`): stop quietly, as UNIX
        # tools do; point stdout at /dev/null so the interpreter's final flush cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug: say so in one line, point at --debug
        if args.debug:
            raise
        print(f"visionkit: internal error: {printable(describe_failure(exc))} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
