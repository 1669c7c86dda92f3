"""visionkit: one CNN backbone run once per frame through onnxruntime, many task heads on it.

    >>> import visionkit as vk
    >>> pipe = vk.Pipeline(["classify"])
    >>> pipe("photo.png")["classify"].top

Names are imported lazily, so ``import visionkit`` stays cheap and never imports torch or Qt.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "Pipeline": "visionkit.pipeline",
    "predict": "visionkit.pipeline",
    "open_input": "visionkit.pipeline",
    "FrameResult": "visionkit.results",
    "Classification": "visionkit.results",
    "ModelCard": "visionkit.cards",
    "InputSpec": "visionkit.cards",
    "load_model": "visionkit.runtime",
    "render": "visionkit.overlays",
    "evaluate": "visionkit.evaluators",
    "read_image": "visionkit.imageio",
    "AnnotatedWriter": "visionkit.writers",
    "SaveWriters": "visionkit.writers",
    "JsonLinesWriter": "visionkit.writers",
    "VisionkitError": "visionkit.errors",
    "hookimpl": "visionkit.hookspecs",
    "batch": "visionkit.jobs",
    "BatchReport": "visionkit.jobs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'visionkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
