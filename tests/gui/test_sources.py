"""Opening things in the app: images, folders, videos, cameras, the clipboard, drops; errors."""

import threading
import time
import types

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication

from visionkit.gui.canvas import to_qimage
from visionkit.sources import Frame, Source

from .conftest import wait_message, wait_result


def test_open_image_shows_overlay_panel_and_status(qtbot, make_window, images):
    window = make_window()
    path = str(images / "img1_red.png")
    shown = wait_result(qtbot, window, lambda: window.open_source(path))
    result = shown.result
    assert result.ok and result["classify"].top[0] == "red"
    # the canvas shows the core renderer's overlay: top-left differs from the plain frame
    assert window.canvas.rendered.shape == result.image.shape
    assert not np.array_equal(window.canvas.rendered[:10, :10], result.image[:10, :10])
    assert window.panels.panels["classify"].rows()[0][0] == "red"
    assert "backbone" in window.status.timings.text() and "ms" in window.status.timings.text()
    assert window.status.provider.text() == "CPU"
    assert "classify=tiny_head.onnx" in window.status.models.text()
    assert window.player.position.text() == "1 / 1"
    assert "img1_red.png" in window.windowTitle()


def test_folder_next_previous_and_a_bad_file_among_them(qtbot, make_window, images):
    (images / "img3_bad.png").write_text("this is no image")
    window = make_window()
    first = wait_result(qtbot, window, lambda: window.open_source(str(images)))
    assert first.result["classify"].top[0] == "red" and first.count == 4
    # natural order: img1, img2, img3_bad, img10
    assert wait_result(qtbot, window, window.next).result["classify"].top[0] == "green"
    bad = wait_result(qtbot, window, window.next)  # not skipped: the bad file is reported
    assert bad.position == 2 and bad.result.error and "not an image" in bad.result.error
    assert "not an image" in window.messages.text()
    assert window.canvas.rendered is None
    last = wait_result(qtbot, window, window.next)
    assert last.result["classify"].top[0] == "blue" and window.player.position.text() == "4 / 4"
    back = wait_result(qtbot, window, window.previous)
    assert back.position == 2
    first_again = wait_result(qtbot, window, window.first)
    assert first_again.result["classify"].top[0] == "red"


def test_bad_inputs_show_a_message_and_the_app_keeps_working(qtbot, make_window, images, tmp_path):
    window = make_window()
    good = wait_result(qtbot, window, lambda: window.open_source(str(images / "img2_green.png")))
    (tmp_path / "notes.png").write_text("hello")
    text = wait_message(qtbot, window, lambda: window.open_source(str(tmp_path / "notes.png")), "not an image")
    assert "notes.png" in text
    wait_message(qtbot, window, lambda: window.open_source(str(tmp_path / "missing.jpg")), "no such file")
    assert window.canvas.result is not None  # a file that never opened leaves the picture alone
    again = wait_result(qtbot, window, lambda: window.open_source(str(images / "img10_blue.png")))
    assert again.result.ok and again.result["classify"].top[0] == "blue" and good.result.ok
    assert window.isVisible()


def test_video_step_seek_play_to_the_end(qtbot, make_window, video):
    window = make_window()
    first = wait_result(qtbot, window, lambda: window.open_source(str(video)))
    assert first.kind == "video" and first.position == 0 and first.count == 12
    assert window.media.fps == 25.0
    assert wait_result(qtbot, window, window.step_forward).position == 1
    seek = wait_result(qtbot, window, lambda: window.player.go.emit(8))
    assert seek.position == 8 and window.player.slider.value() == 8
    assert wait_result(qtbot, window, window.step_back).position == 7
    window.worker.set_speed(0)  # as fast as inference goes
    seen = []
    window.result_shown.connect(lambda s: seen.append(s.position))
    with qtbot.waitSignal(window.playing_changed, check_params_cb=lambda on: not on, timeout=5000):
        window.toggle_play()
    assert seen == [8, 9, 10, 11]  # every frame, in order, none twice
    assert window.status.fps.text().endswith("FPS")
    # at the end, play starts over
    assert wait_result(qtbot, window, window.toggle_play).position == 0
    window.worker.play(False)


@pytest.fixture
def cut_video(tmp_path):
    """A 20-frame MJPG AVI cut in half: its header still declares 20 frames, about 9 decode."""
    import cv2

    path = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(20):  # noise: frames of some size, so half the file is half the frames
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_video_that_declares_more_frames_than_it_has_ends_where_it_really_ends(qtbot, make_window,
                                                                                  cut_video):
    window = make_window()
    notes = []
    window.message_shown.connect(notes.append)
    first = wait_result(qtbot, window, lambda: window.open_source(str(cut_video)))
    assert first.count == 20 and window.player.slider.maximum() == 19  # all the header says, so far
    window.worker.set_speed(0)
    with qtbot.waitSignal(window.playing_changed, check_params_cb=lambda on: not on, timeout=5000):
        window.toggle_play()
    real = window.media.count
    assert 5 <= real < 20 and window.shown.position == real - 1
    assert window.player.slider.maximum() == real - 1
    assert window.player.position.text() == f"{real} / {real}"
    said = [n for n in notes if "declares 20 frames" in n]
    assert said == [f"{cut_video}: the file declares 20 frames; {real} could be decoded"]
    assert window.messages.text().startswith(said[0])
    # playing again starts over and meets the same end without saying it again
    assert wait_result(qtbot, window, window.toggle_play).position == 0
    qtbot.waitUntil(lambda: not window.player._play.isChecked(), timeout=5000)
    assert [n for n in notes if "declares" in n] == said


