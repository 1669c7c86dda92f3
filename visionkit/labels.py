"""Label files in the shapes people ship them, read as clean class names.

Accepted: one name per line; ``wnid name`` (ImageNet ``synset.txt``); ``index,name`` or
``index name``; a JSON list; a JSON object or Python dict literal ``{index: name}``.
"Clean" means the first synonym of a comma-separated list, without quotes or padding:
``n01440764 tench, Tinca tinca`` becomes ``tench``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from .errors import CardError

_WNID = re.compile(r"^n\d{8}\s+(.*)$")
_INDEXED = re.compile(r"^(\d+)\s*[,:\s]\s*(.+)$")


def clean_label(raw: Any) -> str:
    """The first synonym, stripped of quotes and whitespace."""
    text = str(raw).strip().strip("'\"").strip()
    first = text.split(",")[0].strip()
    return first or text


def _from_mapping(mapping: dict, origin: str) -> list[str]:
    try:
        items = sorted((int(k), v) for k, v in mapping.items())
    except (TypeError, ValueError):
        raise CardError(f"{origin}: label keys must be class indices") from None
    if [i for i, _ in items] != list(range(len(items))):
        raise CardError(f"{origin}: label indices must run 0..{len(items) - 1} without gaps")
    return [clean_label(v) for _, v in items]


def parse_labels(text: str, origin: str = "labels") -> list[str]:
    """Class names, index order, from the text of a label file."""
    stripped = text.strip()
    if not stripped:
        raise CardError(f"{origin}: label file is empty")
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            try:
                data = ast.literal_eval(stripped)
            except (ValueError, SyntaxError):
                raise CardError(f"{origin}: looks like JSON but does not parse") from None
        if isinstance(data, dict):
            return _from_mapping(data, origin)
        if isinstance(data, list):
            return [clean_label(v) for v in data]
        raise CardError(f"{origin}: expected a list or an object of labels")

    lines = [ln.strip() for ln in stripped.splitlines() if ln.strip()]
    if all(_WNID.match(ln) for ln in lines):
        return [clean_label(_WNID.match(ln).group(1)) for ln in lines]
    indexed = [_INDEXED.match(ln) for ln in lines]
    if all(indexed) and [int(m.group(1)) for m in indexed] == list(range(len(lines))):
        return [clean_label(m.group(2)) for m in indexed]
    return [clean_label(ln) for ln in lines]


def load_labels(path: str | Path) -> list[str]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CardError(f"{p}: label file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"{p}: cannot read label file ({exc})") from None
    return parse_labels(text, origin=str(p))
