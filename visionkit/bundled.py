"""Models and sample images shipped inside the package (the repository's ``assets/``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ModelError

PREFIX = "asset:"


def assets_dir() -> Path:
    return Path(str(resources.files("visionkit.assets")))


def models_dir() -> Path:
    return assets_dir() / "models"


def samples() -> list[Path]:
    """The bundled sample images, sorted by name."""
    folder = assets_dir() / "samples"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg"))


def sample_picture() -> Path:
    """The bundled 320x240 sample scene: a default picture for benchmarks and examples."""
    return next(p for p in samples() if "320x240" in p.name)


def resolve_model(ref: str | Path) -> Path:
    """``asset:NAME.onnx`` -> the bundled file; anything else is a path, returned as is."""
    text = str(ref)
    if not text.startswith(PREFIX):
        return Path(text).expanduser()
    path = models_dir() / text[len(PREFIX):]
    if not path.is_file():
        raise ModelError(f"bundled model {text[len(PREFIX):]!r} is missing from {models_dir()}")
    return path
