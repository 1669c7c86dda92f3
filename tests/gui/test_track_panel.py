"""The tracks panel: tracks by id with their ages, a run's id count, the selected track's path.

The panel is fed synthetic ``Tracks`` (with ``FrameResult``s around them, as the host passes),
so nothing depends on a detector or the tracker itself.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from visionkit.gui.panels import PanelHost
from visionkit.plugins.track.painter import id_colour
from visionkit.plugins.track.panel import AGE, ID, MAX_IDS, TracksPanel
from visionkit.plugins.track.tracker import ByteTracker

from visionkit.cli import main
from visionkit.overlays import render
from visionkit.plugin_manager import get_plugins
from visionkit.results import FrameResult, Tracks

LABELS = {1: "car", 2: "person", 3: "person", 4: "dog"}


def tracks(ids, ages, shift=0.0, trail_len=5) -> Tracks:
    """Tracks ``ids`` of the given ``ages``, box k at x = 20 k (+ shift); each trail holds the
    last ``min(age, trail_len)`` centres (NaN before), moving 2 px right per frame."""
    n = len(ids)
    x = np.array([20.0 * i + shift for i in ids], np.float32)
    boxes = np.stack([x, x * 0 + 10, x + 12, x * 0 + 30], axis=1).astype(np.float32).reshape(n, 4)
    trails = np.full((n, trail_len, 2), np.nan, np.float32)
    for k, age in enumerate(ages):
        m = min(age, trail_len)
        trails[k, trail_len - m:, 0] = x[k] + 6 - 2.0 * np.arange(m)[::-1]
        trails[k, trail_len - m:, 1] = 20.0
    return Tracks(np.array(ids, np.int64), boxes, np.linspace(0.9, 0.6, n).astype(np.float32),
                  np.array([i % 3 for i in ids], np.int64), tuple(LABELS.get(i, "cat") for i in ids),
                  np.array(ages, np.int64), trails)


def frame(number, result, source="clip.avi", fps=25.0, image=False) -> FrameResult:
    pixels = np.zeros((60, 120, 3), np.uint8) if image else None
    return FrameResult(source, number, 120, 60, "cpu", {}, {"track": result}, image=pixels, fps=fps)


def feed(panel, number, ids, ages, **kwargs) -> Tracks:
    result = tracks(ids, ages)
    panel.update_result(result, frame(number, result, **kwargs))
    return result


def make_panel(qtbot) -> tuple[TracksPanel, list]:
    panel = TracksPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 400)
    panel.show()
    seen: list = []
    panel.highlight_requested.connect(seen.append)
    return panel, seen


def click_id(qtbot, panel: TracksPanel, track_id: int) -> None:
    """Left-click the table row of track ``track_id``."""
    index = int(np.flatnonzero(panel.result.ids == track_id)[0])
    cell = panel.proxy.mapFromSource(panel.model.index(index, 1))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=panel.table.visualRect(cell).center())


def test_header_rows_ages_and_id_swatches(qtbot):
    panel, seen = make_panel(qtbot)
    assert panel.summary.text() == "Waiting for a frame…"
    feed(panel, 0, [1, 2, 3], [1, 1, 1])
    feed(panel, 1, [3, 1, 2], [2, 2, 2])
    feed(panel, 2, [4, 2, 3], [1, 3, 3])  # car 1 left, dog 4 came
    assert panel.summary.text() == ("3 tracks in this frame, 4 ids since the start; "
                                    "longest: #2 person, 3 frames (0.12 s)")
    assert [(r[0], r[1], r[3]) for r in panel.rows()] == [(2, "person", 3), (3, "person", 3), (4, "dog", 1)]
    assert panel.rows()[2][4] == (80.0, 10.0, 92.0, 30.0)
    model = panel.model
    assert model.index(1, AGE).data() == "3 (0.12 s)" and model.index(0, ID).data() == "#4"
    assert model.index(0, ID).data(Qt.ItemDataRole.DecorationRole) == QColor(*id_colour(4))
    assert seen == [] and not panel.path.isVisible()

    feed(panel, 3, [2], [4], fps=None)  # no frame rate: frames only
    assert panel.summary.text() == "1 track in this frame, 4 ids since the start; longest: #2 person, 4 frames"
    assert model.index(0, AGE).data() == "4"
    feed(panel, 4, [2], [5], fps=2.0)
    assert model.index(0, AGE).data() == "5 (2.5 s)"
    feed(panel, 5, [], [])
    assert panel.summary.text() == "No tracks in this frame; 4 ids since the start."
    assert not panel.table.isVisible()


def test_selection_stays_with_the_id_and_shows_its_path(qtbot):
    panel, seen = make_panel(qtbot)
    feed(panel, 10, [1, 2, 3], [1, 1, 1])
    feed(panel, 11, [1, 2, 3], [2, 2, 2])
    click_id(qtbot, panel, 3)
    assert seen == [2] and panel.highlighted == 2
    track = panel.selected_track()
    assert track["id"] == 3 and track["first"] == 10 and len(track["points"]) == 2 and track["length"] == 2.0
    assert panel.path.isVisible()
    assert panel.path.text() == "#3 person: path of 2 points, 2 px: (64, 20) → (66, 20); seen since frame 10: 2 frames (0.08 s)"
    assert panel.path.toolTip() == "64.0, 20.0\n66.0, 20.0"

    # the next frame: 3 is first now, 2 went, 5 came: the highlight moves to 3's new index
    result = feed(panel, 12, [3, 5, 1], [3, 1, 3])
    assert seen == [2, 0] and panel.highlighted == 0 and int(result.ids[0]) == 3
    selected = panel.table.selectionModel().selectedRows()
    assert len(selected) == 1 and selected[0].data() == "#3"
    assert panel.selected_track()["first"] == 10 and len(panel.selected_track()["points"]) == 3
    assert "path of 3 points, 4 px" in panel.path.text() and panel.path.text().endswith(": 3 frames (0.12 s)")
    feed(panel, 13, [5, 1, 3], [2, 4, 4])  # reordered again, same count of rows
    assert seen == [2, 0, 2] and panel.selected_track()["id"] == 3

    click_id(qtbot, panel, 3)  # the same row again: no highlight, no path
    assert seen[-1] is None and panel.selected_track() is None and not panel.path.isVisible()
    click_id(qtbot, panel, 1)
    feed(panel, 14, [5, 3], [3, 5])  # track 1 is gone: so is the highlight
    assert seen[-1] is None and panel.highlighted is None and not panel.table.selectionModel().selectedRows()


def test_the_same_frame_again_counts_nothing(qtbot):
    panel, seen = make_panel(qtbot)
    feed(panel, 0, [1, 2], [1, 1])
    result = feed(panel, 1, [1, 2], [2, 2])
    click_id(qtbot, panel, 2)
    panel.update_result(result, frame(1, result))  # a redraw: same frame, same ages
    assert panel.total == 2 and panel.seen[2] == (0, 1, 2) and seen == [1] and panel.highlighted == 1
    bare = tracks([1, 2], [3, 3])  # without a FrameResult: the same object is the same frame
    panel.update_result(bare)
    panel.update_result(bare)
    assert panel.total == 2 and panel.seen[2][2] == 3 and panel.now == 2


def test_a_new_run_resets_the_counts(qtbot):
    panel, seen = make_panel(qtbot)
    for n in range(5):
        feed(panel, n, [1, 2, 3 + n], [n + 1, n + 1, 1])
    assert panel.total == 7
    click_id(qtbot, panel, 2)
    # a seek forward: the tracker starts again, its ids from 1
    feed(panel, 40, [1, 2], [1, 1])
    assert panel.total == 2 and seen[-1] is None and panel.highlighted is None
    assert panel.seen == {1: (40, 40, 1), 2: (40, 40, 1)}
    feed(panel, 41, [1, 2, 3], [2, 2, 1])
    assert panel.total == 3
    # back within the same video: a new run, even before any track repeats
    feed(panel, 20, [], [])
    assert panel.total == 0 and panel.summary.text() == "No tracks in this frame; 0 ids since the start."
    feed(panel, 21, [1], [1])
    feed(panel, 22, [1, 2], [2, 1])
    # a new tracker (its options changed) without a jump: id 1 again, younger
    feed(panel, 23, [1], [1])
    assert panel.total == 1 and panel.seen[1] == (23, 23, 1)
    # an id below the highest, never seen, and younger than the run: a restart too
    for n in range(24, 28):
        feed(panel, n, [1, 5], [n - 22, n - 23] if n > 24 else [2, 1])
    feed(panel, 28, [3], [1])
    assert panel.total == 1 and list(panel.seen) == [3]

    # clear(): what a host calls on a new source
    click_id(qtbot, panel, 3)
    panel.clear()
    assert seen[-1] is None and panel.total == 0 and not panel.seen and panel.rows() == []
    assert panel.summary.text() == "Waiting for a frame…" and not panel.path.isVisible()


def test_a_real_tracker_reset_is_a_new_run(qtbot):
    panel, _ = make_panel(qtbot)
    tracker = ByteTracker()

    def step(number, boxes):
        out = tracker.update(np.array(boxes, float), np.full(len(boxes), 0.9), np.zeros(len(boxes), int), fps=25.0)
        result = Tracks(out.ids, out.boxes.astype(np.float32), out.scores.astype(np.float32), out.classes,
                        ("obj",) * len(out.ids), out.ages, out.trails)
        panel.update_result(result, frame(number, result))

    for n in range(20):  # two objects all along, a third from frame 5 to 12
        step(n, [[10 + 2 * n, 10, 40 + 2 * n, 40], [60, 30 + n, 90, 60 + n]] + [[90, 5, 110, 25]] * (5 <= n < 12))
    assert panel.total == 3 and panel.summary.text().endswith("longest: #1 obj, 20 frames (0.80 s)")
    panel.set_highlight(0)
    assert panel.path.text() == "#1 obj: path of 20 points, 38 px: (25, 25) → (63, 25); seen since frame 0: 20 frames (0.80 s)"
    tracker.reset()  # what the worker does on a seek
    step(50, [[10, 10, 40, 40]])
    assert panel.total == 1 and dict(panel.seen) == {1: (50, 50, 1)} and panel.highlighted is None


def test_what_is_not_a_new_run(qtbot):
    panel, _ = make_panel(qtbot)
    # the panel starts mid-stream: track 7 was lost when it began, and comes back older
    feed(panel, 100, [9, 10], [30, 20])
    feed(panel, 101, [9, 10, 7], [31, 21, 50])
    assert panel.total == 3
    # a track lost for a while comes back, older: the same track
    feed(panel, 102, [10], [22])
    feed(panel, 110, [9, 10], [40, 30])  # a camera that skipped frames
    assert panel.total == 3 and panel.seen[9] == (100, 110, 40)
    # a folder of frames: a source per frame, each frame number 0
    for k in range(3):
        feed(panel, 0, [9, 11], [41 + k, 1 + k], source=f"frames/{k:06d}.png")
    assert panel.total == 4 and panel.seen[11] == (111, 113, 3) and panel.now == 113


def test_memory_stays_bounded_on_a_long_stream(qtbot):
    panel, _ = make_panel(qtbot)
    for n in range(100):  # 10,000 distinct ids, 100 new a frame, and id 1 in every frame
        feed(panel, n, [1, *range(2 + 100 * n, 102 + 100 * n)], [n + 1] + [1] * 100)
    assert len(panel.seen) == MAX_IDS and panel.total == 10_001
    assert panel.seen[1] == (0, 99, 100)  # seen all along: never forgotten
    assert 10_001 in panel.seen and 2 not in panel.seen  # the ones unseen longest went
    assert len(panel.rows()) == 101 and panel.summary.text().startswith("101 tracks in this frame, 10001 ids")


def test_the_host_routes_the_highlight_to_the_canvas(qtbot):
    host = PanelHost()
    qtbot.addWidget(host)
    host.resize(420, 500)
    host.show()
    changes = []
    host.highlight_changed.connect(changes.append)
    first = tracks([1, 2, 3], [1, 1, 1])
    host.show_result(frame(0, first, image=True))
    panel = host.panels["track"]
    assert isinstance(panel, TracksPanel)
    click_id(qtbot, panel, 2)
    assert changes == [{"track": 1}] and host.highlight == {"track": 1}
    result = tracks([2, 3], [2, 2])  # track 2 is index 0 now
    shown = frame(1, result, image=True)
    host.show_result(shown)
    assert host.highlight == {"track": 0} and changes == [{"track": 1}]  # collected, not sent
    assert not np.array_equal(render(shown, highlight=host.highlight), render(shown))
    click_id(qtbot, panel, 2)  # the selected row again: no highlight
    assert changes[-1] == {} and host.highlight == {}


def test_the_track_plugin_registers_the_panel(capsys):
    spec = get_plugins().panels.for_kind("tracks")
    assert spec is not None and spec.factory == "visionkit.plugins.track.panel:TracksPanel" and spec.plugin == "track"
    assert main(["plugins"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("track "))
    assert "panels: tracks" in line
    # the plugin's registration loads no Qt (only the GUI imports the panel module)
    code = "import sys, visionkit.plugins.track as t; from visionkit.plugin_manager import get_plugins; " \
           "get_plugins(); print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
