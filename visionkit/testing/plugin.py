"""The pytest plugin of visionkit: fixtures for testing visionkit plugins.

Installed with visionkit (entry point ``pytest11``), so a plugin's tests use them without a
conftest:

* ``visionkit_plugin(name, module)`` registers a plugin in-process for the test (no
  ``pip install``, no entry point) and undoes it afterwards;
* ``tiny_backbone`` is a tiny shared backbone ONNX with its card (needs the ``onnx`` package);
* ``sample_images`` are small seeded RGB pictures, ``sample_video`` a short mp4 clip.

:func:`contract_test` turns :func:`visionkit.testing.check_task` into a test parametrised
over a plugin's tasks. Every pytest session of a project with visionkit installed loads this
module, so it imports nothing of visionkit until a fixture is used.
"""

from __future__ import annotations

import importlib
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pytest


@pytest.fixture
def visionkit_plugin() -> Iterator[Callable[..., Any]]:
    """Register plugins for one test: ``visionkit_plugin("motion", module)``.

    ``module`` is a module, an object with hookimpls, or its import path
    (``"visionkit_motion.plugin"``). The installed plugins stay, except one of the same name,
    which the in-process one replaces. Calls add up; each returns the
    :class:`~visionkit.plugin_manager.Plugins` now in use. A plugin that fails to load fails
    the test with its reason, unless ``check=False``.
    """
    stack = ExitStack()
    added: list[tuple[str, object]] = []

    def register(name: str, plugin: object, *, check: bool = True):
        from importlib import metadata

        from visionkit.plugin_manager import ENTRY_POINT_GROUP, plugins_added

        added.append((name, importlib.import_module(plugin) if isinstance(plugin, str) else plugin))
        names = {n for n, _ in added}
        installed = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name not in names]
        plugins = stack.enter_context(plugins_added(*added, entry_points=installed))
        failed = [i for i in plugins.infos if i.name in names and i.status != "loaded"]
        if check and failed:
            pytest.fail(f"plugin {failed[0].name!r} did not load: {failed[0].error}", pytrace=False)
        return plugins

    with stack:
        yield register


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory):
    """A tiny shared backbone (``.path``, ``.card``, ``.hash``, ``.channels``): NHWC uint8
    input, ``c2``..``c5`` at strides 4 to 32, seeded weights; made once per session."""
    pytest.importorskip("onnx", reason="the tiny backbone is built with the onnx package "
                                       "(pip install 'visionkit[train]' or onnx)")
    from visionkit.testing.models import make_tiny_backbone

    return make_tiny_backbone(tmp_path_factory.mktemp("visionkit-backbone") / "tiny_backbone.onnx")


@pytest.fixture
def sample_images() -> list:
    """Three small seeded ShapeWorld pictures (RGB uint8, 96 x 128), fresh copies per test."""
    return [image.copy() for image in _images()]


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-frame mp4 at 10 fps (96 x 128): a still scene, then a disc crossing it."""
    from visionkit.testing.samples import moving_frames, write_video

    return write_video(tmp_path_factory.mktemp("visionkit-video") / "sample.mp4", moving_frames(12))


_cache: dict[str, list] = {}


def _images() -> list:
    if "images" not in _cache:
        from visionkit.testing.samples import sample_images as make

        _cache["images"] = make()
    return _cache["images"]


def contract_test(tasks: Iterable[str], *, plugin: tuple[str, object] | None = None,
                  models: Mapping[str, Any] | None = None, **check: Any) -> Callable[..., None]:
    """A test function, parametrised over ``tasks``, that holds each to the contract::

        test_contract = contract_test(["motion", "cartoon"], plugin=("motion", "visionkit_motion.plugin"))

    :param plugin: ``(name, module)`` to register in-process first; None to test the
        installed plugins.
    :param models: a model per task that needs one.
    :param check: further arguments of :func:`visionkit.testing.check_task` (``budget_ms``,
        ``options``, ...); the clip is the ``sample_video`` fixture unless ``video`` is given.
    """

    @pytest.mark.parametrize("task", list(tasks))
    def test_contract(task: str, request: pytest.FixtureRequest) -> None:
        from visionkit.testing.contract import assert_task

        if plugin is not None:
            request.getfixturevalue("visionkit_plugin")(*plugin)
        kwargs = dict(check)
        kwargs.setdefault("video", request.getfixturevalue("sample_video"))
        assert_task(task, model=(models or {}).get(task), **kwargs)

    return test_contract
