"""The caption panel: captions with scores, words as links; a clicked word heats the canvas where it looked."""

from __future__ import annotations

import numpy as np

from visionkit.data.captions import caption_scene
from visionkit.data.shapeworld import render
from visionkit.imageio import write_image
from visionkit.overlays import render as render_overlays
from visionkit.plugins.caption.panel import CaptionPanel
from visionkit.results import Caption

from .conftest import wait_result


def _caption(words=(("red", "star"), ("a", "star"))) -> Caption:
    attention = tuple(np.full((len(w), 2, 2), 0.25, np.float32) for w in words)
    return Caption(tuple(" ".join(w) for w in words), np.array([0.8, 0.1], np.float32)[:len(words)], words,
                   attention, (0, 0, 32, 32))


def test_the_panel_lists_captions_and_picks_words(qtbot):
    panel = CaptionPanel()
    qtbot.addWidget(panel)
    panel.update_result(_caption())
    assert panel.summary.text() == "2 captions"
    assert panel.captions() == [("red star", 0.800000011920929), ("a star", 0.10000000149011612)]
    assert 'href="3"' in panel.text.text()  # "star" of the second caption: the fourth word
    with qtbot.waitSignal(panel.highlight_requested) as blocker:
        panel.text.linkActivated.emit("3")
    assert blocker.args == [3] and panel.highlighted == 3 and "<u>star</u>" in panel.text.text()
    with qtbot.waitSignal(panel.highlight_requested) as blocker:
        panel.pick(3)  # the same word again clears it
    assert blocker.args == [None] and panel.highlighted is None
    panel.pick(3)
    with qtbot.waitSignal(panel.highlight_requested) as blocker:  # a new frame without that word drops it
        panel.update_result(_caption((("blue", "ring"),)))
    assert blocker.args == [None] and panel.summary.text() == "1 caption"


def test_clicking_a_word_shows_its_attention_on_the_canvas(qtbot, make_window, tmp_path):
    path = tmp_path / "scene.png"
    write_image(path, render(caption_scene(10000, 1).scene))
    window = make_window(tasks=["caption"], models={})
    shown = wait_result(qtbot, window, lambda: window.open_source(str(path)), timeout=20000)
    panel = window.panels.panels["caption"]
    assert isinstance(panel, CaptionPanel)
    result = shown.result["caption"]
    assert panel.captions()[0][0] == result.text and result.text
    plain = window.canvas.rendered.copy()
    panel.pick(1)
    assert window.canvas.highlight == {"caption": 1}
    assert not np.array_equal(window.canvas.rendered, plain)
    assert np.array_equal(window.canvas.rendered,
                          render_overlays(shown.result, tasks=window.canvas.visible_tasks(), highlight={"caption": 1}))
