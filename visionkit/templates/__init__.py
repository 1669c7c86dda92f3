"""Templates that ``visionkit plugin new`` fills in: ``plugin/`` is a plugin package.

Files end in ``.tmpl`` (so nothing treats them as Python before they are filled in):
``{{name}}``, ``{{package}}``, ``{{dist}}``, ``{{Class}}`` and ``{{visionkit_version}}`` are
replaced, a folder named ``package`` takes the package's name and ``NAME`` in a file name the
plugin's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError

_NAME = re.compile(r"[a-z][a-z0-9]*([_-][a-z0-9]+)*")


@dataclass(frozen=True)
class PluginNames:
    """The names a plugin called ``name`` goes by."""

    name: str  # the plugin's and its task's: what users type after --task
    package: str  # the import package, visionkit_<name>
    dist: str  # the distribution on PyPI, visionkit-<name>
    cls: str  # the prefix of its classes, CamelCase

    @classmethod
    def of(cls, name: str) -> "PluginNames":
        name = re.sub(r"^visionkit[-_]", "", name.strip())
        if not _NAME.fullmatch(name):
            raise UsageError("a plugin name is lowercase letters, digits, '_' or '-', "
                             f"starting with a letter, not {name!r}")
        snake = name.replace("-", "_")
        return cls(snake, f"visionkit_{snake}", f"visionkit-{snake.replace('_', '-')}",
                   "".join(part.capitalize() for part in snake.split("_")))


def new_plugin(name: str, out_dir: str | Path = ".") -> Path:
    """Write a plugin package called ``name`` into ``out_dir/visionkit-<name>`` and return
    that folder; an existing, non-empty folder is refused."""
    from .. import __version__

    names = PluginNames.of(name)
    root = Path(out_dir) / names.dist
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} already exists and is not empty")
    values = {"name": names.name, "package": names.package, "dist": names.dist, "Class": names.cls,
              "visionkit_version": __version__}
    for relative, text in _template_files(resources.files(__name__) / "plugin", ()):
        parts = [names.package if p == "package" else p.replace("NAME", names.name) for p in relative]
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        target.write_text(text, encoding="utf-8")
    return root


def _template_files(folder, relative: tuple[str, ...]):
    """``(path parts without .tmpl, text)`` of every template file under ``folder``."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _template_files(entry, relative + (entry.name,))
        elif entry.name.endswith(".tmpl"):
            yield relative + (entry.name[: -len(".tmpl")],), entry.read_text(encoding="utf-8")
