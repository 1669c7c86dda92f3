"""GUI test fixtures: offscreen Qt, settings in tmp_path, tiny models, and a guard that fails
any test leaving a QThread or a Python thread running."""

from __future__ import annotations

import importlib.util
import threading
import time
import types

import numpy as np
import pytest

from visionkit import plugin_manager

HAVE_QT = all(importlib.util.find_spec(m) is not None for m in ("PySide6", "pytestqt"))
if not HAVE_QT:  # without the gui extra (or pytest-qt) these tests are not collected
    collect_ignore_glob = ["test_*.py"]
else:
    from visionkit.gui.compat import check_pyside

    check_pyside()  # fail fast on a PySide6 that would abort the interpreter mid-run
from visionkit.hookspecs import hookimpl  # noqa: E402
from visionkit.imageio import write_image  # noqa: E402
from visionkit.registry import TaskSpec  # noqa: E402


def pytest_collection_modifyitems(items):
    """Every GUI test fails on a Qt warning (the offscreen platform's one harmless note aside)."""
    for item in items:
        if "tests/gui/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))


@pytest.fixture(autouse=True)
def gui_settings(tmp_path, monkeypatch):
    """Settings go to tmp_path (never the real home); no startup printing."""
    path = tmp_path / "settings" / "visionkit-gui.ini"
    monkeypatch.setenv("VISIONKIT_GUI_SETTINGS", str(path))
    monkeypatch.delenv("VISIONKIT_GUI_STARTUP", raising=False)
    return path


@pytest.fixture(autouse=True)
def no_threads_left(request):
    """Fail the test when it leaves threads running (checked after its windows are closed:
    qtbot, requested later, is torn down first)."""
    qapp = request.getfixturevalue("qapp")
    before = set(threading.enumerate())
    yield
    from visionkit.gui.threads import running_threads

    deadline = time.monotonic() + 3.0
    while True:
        qt_left = running_threads()
        py_left = [t.name for t in threading.enumerate()
                   if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)]
        if not qt_left and not py_left:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"test left threads running: {qt_left + py_left}")
        qapp.processEvents()
        time.sleep(0.01)


@pytest.fixture
def images(tmp_path, solid_image):
    """A folder of red, green and blue images (natural order: 1, 2, 10)."""
    folder = tmp_path / "images"
    for name, rgb in (("img1_red.png", (230, 10, 10)), ("img2_green.png", (10, 230, 10)),
                      ("img10_blue.png", (10, 10, 230))):
        write_image(folder / name, solid_image(rgb, 80, 60))
    return folder


@pytest.fixture
def video(tmp_path):
    """A 12-frame MJPG video whose colour goes from red to blue."""
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    assert writer.isOpened()
    for i in range(12):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:] = (20 * i, 0, 240 - 20 * i)  # BGR: red fades to blue
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def make_window(qtbot, tiny_models):
    """``make_window(**kwargs)`` -> a shown MainWindow running classify on the tiny head."""
    from visionkit.gui.main_window import MainWindow

    windows = []

    def make(**kwargs):
        kwargs.setdefault("tasks", ["classify"])
        kwargs.setdefault("models", {"classify": str(tiny_models["head"])})
        kwargs.setdefault("device", "cpu")
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def wait_result(qtbot, window, action, check=None, timeout=5000):
    """Run ``action()`` and return the next Shown that passes ``check``."""
    with qtbot.waitSignal(window.result_shown, timeout=timeout,
                          check_params_cb=check or (lambda shown: True)) as blocker:
        action()
    return blocker.args[0]


def wait_message(qtbot, window, action, contains, timeout=5000):
    with qtbot.waitSignal(window.message_shown, timeout=timeout,
                          check_params_cb=lambda text: contains in text) as blocker:
        action()
    return blocker.args[0]


# -- a second task on the same backbone, and one whose result has no panel ------------------------
from visionkit.plugins.classify.runtime import ClassifyTask  # noqa: E402


class ColourTask(ClassifyTask):
    name = "colour"


class Tally:
    """A result type no plugin has a panel (or painter) for."""

    kind = "tally"

    def __init__(self, n):
        self.n = n

    def to_dict(self):
        return {"count": self.n}


class TallyTask(ClassifyTask):
    name = "tally"

    def decode(self, outputs, inputs):
        return Tally(int(super().decode(outputs, inputs).class_ids[0]) + 1)


class SlowTask(ClassifyTask):
    """Takes 0.3 s per frame, like a big model on a small CPU."""

    name = "slow"

    def decode(self, outputs, inputs):
        time.sleep(0.3)
        return super().decode(outputs, inputs)


def _retask(head, task, tmp_path):
    import onnx

    from visionkit.cards import ModelCard

    model = onnx.load(str(head))
    model.metadata_props[0].value = ModelCard.from_json(model.metadata_props[0].value).with_(task=task).to_json()
    out = tmp_path / "models" / f"{task}_head.onnx"
    onnx.save(model, str(out))
    return out


@pytest.fixture
def extra_tasks(tiny_models, tmp_path):
    """Installs plugin 'extra' with tasks 'colour' (Classification), 'tally' (no panel) and
    'slow' (0.3 s per frame)."""
    heads = {t: _retask(tiny_models["head"], t, tmp_path) for t in ("colour", "tally", "slow")}

    @hookimpl
    def visionkit_register_tasks(registry):
        for task, cls in (("colour", "ColourTask"), ("tally", "TallyTask"), ("slow", "SlowTask")):
            registry.add(TaskSpec(name=task, summary=f"test {task}", factory=f"tests.gui.conftest:{cls}",
                                  default_model=str(heads[task])))

    plugin = types.SimpleNamespace(visionkit_register_tasks=visionkit_register_tasks)
    with plugin_manager.plugins_added(("extra", plugin)):
        yield heads
