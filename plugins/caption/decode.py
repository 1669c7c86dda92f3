"""The word loop in numpy: greedy and beam search over the exported step graph.

Beam search keeps the ``width`` best partial captions; at each step every one of them is
extended by every word, and the ``width`` best of those continue, while those among them that end
(``<eos>``) are set aside. An end that ranks below the ``width`` best extensions is no candidate:
counted, it would stop the search on the first unlikely ``<eos>`` (greedy decoding would end "two
green ellipses to the left" where "of" has a probability of 0.99997). A finished caption's rank is
its log probability divided by the length penalty of Wu et al. 2016 (GNMT), ``((5 + words) / 6)
** alpha``: 0 ranks by probability alone (short captions win), larger values favour longer ones.
Width 1 is greedy decoding. The search stops when ``width`` captions have ended, or at
``max_words``, where every caption still open is ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Hypothesis", "beam_search", "length_penalty"]

#: ``step(tokens (B,), state (B, H), memory (B, L, D), keys (B, L, A))`` -> ``logprobs (B, V),
#: state (B, H), attention (B, L)``
Step = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Hypothesis:
    """One finished caption: its word ids (no special tokens), their summed log probability,
    the attention of each word over the cells ``(words, L)``, and the rank score."""

    ids: tuple[int, ...]
    logprob: float
    attention: np.ndarray
    rank: float


def length_penalty(words: int, alpha: float) -> float:
    return ((5.0 + words) / 6.0) ** alpha


def beam_search(step: Step, memory: np.ndarray, keys: np.ndarray, state: np.ndarray, *, bos: int, eos: int,
                banned: tuple[int, ...] = (), width: int = 3, max_words: int = 20, alpha: float = 0.0,
                n_best: int = 1) -> list[Hypothesis]:
    """The ``n_best`` captions of one picture (``memory`` etc. with a batch axis of 1), best first."""
    tokens = np.array([bos], np.int64)
    states = np.asarray(state, np.float32)
    scores = np.zeros(1, np.float64)
    history: list[list[int]] = [[]]
    looks: list[list[np.ndarray]] = [[]]
    finished: list[Hypothesis] = []
    # every beam reads the same picture: its memory is tiled once, each step takes the rows it needs
    memories, all_keys = np.repeat(memory, width, 0), np.repeat(keys, width, 0)
    for t in range(max_words + 1):
        b = len(tokens)
        logprobs, new_states, attention = step(tokens, states, memories[:b], all_keys[:b])
        logprobs = np.asarray(logprobs, np.float64).copy()
        logprobs[:, list(banned)] = -np.inf
        if t == max_words:  # out of words: every open caption ends here
            keep = logprobs[:, eos].copy()
            logprobs[:] = -np.inf
            logprobs[:, eos] = keep
        total = scores[:, None] + logprobs
        flat = total.ravel()
        k = min(2 * width, np.isfinite(flat).sum())
        best = np.argpartition(-flat, k - 1)[:k] if k < flat.size else np.arange(flat.size)
        best = best[np.argsort(-flat[best], kind="stable")]
        keep_rows, keep_words = [], []
        for rank, idx in enumerate(best):
            row, word = divmod(int(idx), logprobs.shape[1])
            if not np.isfinite(flat[idx]):
                continue
            if word == eos:
                if rank >= width:
                    continue
                ids = tuple(history[row])
                looked = np.stack(looks[row]) if looks[row] else np.zeros((0, memory.shape[1]), np.float32)
                finished.append(Hypothesis(ids, float(flat[idx]), looked,
                                           float(flat[idx]) / length_penalty(len(ids), alpha)))
            elif len(keep_rows) < width:
                keep_rows.append(row)
                keep_words.append(word)
        if len(finished) >= width or not keep_rows:
            break
        rows = np.array(keep_rows)
        tokens = np.array(keep_words, np.int64)
        states = np.asarray(new_states, np.float32)[rows]
        scores = total[rows, tokens]
        history = [history[r] + [w] for r, w in zip(keep_rows, keep_words)]
        looks = [looks[r] + [np.asarray(attention[r], np.float32)] for r in keep_rows]
    finished.sort(key=lambda h: -h.rank)
    return finished[:n_best]
