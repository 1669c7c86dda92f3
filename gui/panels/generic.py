"""The fallback panel: any result's ``to_dict()`` as indented JSON (the CLI's schema)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class GenericPanel(QPlainTextEdit):
    """Shows what ``--json`` would print for one task's result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setMaximumHeight(220)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)

    def update_result(self, result: Any, frame_result: Any = None) -> None:
        to_dict = getattr(result, "to_dict", None)
        text = json.dumps(to_dict(), indent=1) if callable(to_dict) else repr(result)
        if text != self.toPlainText():
            self.setPlainText(text)
