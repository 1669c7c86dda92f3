"""Caption metrics: BLEU-1..4 and CIDEr-D, as the COCO caption evaluation computes them.

BLEU (Papineni et al. 2002) is corpus-level: clipped n-gram matches and candidate n-grams are
summed over every caption before the precisions are taken, and the brevity penalty compares the
total candidate length with the sum, per caption, of the reference length closest to it (the
shorter one on a tie). BLEU-n is the geometric mean of the 1..n-gram precisions. CIDEr-D
(Vedantam et al. 2015) weighs every n-gram (n = 1..4) by TF-IDF, the document frequencies taken
over the references of the evaluated set, and averages, over a caption's references, the cosine
similarity of the candidate's vectors with each reference's, with the candidate's counts clipped
by the reference's and a Gaussian penalty on their length difference (sigma 6); x10.

Both take already tokenised text (:func:`tokens`): lower case, words of letters, digits and
apostrophes. The tests check them against ``sacrebleu`` and ``pycocoevalcap``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["bleu", "cider_d", "exact_match", "ngrams", "tokens"]

_WORD = re.compile(r"[a-z0-9']+")


def tokens(text: str) -> list[str]:
    """The words of a caption: lower-cased, punctuation dropped."""
    return _WORD.findall(text.lower())


def ngrams(words: Sequence[str], n: int) -> Counter:
    """Counts of every 1..n-gram of ``words``, as tuples."""
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def _check(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if not candidates:
        raise ValueError("nothing to score: no candidates")
    if any(not refs for refs in references):
        raise ValueError("every candidate needs at least one reference")


def bleu(candidates: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> list[float]:
    """Corpus BLEU-1 .. BLEU-``max_n`` of ``candidates[i]`` against ``references[i]``."""
    _check(candidates, references)
    matched, total = [0] * max_n, [0] * max_n
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references):
        words = tokens(cand)
        ref_words = [tokens(r) for r in refs]
        most: Counter = Counter()
        for r in ref_words:
            most |= ngrams(r, max_n)  # per n-gram, its count in the reference that has most
        for gram, count in ngrams(words, max_n).items():
            matched[len(gram) - 1] += min(count, most[gram])
            total[len(gram) - 1] += count
        cand_len += len(words)
        ref_len += min((abs(len(r) - len(words)), len(r)) for r in ref_words)[1]
    brevity = 1.0 if cand_len >= ref_len else math.exp(1 - ref_len / max(cand_len, 1))
    out, log_sum = [], 0.0
    for n in range(max_n):
        if matched[n] == 0 or total[n] == 0:
            out += [0.0] * (max_n - n)
            break
        log_sum += math.log(matched[n] / total[n])
        out.append(brevity * math.exp(log_sum / (n + 1)))
    return out


def _tfidf(counts: Counter, df: Counter, log_docs: float, n: int) -> tuple[list[dict], list[float], int]:
    """Per order, the TF-IDF vector and its norm, and the caption's length in words."""
    vecs: list[dict] = [{} for _ in range(n)]
    norms = [0.0] * n
    for gram, tf in counts.items():
        k = len(gram) - 1
        v = tf * (log_docs - math.log(max(1.0, df[gram])))
        vecs[k][gram] = v
        norms[k] += v * v
    length = sum(tf for gram, tf in counts.items() if len(gram) == 1)
    return vecs, [math.sqrt(x) for x in norms], length


def cider_d(candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = 4,
            sigma: float = 6.0) -> tuple[float, list[float]]:
    """CIDEr-D of the set and of each candidate."""
    _check(candidates, references)
    ref_counts = [[ngrams(tokens(r), n) for r in refs] for refs in references]
    df: Counter = Counter()
    for counts in ref_counts:
        df.update(set().union(*counts))  # documents (pictures) whose references hold the n-gram
    log_docs = math.log(float(len(candidates)))
    scores = []
    for cand, counts in zip(candidates, ref_counts):
        hv, hn, hl = _tfidf(ngrams(tokens(cand), n), df, log_docs, n)
        total = 0.0
        for rc in counts:
            rv, rn, rl = _tfidf(rc, df, log_docs, n)
            penalty = math.exp(-((hl - rl) ** 2) / (2 * sigma ** 2))
            per_order = 0.0
            for k in range(n):
                dot = sum(min(v, rv[k].get(g, 0.0)) * rv[k].get(g, 0.0) for g, v in hv[k].items())
                if hn[k] and rn[k]:
                    dot /= hn[k] * rn[k]
                per_order += dot * penalty
            total += per_order / n
        scores.append(10.0 * total / len(counts))
    return sum(scores) / len(scores), scores


def exact_match(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """The fraction of candidates whose words equal those of one of their references."""
    _check(candidates, references)
    hits = sum(tokens(c) in [tokens(r) for r in refs] for c, refs in zip(candidates, references))
    return hits / len(candidates)
