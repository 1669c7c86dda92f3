"""What the app remembers between runs: last folder, tasks, models, device, options, layout.

Stored with QSettings under organisation ``visionkit``, application ``visionkit-gui`` (an INI
file in the user's config folder). ``VISIONKIT_GUI_SETTINGS=/path/file.ini`` points it
elsewhere (tests do, so they never touch the real home). Structured values are stored as JSON
text: INI files otherwise turn a one-element list into a string.
"""

from __future__ import annotations

import json
import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "visionkit"
APPLICATION = "visionkit-gui"
ENV = "VISIONKIT_GUI_SETTINGS"


class Settings:
    def __init__(self, path: str | None = None, *, persist: bool = True) -> None:
        path = path or os.environ.get(ENV)
        if path:
            self._q = QSettings(path, QSettings.Format.IniFormat)
        else:
            self._q = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
        #: False (screenshot runs): read the settings, never write them
        self.persist = persist

    @property
    def path(self) -> str:
        return self._q.fileName()

    def _get(self, key: str, default: Any) -> Any:
        raw = self._q.value(key)
        if raw is None:
            return default
        try:
            value = json.loads(str(raw))
        except ValueError:
            return default
        return value if isinstance(value, type(default)) else default

    def _set(self, key: str, value: Any) -> None:
        if self.persist:
            self._q.setValue(key, json.dumps(value))

    # the values ---------------------------------------------------------------------------
    last_folder = property(lambda s: s._get("last_folder", ""), lambda s, v: s._set("last_folder", str(v)))
    tasks = property(lambda s: s._get("tasks", ["classify"]), lambda s, v: s._set("tasks", list(v)))
    hidden_layers = property(lambda s: s._get("hidden_layers", []), lambda s, v: s._set("hidden_layers", sorted(v)))
    device = property(lambda s: s._get("device", "auto"), lambda s, v: s._set("device", str(v)))
    #: task -> custom model path (absent: the task's default model)
    models = property(lambda s: s._get("models", {}), lambda s, v: s._set("models", dict(v)))
    #: task -> {option: value}
    options = property(lambda s: s._get("options", {}), lambda s, v: s._set("options", dict(v)))

    def set_option(self, task: str, name: str, value: Any) -> None:
        options = self.options
        options.setdefault(task, {})[name] = value
        self.options = options

    def geometry(self) -> QByteArray | None:
        raw = self._q.value("window/geometry")
        return raw if isinstance(raw, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        raw = self._q.value("window/state")
        return raw if isinstance(raw, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        if self.persist:
            self._q.setValue("window/geometry", geometry)
            self._q.setValue("window/state", state)

    def sync(self) -> None:
        if self.persist:
            self._q.sync()
