"""Errors a user sees. Every message is one line that names the thing and the reason.

The CLI prints ``str(error)`` for these and nothing else (no traceback unless ``--debug``);
anything that is not a :class:`VisionkitError` is a bug and is reported as one.
"""

from __future__ import annotations

import os


class VisionkitError(Exception):
    """Base class: an expected failure whose message is meant for a user."""


class InputError(VisionkitError):
    """An image, video, folder or camera that cannot be read."""


class ModelError(VisionkitError):
    """A model file that cannot be loaded or run (bad file, custom ops, wrong backbone)."""


class CardError(ModelError):
    """A model card that is missing, malformed or does not match its model."""


class PluginError(VisionkitError):
    """A plugin that failed to load, or a task that no plugin provides."""


class UsageError(VisionkitError):
    """Options that do not fit together (the CLI maps this to exit code 2)."""


class UnknownTaskError(PluginError, UsageError):
    """A task name that no installed plugin provides (a usage error for the CLI)."""


class DependencyError(VisionkitError):
    """An optional dependency (an extra such as ``[train]``) is not installed."""


def printable(text: str) -> str:
    """Text safe to print as one terminal line: bytes of a file name that are not UTF-8 (a
    Latin-1 ``café.png``) and control characters (a newline in a name) are shown escaped, as
    ``caf\\xe9.png`` and ``a\\nb.png``."""
    try:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    except (UnicodeError, TypeError):
        text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def describe_failure(exc: BaseException) -> str:
    """One line for anything a plugin raised, ``SystemExit`` included: ``Type: message``."""
    text = " ".join(str(exc).split())
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}): the plugin tried to end the program"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def require(module: str, extra: str):
    """Import ``module`` or raise a DependencyError telling which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"this needs {module!r}, which is not installed: pip install 'visionkit[{extra}]'"
        ) from exc
