"""A kit for testing visionkit plugins: the task contract, sample material, a tiny backbone.

    from visionkit.testing import assert_task, contract_test

    test_contract = contract_test(["motion"], plugin=("motion", "visionkit_motion.plugin"))

* :func:`check_task` / :func:`assert_task` (:mod:`.contract`): run a task the way visionkit
  does and report what breaks the result protocol, stability, determinism, ``reset()``,
  rendering or the time budget. No pytest needed: ``visionkit plugin check`` uses it.
* :func:`contract_test` (:mod:`.plugin`): the same as a parametrised pytest test.
* :func:`sample_images`, :func:`moving_frames`, :func:`write_video` (:mod:`.samples`).
* :func:`make_tiny_backbone` (:mod:`.models`): a tiny shared backbone, built with ``onnx``.

The pytest fixtures (``visionkit_plugin``, ``tiny_backbone``, ``sample_images``,
``sample_video``) come with visionkit's pytest plugin, :mod:`visionkit.testing.plugin`.
Names load on first use, so importing this package imports neither pytest nor onnx.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "check_task": "contract",
    "check_tasks": "contract",
    "assert_task": "contract",
    "TaskReport": "contract",
    "ContractWarning": "contract",
    "DEFAULT_BUDGET_MS": "contract",
    "sample_images": "samples",
    "moving_frames": "samples",
    "write_video": "samples",
    "make_tiny_backbone": "models",
    "TinyBackbone": "models",
    "contract_test": "plugin",  # the only one that imports pytest
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'visionkit.testing' has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
