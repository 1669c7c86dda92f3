"""The plugins dialog: what `visionkit plugins` prints, as a table (and what failed, and why)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from visionkit.plugin_manager import DISABLE_ENV, Plugins

COLUMNS = ("plugin", "status", "distribution", "version", "registers", "reason")


class PluginsDialog(QDialog):
    def __init__(self, plugins: Plugins, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(820, 320)
        self.table = QTableWidget(len(plugins.infos), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, info in enumerate(plugins.infos):
            registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.provides.items())
            cells = (info.name, info.status, info.distribution or info.module, info.version,
                     registers or "-", info.error or "")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if info.status == "failed":
                    item.setForeground(QColor("#d04040"))
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        failed = len(plugins.failures)
        summary = QLabel(f"{len(plugins.infos)} plugin(s), {failed} failed to load. "
                         f"Turn plugins off with {DISABLE_ENV}=name,other.", self)
        summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, ...]]:
        return [tuple(self.table.item(r, c).text() for c in range(len(COLUMNS))) for r in range(self.table.rowCount())]
