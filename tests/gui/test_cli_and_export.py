"""`visionkit gui --screenshot`, saving and copying results, exporting a video, settings, threads."""

import json
import sys

import pytest
from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication, QImage

from visionkit import cli
from visionkit.gui.settings import Settings
from visionkit.gui.threads import running_threads, start_in_thread
from visionkit.imageio import read_image

from .conftest import wait_message, wait_result


def test_screenshot_exits_0_on_a_result(images, tiny_models, tmp_path, gui_settings, capsys):
    out = tmp_path / "shot.png"
    code = cli.main(["gui", str(images / "img1_red.png"), "--tasks", "classify",
                     "--model", f"classify={tiny_models['head']}", "--device", "cpu", "--screenshot", str(out)])
    assert code == 0, capsys.readouterr().err
    shot = QImage(str(out))
    assert shot.width() >= 800 and shot.height() >= 500
    assert not gui_settings.exists()  # a screenshot run leaves the settings alone


def test_screenshot_exits_1_on_an_error(tmp_path, tiny_models, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a picture")
    out = tmp_path / "shot.png"
    code = cli.main(["gui", str(bad), "--model", str(tiny_models["head"]), "--screenshot", str(out)])
    assert code == 1 and out.exists()
    assert "bad.jpg: not an image" in capsys.readouterr().err


def test_gui_usage_errors_and_missing_pyside(monkeypatch, capsys):
    assert cli.main(["gui", "--screenshot", "x.png"]) == 2
    assert "needs a SOURCE" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "PySide6", None)
    assert cli.main(["gui"]) == 1
    assert "pip install 'visionkit[gui]'" in capsys.readouterr().err


def test_save_image_json_and_copy(qtbot, make_window, images, tmp_path):
    window = make_window()
    assert not window.save_image_to(tmp_path / "early.png")  # nothing yet: a message, no crash
    shown = wait_result(qtbot, window, lambda: window.open_source(str(images / "img2_green.png")))
    assert window.save_image_to(tmp_path / "out" / "annotated.png")
    assert (read_image(tmp_path / "out" / "annotated.png") == window.canvas.rendered).all()
    assert window.save_json_to(tmp_path / "results.jsonl")
    line = json.loads((tmp_path / "results.jsonl").read_text())
    assert line == shown.result.to_dict() and line["results"]["classify"]["labels"][0] == "green"
    assert "saved" in window.messages.text()
    window.copy()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasImage() and json.loads(mime.text())["schema_version"] == 1


def test_export_a_whole_video(qtbot, make_window, video, tmp_path):
    window = make_window()
    wait_result(qtbot, window, lambda: window.open_source(str(video)))
    out = tmp_path / "annotated.mp4"
    text = wait_message(qtbot, window, lambda: window.export_video_to(out), "frames", timeout=10000)
    assert "wrote 12 frames" in text
    lines = (tmp_path / "annotated.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[-1])["frame"] == 11
    assert out.stat().st_size > 0
    qtbot.waitUntil(lambda: window._export is None, timeout=3000)


def test_settings_remember_folder_device_and_layout(qtbot, make_window, images):
    window = make_window(device=None)  # from the settings: auto
    wait_result(qtbot, window, lambda: window.open_source(str(images / "img1_red.png")))
    assert window.tasks_panel.device.currentText() == "auto"
    window.tasks_panel.device.setCurrentText("cpu")
    window.close()
    settings = Settings()
    assert settings.last_folder == str(images) and settings.device == "cpu"
    assert settings.geometry() is not None and settings.tasks == ["classify"]


def test_thread_registry_sees_a_running_thread(qtbot):
    obj = QObject()
    thread = start_in_thread(obj, "test thread")
    assert "test thread" in running_threads()
    thread.quit()
    assert thread.wait(2000)
    assert "test thread" not in running_threads()


def test_a_leaking_pyside_is_refused_with_the_fix(monkeypatch):
    import sys

    from visionkit.errors import DependencyError
    from visionkit.gui import compat

    monkeypatch.setattr(compat, "_checked", False)
    monkeypatch.setattr(compat, "_leaks", lambda: True)
    if sys.version_info >= (3, 12):
        compat.check_pyside()  # the bug cannot bite there: nothing to refuse
        return
    with pytest.raises(DependencyError, match="PySide6-Essentials<6.12"):
        compat.check_pyside()
