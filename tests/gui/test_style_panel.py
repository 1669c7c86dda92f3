"""The Style panel's before/after split: the panel asks for a split, the painter draws the
original frame left of it."""

from __future__ import annotations

import numpy as np

from visionkit.plugins.style.painter import SPLIT_STEPS, draw_styled
from visionkit.plugins.style.panel import StylePanel
from visionkit.results import StyledImage


def _styled():
    original = np.zeros((20, 40, 3), np.uint8)
    return StyledImage(np.full((20, 40, 3), 200, np.uint8), style="negative", info={"postprocess_ms": 3.0},
                       original=original)


def test_split_draws_the_original_left_of_the_line():
    result = _styled()
    canvas = result.image.copy()
    draw_styled(canvas, result, highlight=SPLIT_STEPS // 2)
    assert (canvas[:, :18] == 0).all() and (canvas[:, 23:] == 200).all()
    untouched = result.image.copy()
    draw_styled(untouched, result, highlight=None)
    assert (untouched == 200).all()


def test_the_panel_asks_for_a_split_only_when_comparing(qtbot):
    panel = StylePanel()
    qtbot.addWidget(panel)
    panel.update_result(_styled())
    assert "40x20 in the style of negative" in panel.summary.text()
    with qtbot.assertNotEmitted(panel.highlight_requested):
        panel.split.setValue(300)
    with qtbot.waitSignal(panel.highlight_requested) as blocker:
        panel.compare.setChecked(True)
    assert blocker.args == [300]
    with qtbot.waitSignal(panel.highlight_requested) as blocker:
        panel.split.setValue(700)
    assert blocker.args == [700]
    with qtbot.waitSignal(panel.highlight_requested) as blocker:
        panel.compare.setChecked(False)
    assert blocker.args == [None]


def test_comparing_in_the_app_redraws_the_canvas(qtbot, make_window, tmp_path):
    from visionkit.imageio import write_image

    from ..test_style import make_image_model
    from .conftest import wait_result

    model = make_image_model(tmp_path / "negative.onnx", size=32)
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    write_image(tmp_path / "photo.png", frame)
    window = make_window(tasks=["style"], models={"style": str(model)})
    wait_result(qtbot, window, lambda: window.open_source(str(tmp_path / "photo.png")), timeout=20000)
    styled = window.canvas.rendered.copy()
    panel = window.panels.panels["style"]
    assert isinstance(panel, StylePanel)
    panel.split.setValue(SPLIT_STEPS)  # all the way: the original everywhere
    panel.compare.setChecked(True)
    assert window.canvas.highlight == {"style": SPLIT_STEPS}
    assert not np.array_equal(window.canvas.rendered, styled)
    panel.compare.setChecked(False)
    assert np.array_equal(window.canvas.rendered, styled)


def test_the_pickers_ask_for_a_style_and_a_strength(qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from visionkit.imageio import write_image

    panel = StylePanel()
    qtbot.addWidget(panel)
    panel.show_options({"style": "mosaic", "strength": 0.5})
    assert panel.style_list.currentData() == "mosaic" and panel.strength.value() == 50
    assert not panel.preview.pixmap().isNull()  # the painting is shown
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.style_list.activated.emit(panel.style_list.findData("ink"))
    assert blocker.args == ["style", "ink"]
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.strength.setValue(30)
    assert blocker.args == ["strength", 0.3]
    picture = write_image(tmp_path / "starry.png", np.full((40, 40, 3), 90, np.uint8))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture))])
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(panel.option_requested) as blocker:
        panel.dropEvent(drop)
    assert blocker.args == ["style", str(picture)]
    assert panel.style_list.currentText() == "starry.png"  # the list keeps the chosen picture


def test_a_picked_style_repaints_the_frame_in_the_app(qtbot, make_window, tmp_path):
    from visionkit.imageio import write_image

    from .conftest import wait_result

    frame = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    write_image(tmp_path / "photo.png", frame)
    window = make_window(tasks=["style"])
    wait_result(qtbot, window, lambda: window.open_source(str(tmp_path / "photo.png")), timeout=30000)
    before = window.canvas.rendered.copy()
    panel = window.panels.panels["style"]
    wait_result(qtbot, window, lambda: panel.request_style("bands:4"), timeout=30000)
    assert not np.array_equal(window.canvas.rendered, before)
    assert "bands:4" in panel.summary.text()
    assert window.tasks_panel.boxes["style"].editors["style"].text() == "bands:4"


def test_a_refused_style_is_not_kept(qtbot, make_window, tmp_path):
    from visionkit.imageio import write_image

    from .conftest import wait_message, wait_result

    write_image(tmp_path / "photo.png", np.full((48, 64, 3), 120, np.uint8))
    window = make_window(tasks=["style"])
    wait_result(qtbot, window, lambda: window.open_source(str(tmp_path / "photo.png")), timeout=30000)
    panel = window.panels.panels["style"]
    wait_result(qtbot, window, lambda: panel.request_style("dots:3"), timeout=30000)
    (tmp_path / "page.png").write_text("<html></html>")
    wait_message(qtbot, window, lambda: panel.request_style(str(tmp_path / "page.png")), "not an image",
                 timeout=30000)
    qtbot.waitUntil(lambda: panel.style_list.currentData() == "dots:3", timeout=10000)
    assert window._options["style"]["style"] == "dots:3"
    if window.settings.persist:
        assert window.settings.options["style"]["style"] == "dots:3"


def test_a_style_picked_on_the_live_webcam_paints_the_next_frames(qtbot, make_window):
    from .test_sources import FakeCapture

    capture = FakeCapture()
    window = make_window(tasks=["style"], camera_factory=lambda index: capture)
    seen = []
    window.result_shown.connect(lambda shown: seen.append(window.canvas.rendered.copy()))
    with qtbot.waitSignal(window.playing_changed, timeout=5000):
        window.open_camera()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=30000)
    panel = window.panels.panels["style"]
    panel.request_style("bands:2")
    qtbot.waitUntil(lambda: "bands:2" in panel.summary.text(), timeout=30000)
    count = len(seen)
    qtbot.waitUntil(lambda: len(seen) >= count + 2, timeout=30000)  # the camera goes on
    assert not np.array_equal(seen[0], seen[-1])
    window.close()
    assert capture.released.wait(5)
