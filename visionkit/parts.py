"""A model's other graphs: the files its card names in ``parts``, loaded and checked by core.

A task of several graphs (a two-stage detector's box head, a captioner's decoder step) ships
them beside its main model and names them by role::

    "parts": {"box_head": "shapeworld_detect_boxes.onnx"}

Each part must be a plain file name in the main model's folder: a card cannot reach other
folders (``../x.onnx``, absolute paths), so a downloaded model cannot make visionkit open
files elsewhere. A part exported for a backbone must name the same backbone, by hash, as the
main model: parts of two trainings never run together.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Iterable

from .errors import ModelError
from .runtime import OnnxModel, load_model


def part_path_error(name: object) -> str | None:
    """Why a card's part entry is not a plain file name beside the model, or None."""
    if not isinstance(name, str) or not name.strip():
        return "is not a file name"
    if name in (".", "..") or any(len(p.parts) != 1 or p.is_absolute()
                                  for p in (PurePosixPath(name), PureWindowsPath(name))):
        return "must be a file name beside the model, not a path"
    return None


def load_parts(model: OnnxModel, required: Iterable[str] = ()) -> dict[str, OnnxModel]:
    """The card's parts by role, with the main model's device and threads; one-line errors
    for a missing role, a path that leaves the folder, a missing file or another backbone."""
    card = model.card
    parts = dict(card.parts)
    missing = [role for role in required if role not in parts]
    if missing:
        raise ModelError(f"{model.path.name}: its card names no {missing[0]!r} part "
                         f"(a {card.task} model of this kind needs {', '.join(required)})")
    loaded: dict[str, OnnxModel] = {}
    for role, name in parts.items():
        why = part_path_error(name)
        if why is not None:
            raise ModelError(f"{model.path.name}: card part {role!r} = {name!r} {why}")
        path = model.path.with_name(name)
        if not path.is_file():
            raise ModelError(f"{model.path.name}: its {role} {name} is missing; keep the files together")
        part = load_model(path, device=model.device, threads=model.threads, spinning=model.spinning)
        want, got = card.backbone, part.card.backbone
        if (want is None) != (got is None) or (want is not None and want.hash != got.hash):
            raise ModelError(
                f"{name} was exported for another backbone than {model.path.name} "
                f"({getattr(got, 'hash', None)} vs {getattr(want, 'hash', None)}); re-export them together"
            )
        loaded[role] = part
    return loaded
