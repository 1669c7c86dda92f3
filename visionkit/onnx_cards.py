"""Cards inside ONNX files, and the content hash heads name their backbone by (the ``onnx``
package only, no torch: export, quantization and the plugin-test kit all use these).

The hash is the first 16 hex digits of the sha256 of the ModelProto serialised without its
``metadata_props``, so rewriting a card never changes it, and any change to the graph or its
weights does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .cards import METADATA_KEY, ModelCard

if TYPE_CHECKING:
    import onnx


def model_hash(model: "onnx.ModelProto | bytes | str | Path") -> str:
    """sha256 (first 16 hex digits) of the ModelProto serialized without ``metadata_props``."""
    import onnx

    if isinstance(model, (str, Path)):
        model = onnx.load(str(model))
    elif isinstance(model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model))
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.metadata_props[:]
    return hashlib.sha256(bare.SerializeToString()).hexdigest()[:16]


def embed_card(model: "onnx.ModelProto", card: ModelCard) -> None:
    """Put ``card`` in ``model.metadata_props`` (replacing an earlier one)."""
    import onnx

    keep = [(p.key, p.value) for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {**dict(keep), METADATA_KEY: card.to_json()})


def card_of(model: "onnx.ModelProto", origin: str = "model") -> ModelCard | None:
    """The card embedded in a loaded ModelProto, or None."""
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            return ModelCard.from_json(p.value, origin=origin)
    return None


def read_card(path: str | Path) -> ModelCard | None:
    """The card embedded in an ONNX file, or None."""
    import onnx

    return card_of(onnx.load(str(path), load_external_data=False), origin=str(path))
