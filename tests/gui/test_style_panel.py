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
