"""Menus, toolbar and keyboard shortcuts: one table of actions, wired to the main window.

=====================  =========================
open files             Ctrl+O
open folder            Ctrl+Shift+O
open camera            Ctrl+K
paste image / files    Ctrl+V
save annotated image   Ctrl+S
save results (JSON)    Ctrl+J
export video           Ctrl+E
copy image + JSON      Ctrl+C
previous / next        Left / Right (PgUp / PgDn)
play / pause           Space
step back / forward    ,  /  .
first / last           Home / End
zoom fit / 100 %       Ctrl+0 or F / Ctrl+1
zoom in / out          Ctrl++ / Ctrl+-
dismiss message        Esc
quit                   Ctrl+Q
=====================  =========================
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

Std = QKeySequence.StandardKey

# name, text, shortcuts, window method, menu
ACTIONS: tuple[tuple[str, str, tuple, str, str], ...] = (
    ("open", "&Open…", (Std.Open,), "open_dialog", "&File"),
    ("open_folder", "Open &folder…", ("Ctrl+Shift+O",), "open_folder_dialog", "&File"),
    ("camera", "Open &camera", ("Ctrl+K",), "open_camera", "&File"),
    ("paste", "&Paste image or files", (Std.Paste,), "paste", "&File"),
    ("-", "", (), "", "&File"),
    ("save", "&Save annotated image…", (Std.Save,), "save_image_dialog", "&File"),
    ("save_json", "Save results as &JSON…", ("Ctrl+J",), "save_json_dialog", "&File"),
    ("export_video", "&Export annotated video…", ("Ctrl+E",), "export_video_dialog", "&File"),
    ("cancel_export", "Cancel video e&xport", (), "cancel_export", "&File"),
    ("copy", "&Copy image and results", (Std.Copy,), "copy", "&File"),
    ("-", "", (), "", "&File"),
    ("quit", "&Quit", (Std.Quit, "Ctrl+Q"), "close", "&File"),
    ("play", "&Play / pause", ("Space",), "toggle_play", "&Play"),
    ("prev", "P&revious", ("Left", "PgUp"), "previous", "&Play"),
    ("next", "&Next", ("Right", "PgDown"), "next", "&Play"),
    ("step_back", "Step &back", (",",), "step_back", "&Play"),
    ("step", "&Step forward", (".",), "step_forward", "&Play"),
    ("first", "&First", ("Home",), "first", "&Play"),
    ("last", "&Last", ("End",), "last", "&Play"),
    ("zoom_fit", "Zoom to &fit", ("Ctrl+0", "F"), "zoom_fit", "&View"),
    ("zoom_100", "&Actual size (100 %)", ("Ctrl+1",), "zoom_100", "&View"),
    ("zoom_in", "Zoom &in", (Std.ZoomIn, "+"), "zoom_in", "&View"),
    ("zoom_out", "Zoom &out", (Std.ZoomOut, "-"), "zoom_out", "&View"),
    ("dismiss", "&Dismiss message", ("Esc",), "dismiss_message", "&View"),
    ("plugins", "&Plugins…", (), "show_plugins", "&Help"),
)


def _keys(shortcuts: tuple) -> list[QKeySequence]:
    keys: list[QKeySequence] = []
    for s in shortcuts:
        seqs = QKeySequence.keyBindings(s) if isinstance(s, Std) else [QKeySequence(s)]
        keys += [k for k in seqs if not k.isEmpty() and k not in keys]
    return keys


def build_actions(window: QMainWindow) -> dict[str, QAction]:
    """Create every action, put it in its menu and on the window (so shortcuts always work)."""
    actions: dict[str, QAction] = {}
    menus = {}
    for name, text, shortcuts, method, menu_name in ACTIONS:
        menu = menus.get(menu_name) or menus.setdefault(menu_name, window.menuBar().addMenu(menu_name))
        if name == "-":
            menu.addSeparator()
            continue
        action = QAction(text, window)
        action.setShortcuts(_keys(shortcuts))
        if shortcuts:
            action.setToolTip(f"{text.replace('&', '').rstrip('…')} ({action.shortcut().toString()})")
        slot: Callable[[], object] = getattr(window, method)
        action.triggered.connect(lambda _=False, slot=slot: slot())
        menu.addAction(action)
        window.addAction(action)
        actions[name] = action
    return actions
