"""BLEU and CIDEr-D against the references the field uses: sacrebleu and pycocoevalcap 1.2."""

from __future__ import annotations

import pytest

from visionkit.plugins.caption.metrics import bleu, cider_d, exact_match, tokens

CANDIDATES = [
    "two red hearts to the left of a blue ring",
    "a large green star",
    "there are three small yellow circles",
    "A cat, sitting on the mat!",
    "the the the",
    "a picture of two pink arrows on a striped background",
]
REFERENCES = [
    ["two red hearts to the left of a blue ring", "a blue ring to the right of two red hearts",
     "there are two red hearts left of a blue ring"],
    ["a big green star", "there is a large green star on a plain background", "a large green star"],
    ["three small yellow circles", "there are three little yellow circles", "a picture of three small yellow circles"],
    ["a cat is on the mat", "there is a cat on the mat"],
    ["the cat", "a dog is here", "the the bird"],
    ["two pink arrows", "there are two pink arrows on a striped background", "two pink arrows on a striped background"],
]


def _coco_inputs():
    gts = {i: [" ".join(tokens(r)) for r in refs] for i, refs in enumerate(REFERENCES)}
    res = {i: [" ".join(tokens(c))] for i, c in enumerate(CANDIDATES)}
    return gts, res


def test_bleu_matches_sacrebleu_at_every_order():
    sacrebleu = pytest.importorskip("sacrebleu")
    ours = bleu(CANDIDATES, REFERENCES)
    cands = [" ".join(tokens(c)) for c in CANDIDATES]
    width = max(len(r) for r in REFERENCES)
    streams = [[" ".join(tokens(refs[j])) if j < len(refs) else None for refs in REFERENCES] for j in range(width)]
    for n in range(1, 5):
        metric = sacrebleu.metrics.BLEU(max_ngram_order=n, smooth_method="none", tokenize="none")
        assert ours[n - 1] == pytest.approx(metric.corpus_score(cands, streams).score / 100, abs=1e-6), n


def test_bleu_and_cider_d_match_pycocoevalcap():
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    gts, res = _coco_inputs()
    theirs, _ = Bleu(4).compute_score(gts, res, verbose=0)
    assert bleu(CANDIDATES, REFERENCES) == pytest.approx(theirs, abs=1e-6)
    total, per = Cider().compute_score(gts, res)
    ours_total, ours_per = cider_d(CANDIDATES, REFERENCES)
    assert ours_total == pytest.approx(total, abs=1e-6)
    assert ours_per == pytest.approx(list(per), abs=1e-6)


def test_a_perfect_corpus_scores_bleu_one_and_a_wrong_one_zero():
    refs = [[r] for r in ("two red hearts above a blue ring", "a large green star on a plain background")]
    assert bleu([r[0] for r in refs], refs) == pytest.approx([1.0] * 4)
    assert bleu(["cat dog", "bird fish"], refs) == [0.0] * 4
    assert exact_match(["Two red hearts above a blue ring.", "a star"], refs) == 0.5


def test_brevity_is_penalised():
    refs = [["two small red hearts to the left of a large blue ring"]]
    full = bleu(refs[0], refs)[0]
    short = bleu(["two small red hearts"], refs)[0]
    assert full == pytest.approx(1.0) and short < 0.5


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="2 candidates but 1"):
        bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="at least one reference"):
        cider_d(["a"], [[]])
    with pytest.raises(ValueError, match="no candidates"):
        bleu([], [])
