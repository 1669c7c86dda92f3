"""The ``visionkit`` command. Each subcommand lives in its own ``*_cmd.py`` module exposing
``register(subparsers)``; this module only dispatches and turns errors into exit codes:

    0  every input succeeded
    1  some inputs (or the run) failed; one line each on stderr
    2  usage error (bad flags, unknown task, options that do not fit)

No traceback reaches the user unless ``--debug`` is given.

Start-up is lazy: ``visionkit predict ...`` imports and registers ``predict_cmd`` alone (the
table below names each command's module); the whole tree is built only where it is shown
(``visionkit --help``, no command, an unknown one).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import DependencyError, UsageError, VisionkitError, describe_failure, printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: each command's module, in the order ``visionkit --help`` lists them (a module may register
#: several commands: plugins_cmd registers ``plugins`` and ``tasks``)
COMMANDS = {
    "predict": "predict_cmd",
    "batch": "batch_cmd",
    "eval": "eval_cmd",
    "explain": "explain_cmd",
    "style": "style_cmd",
    "models": "models_cmd",
    "plugins": "plugins_cmd",
    "tasks": "plugins_cmd",
    "plugin": "plugin_cmd",
    "data": "data_cmd",
    "train": "train_cmd",
    "export": "train_cmd",
    "gui": "gui_cmd",
    "bench": "bench_cmd",
}


def _command_in(argv: Sequence[str]) -> str | None:
    """The command an argument list runs, when only its module is needed to parse it: None
    for the top level's own help or version, no command, or an unknown one (the whole tree
    says those)."""
    for arg in argv:
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command, or (``command``) the one that runs, whose module
    alone is then imported."""
    from importlib import import_module

    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: otherwise a subcommand's default would overwrite `visionkit --debug predict ...`
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="visionkit",
        description="One CNN backbone, many task heads: predict, inspect models, train.",
        parents=[common],
    )
    parser.add_argument("--version", action=_LazyVersion)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = [COMMANDS[command]] if command is not None else list(dict.fromkeys(COMMANDS.values()))
    for name in wanted:
        import_module(f"{__name__}.{name}").register(sub, common)
    return parser


class _LazyVersion(argparse._VersionAction):
    """``--version``, reading the installed version only when asked."""

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = f"visionkit {_version()}"
        super().__call__(parser, namespace, values, option_string)


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
    parser = build_parser(_command_in(sys.argv[1:] if argv is None else argv))
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
