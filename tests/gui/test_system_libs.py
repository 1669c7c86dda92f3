"""Before Qt starts on X11, every missing system library is named with the packages to install,
instead of Qt's abort that names only the first."""

from __future__ import annotations

import sys

import pytest
from visionkit.gui import system_libs
from visionkit.gui.system_libs import XCB_LIBRARIES, check_platform_libraries, missing_libraries, uses_xcb

from visionkit.cli import main as cli
from visionkit.errors import DependencyError

PLAIN_DEBIAN = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"}


def finder_without(absent):
    return lambda soname: soname not in absent


@pytest.mark.parametrize("environ, platform, expected", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb", "DISPLAY": ":0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({}, "linux", False),  # no display at all: the app says so itself, or draws offscreen
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "win32", False),
])
def test_the_check_runs_where_qt_would_use_xcb(environ, platform, expected):
    assert uses_xcb(environ, platform) is expected


def test_every_missing_library_is_named_with_its_package():
    assert missing_libraries(finder_without(PLAIN_DEBIAN)) == {s: XCB_LIBRARIES[s] for s in XCB_LIBRARIES
                                                               if s in PLAIN_DEBIAN}
    with pytest.raises(DependencyError) as info:
        check_platform_libraries({"DISPLAY": ":0"}, "linux", finder_without(PLAIN_DEBIAN))
    text = str(info.value)
    assert "\n" not in text and "libxcb-icccm.so.4" in text and "libxcb-cursor.so.0" in text
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in text


def test_nothing_is_said_when_all_are_there_or_qt_draws_elsewhere():
    check_platform_libraries({"DISPLAY": ":0"}, "linux", finder_without(set()))
    check_platform_libraries({"QT_QPA_PLATFORM": "offscreen"}, "linux", finder_without(PLAIN_DEBIAN))


def test_the_real_finder_loads_what_is_there():
    assert system_libs.loads("libc.so.6")
    assert not system_libs.loads("libvisionkit-no-such-library.so.7")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 libraries are a Linux matter")
def test_visionkit_gui_exits_1_with_the_install_line(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(system_libs, "loads", finder_without({"libxcb-keysyms.so.1"}))
    assert cli(["gui"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sudo apt-get install libxcb-keysyms1" in err


def test_the_readme_lists_every_package():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "sudo apt-get install " + " ".join(dict.fromkeys(XCB_LIBRARIES.values())) + "\n" in readme
