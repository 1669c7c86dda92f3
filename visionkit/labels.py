"""Label files in the shapes people ship them, read as clean class names.

Accepted: one name per line; ``wnid name`` (ImageNet ``synset.txt``); ``index,name`` or
``index name``; a JSON list; a JSON object or Python dict literal ``{index: name}``.
"Clean" means the first synonym of a comma-separated list, without quotes or padding:
``n01440764 tench, Tinca tinca`` becomes ``tench``.

Wherever a label file is accepted, so is the name of a label set visionkit ships
(:data:`LABEL_SETS`: ``voc``, ``coco``, ``imagenet``); a file that happens to carry such a
name is reached by its path (``./coco``).

A label file comes from anywhere: whatever it holds, the answer is a list of names or one
:class:`~visionkit.errors.CardError` line saying why it is not a label file.
"""

from __future__ import annotations

import ast
import json
import re
import reprlib
import warnings
from pathlib import Path
from typing import Any

from .errors import CardError
from .textfile import read_small_text

#: the label sets in ``visionkit/labelsets/``, by the name ``--labels`` takes
LABEL_SETS = {
    "voc": "Pascal VOC: background and its 20 classes (21)",
    "coco": "COCO: its 80 object categories, in detectors' order",
    "imagenet": "ImageNet-1k: 1000 classes, each synset's first name",
}

#: ImageNet-21k's 21,843 names take under 1 MB; a larger file is not a label file
MAX_LABEL_BYTES = 16 * 2**20

_WNID = re.compile(r"^n\d{8}\s+(.*)$")
# at most nine digits: no label file has a billion classes, and int() refuses very long digit runs
_INDEXED = re.compile(r"^(\d{1,9})\s*[,:\s]\s*(.+)$")
# control characters other than line breaks and tabs: a binary file, not names
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

_short = reprlib.Repr()  # values in messages: one short line whatever their size or depth
_short.maxstring = _short.maxother = 40
_short.maxlevel = 2


def clean_label(raw: Any) -> str:
    """The first synonym, stripped of quotes and whitespace, on one line."""
    text = " ".join(str(raw).split()).strip("'\"").strip()
    first = text.split(",")[0].strip()
    return first or text


def _name(value: Any, where: str, origin: str) -> str:
    if not isinstance(value, str):
        raise CardError(f"{origin}: label {where} must be a name (text), not {_short.repr(value)}")
    return clean_label(value)


def _index(key: Any) -> int | None:
    """A class index written as an int or as digits, else None."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and re.fullmatch(r"\s*\d{1,9}\s*", key):
        return int(key)
    return None


def _from_mapping(mapping: dict, origin: str) -> list[str]:
    indexed = [(_index(k), v) for k, v in mapping.items()]
    if any(i is None for i, _ in indexed):
        raise CardError(f"{origin}: label keys must be class indices")
    indexed.sort(key=lambda item: item[0])
    if [i for i, _ in indexed] != list(range(len(indexed))):
        raise CardError(f"{origin}: label indices must run 0..{len(indexed) - 1} without gaps")
    return [_name(v, str(i), origin) for i, v in indexed]


def _structured(text: str, origin: str) -> Any:
    """A JSON document or Python literal; one-line errors for anything that does not parse."""
    try:
        return json.loads(text)
    except RecursionError:
        raise CardError(f"{origin}: label file nests too deeply to be a list of labels") from None
    except ValueError:  # not JSON (JSONDecodeError is a ValueError): perhaps a Python dict literal
        pass
    try:
        with warnings.catch_warnings():  # the parser warns on stderr about odd literals ("1x")
            warnings.simplefilter("ignore")
            return ast.literal_eval(text)
    except (RecursionError, MemoryError):  # the parser's own limits on nesting
        raise CardError(f"{origin}: label file nests too deeply to be a list of labels") from None
    except (ValueError, SyntaxError, TypeError):
        raise CardError(f"{origin}: looks like JSON but does not parse") from None


def parse_labels(text: str, origin: str = "labels") -> list[str]:
    """Class names, index order, from the text of a label file."""
    stripped = text.strip()
    if not stripped:
        raise CardError(f"{origin}: label file is empty")
    if _BINARY.search(stripped):
        raise CardError(f"{origin}: holds control characters, not label text (a binary file?)")
    if stripped[0] in "[{":
        data = _structured(stripped, origin)
        if isinstance(data, dict):
            return _from_mapping(data, origin)
        if isinstance(data, list):
            return [_name(v, str(i), origin) for i, v in enumerate(data)]
        raise CardError(f"{origin}: expected a list or an object of labels")

    lines = [ln.strip() for ln in stripped.splitlines() if ln.strip()]
    if all(_WNID.match(ln) for ln in lines):
        return [clean_label(_WNID.match(ln).group(1)) for ln in lines]
    indexed = [_INDEXED.match(ln) for ln in lines]
    if all(indexed) and [int(m.group(1)) for m in indexed] == list(range(len(lines))):
        return [clean_label(m.group(2)) for m in indexed]
    return [clean_label(ln) for ln in lines]


def label_set(name: str) -> list[str]:
    """The names of one of the shipped label sets (see :data:`LABEL_SETS`)."""
    from importlib.resources import files

    if name not in LABEL_SETS:
        raise CardError(f"no label set {name!r} (label sets: {', '.join(LABEL_SETS)})")
    text = files("visionkit.labelsets").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    return parse_labels(text, origin=f"label set {name}")


def load_labels(path: str | Path) -> list[str]:
    """Class names from a label file, or from a shipped label set given by its bare name."""
    if isinstance(path, str) and path in LABEL_SETS:
        return label_set(path)
    p = Path(path)
    # a bare word was perhaps meant as a set's name: say which there are
    bare = isinstance(path, str) and len(p.parts) == 1 and not p.suffix
    hint = f" (label sets by name: {', '.join(LABEL_SETS)})" if bare else ""
    text = read_small_text(p, "label", MAX_LABEL_BYTES, missing_hint=hint, encoding="utf-8-sig")
    return parse_labels(text, origin=str(p))