def test_a_jump_past_the_real_end_of_a_video_shows_its_last_frame(qtbot, make_window, cut_video):
    window = make_window()
    wait_result(qtbot, window, lambda: window.open_source(str(cut_video)))
    with qtbot.waitSignal(window.message_shown, timeout=5000,
                          check_params_cb=lambda text: "could be decoded" in text):
        window.last()  # frame 20 of the header's 20: not in the file
    qtbot.waitUntil(lambda: window.shown.position == window.media.count - 1, timeout=5000)
    real = window.media.count
    assert real < 20 and window.player.position.text() == f"{real} / {real}"
    assert window.player.slider.value() == window.player.slider.maximum() == real - 1


class FakeCapture:
    """A camera delivering numbered frames as fast as it can."""

    def __init__(self, opened=True):
        self.opened, self.n, self.released = opened, 0, threading.Event()

    def isOpened(self):
        return self.opened

    def set(self, *args):
        return True

    def read(self):
        time.sleep(0.002)
        self.n += 1
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:] = (0, 0, 200)
        return True, frame

    def release(self):
        self.released.set()


def test_camera_keeps_the_newest_frame_and_stops_cleanly(qtbot, make_window):
    capture = FakeCapture()
    window = make_window(camera_factory=lambda index: capture)
    window.player.camera_index.setValue(2)
    positions = []
    window.result_shown.connect(lambda s: positions.append(s.position))
    with qtbot.waitSignal(window.playing_changed, timeout=3000):
        window.open_camera()
    qtbot.waitUntil(lambda: len(positions) >= 5, timeout=5000)
    assert window.media.kind == "live" and window.media.name == "webcam:2"
    assert positions == sorted(set(positions))  # newest frame each time, never one twice
    assert window.status.fps.text().endswith("FPS")
    window.close()
    assert capture.released.wait(2)


def test_missing_camera_shows_a_message(qtbot, make_window):
    window = make_window(camera_factory=lambda index: FakeCapture(opened=False))
    window.player.camera_index.setValue(3)
    text = wait_message(qtbot, window, window.open_camera, "no camera")
    assert "webcam:3" in text and window.isVisible()


def test_paste_an_image_and_drop_files(qtbot, make_window, images, solid_image):
    window = make_window()
    QGuiApplication.clipboard().setImage(to_qimage(solid_image((10, 220, 10), 40, 30)))
    pasted = wait_result(qtbot, window, window.paste)
    assert pasted.result.source == "clipboard" and pasted.result["classify"].top[0] == "green"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images / "img10_blue.png")), QUrl.fromLocalFile(str(images / "img1_red.png"))])
    dropped = wait_result(qtbot, window, lambda: window.canvas.dropped.emit(mime))
    assert dropped.count == 2 and dropped.result["classify"].top[0] == "blue"
    QGuiApplication.clipboard().setText("")
    wait_message(qtbot, window, window.paste, "clipboard")


def test_keyboard_shortcuts(qtbot, make_window, images):
    window = make_window()
    wait_result(qtbot, window, lambda: window.open_source(str(images)))
    shown = wait_result(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
    assert shown.position == 1
    shown = wait_result(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_End))
    assert shown.position == 2
    keys = {name: action.shortcut().toString() for name, action in window.action_map.items()}
    assert keys["open"] == "Ctrl+O" and keys["save"] == "Ctrl+S" and keys["copy"] == "Ctrl+C"
    assert keys["play"] == "Space" and keys["zoom_fit"] == "Ctrl+0" and keys["quit"] == "Ctrl+Q"
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.zoom == 1.0
    window.zoom_in()
    assert abs(window.canvas.zoom - 1.25) < 1e-6
    window.zoom_fit()
    assert window.canvas.zoom != 1.25


class Ticker(Source):
    """A plugin's kind of input that can only be read in order (a network stream, say)."""

    name = "fake://camera"

    def __iter__(self):
        for value in (10, 20):
            yield Frame(np.full((32, 32, 3), value, np.uint8), self.name, value // 10 - 1)


def make_plugin_source(spec, **options):
    return Ticker()


def test_a_plugin_source_that_cannot_seek_plays_as_a_stream(qtbot, make_window):
    from visionkit import plugin_manager
    from visionkit.hookspecs import hookimpl
    from visionkit.registry import SourceSpec

    @hookimpl
    def visionkit_register_sources(registry):
        registry.add(SourceSpec(name="fake", summary="", prefixes=("fake://",),
                                opener="tests.gui.test_sources:make_plugin_source"))

    plugin = types.SimpleNamespace(visionkit_register_sources=visionkit_register_sources)
    with plugin_manager.plugins_added(("fake", plugin)):
        window = make_window()
        first = wait_result(qtbot, window, lambda: window.open_source("fake://camera"))
        assert first.kind == "stream" and first.count is None and int(first.result.image[0, 0, 0]) == 10
        assert int(wait_result(qtbot, window, window.next).result.image[0, 0, 0]) == 20
        wait_message(qtbot, window, window.next, "stream ended")
