"""Structured mutations of model cards: a valid card with fields swapped for hostile values.

Byte-level fuzzing mostly breaks a card's JSON syntax; these mutations keep the JSON valid and
reach the field checks instead. ``pick(n)`` chooses an index in ``range(n)``: libFuzzer's
data in ``fuzz_cards.py``, a seeded ``random.Random`` in the test suite's replay.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

Pick = Callable[[int], int]

SEEDS = Path(__file__).resolve().parent / "seeds" / "cards"

#: values that have broken, or could break, code that trusts a card
HOSTILE: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 3, 2**31, 2**64, 10**400, 0.0, -0.0, 1e-320, 1e308, -1e308,
    float("nan"), float("inf"), float("-inf"), "", "0", "224", "abc", "NCHW", "\x00", "\ud800",
    "a\nb", "../../etc/passwd", "x" * 5000, [], [0], [1, 1], [224, 224], [0.5, 0.5, 0.5], [0, 1, 1],
    ["a", "b"], ["a", 1], [[]], {}, {"a": 1}, {"a": "b"}, {"c5": 32}, {"size": [1, 1]},
    {"name": "b", "hash": "h"},
)
FIELDS = ("version", "task", "name", "input", "labels", "output", "backbone", "features", "strides",
          "hash", "metrics", "provenance", "options", "config", "parts", "lables")
INPUT_FIELDS = ("size", "layout", "dtype", "channel_order", "scale", "mean", "std", "resize", "crop",
                "letterbox", "letterbox_align", "pad_value", "name", "sizes")


def seed_cards() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.json"))]


def _value(pick: Pick) -> Any:
    kind = pick(4)
    if kind == 0:  # nesting well past any real card
        depth = (1, 31, 32, 33, 200)[pick(5)]
        value: Any = 1
        for _ in range(depth):
            value = [value]
        return value
    return copy.deepcopy(HOSTILE[pick(len(HOSTILE))])


def mutate(card: dict, pick: Pick, steps: int = 3) -> dict:
    """``card`` with up to ``steps`` fields (top-level or input) replaced, added or removed."""
    card = copy.deepcopy(card)
    for _ in range(1 + pick(steps)):
        inside = isinstance(card.get("input"), dict) and pick(2) == 1
        target, fields = (card["input"], INPUT_FIELDS) if inside else (card, FIELDS)
        key = fields[pick(len(fields))]
        if pick(6) == 0:
            target.pop(key, None)
        else:
            target[key] = _value(pick)
    return card


def to_text(card: dict) -> str:
    """The card as JSON text; NaN and the infinities in JSON's common extension, as
    Python's own writer gives them."""
    return json.dumps(card)
