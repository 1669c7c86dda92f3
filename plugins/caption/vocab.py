"""The captioner's vocabulary: words <-> ids, kept in the model's card (``config.vocab``).

Ids 0..3 are the special tokens: ``<pad>`` (fills short captions in a batch), ``<bos>`` (the
input of the first step), ``<eos>`` (a caption ends) and ``<unk>`` (a word the vocabulary lacks).
Captions are split into words by :func:`~.metrics.tokens` (lower case, punctuation dropped),
the same split the metrics use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from visionkit.errors import ModelError

from .metrics import tokens

__all__ = ["BOS", "EOS", "PAD", "SPECIAL", "UNK", "Vocabulary"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL = (PAD, BOS, EOS, UNK)


class Vocabulary:
    """An ordered word list whose first four entries are :data:`SPECIAL`."""

    def __init__(self, words: Sequence[str]):
        words = tuple(words)
        if words[:4] != SPECIAL:
            raise ModelError(f"a caption vocabulary starts with {', '.join(SPECIAL)}, not {', '.join(words[:4])}")
        if len(set(words)) != len(words):
            raise ModelError("a caption vocabulary lists a word twice")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_captions(cls, captions: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Every word seen at least ``min_count`` times, most frequent first (ties by spelling)."""
        counts = Counter(w for c in captions for w in tokens(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIAL),
                      key=lambda w: (-counts[w], w))
        return cls(SPECIAL + tuple(kept))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad(self) -> int:
        return 0

    @property
    def bos(self) -> int:
        return 1

    @property
    def eos(self) -> int:
        return 2

    @property
    def unk(self) -> int:
        return 3

    def encode(self, caption: str, max_words: int) -> list[int]:
        """``<bos>``, the caption's first ``max_words`` words, ``<eos>``."""
        ids = [self.index.get(w, self.unk) for w in tokens(caption)[:max_words]]
        return [self.bos, *ids, self.eos]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of ``ids`` up to the first ``<eos>``, special tokens left out."""
        out = []
        for i in ids:
            if i == self.eos:
                break
            if i >= len(SPECIAL):
                out.append(self.words[i])
        return out
