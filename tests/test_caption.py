"""The caption task: ShapeWorld caption scenes and sets, the vocabulary, the beam search, a tiny
training run through export to a working task, bad input, the overlay and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from visionkit.cli import main
from visionkit.data.caption_sets import read_caption_set, write_caption_set
from visionkit.data.captions import CAPTION_SIZE, caption_scene, mentions, scene_captions
from visionkit.data.shapeworld import render
from visionkit.errors import InputError, ModelError, UsageError
from visionkit.plugins.caption.decode import beam_search, length_penalty
from visionkit.plugins.caption.vocab import SPECIAL, Vocabulary
from visionkit.results import Caption

# -- scenes and their captions ----------------------------------------------------------------------------


def test_scenes_are_a_function_of_seed_and_index():
    a, refs_a = scene_captions(7, 3)
    b, refs_b = scene_captions(7, 3)
    assert refs_a == refs_b and np.array_equal(render(a.scene), render(b.scene))
    assert render(a.scene).shape == (CAPTION_SIZE, CAPTION_SIZE, 3)
    assert scene_captions(7, 4)[1] != refs_a


def test_every_reference_names_the_scene_s_groups_and_they_are_varied():
    for i in range(40):
        truth, refs = scene_captions(0, i)
        assert len(refs) == 5 and len(set(refs)) == 5
        want = sorted(g.key() for g in truth.groups)
        for ref in refs:
            assert sorted(g.key() for g in mentions(ref)) == want, ref
        # the objects are those the groups say: right counts, classes and colours
        objs = truth.scene.objects
        assert len(objs) == sum(g.count for g in truth.groups)
        assert sorted((o.label, o.colour_name) for o in objs) == \
            sorted((g.label, g.colour) for g in truth.groups for _ in range(g.count))


def test_the_relation_is_true_of_the_pixels():
    checked = 0
    for i in range(60):
        truth = caption_scene(1, i)
        if truth.relation is None:
            continue
        first = [o for o in truth.scene.objects if (o.label, o.colour_name) == (truth.groups[0].label,
                                                                                 truth.groups[0].colour)]
        second = [o for o in truth.scene.objects if o not in first]
        axis = 0 if truth.relation in ("left", "right") else 1
        sign = -1 if truth.relation in ("left", "above") else 1
        # every shape of the first group lies wholly on its side of every shape of the second
        for a in first:
            for b in second:
                gap = sign * (a.centre[axis] - b.centre[axis])
                assert gap > 0, (i, truth.relation)
        # and it is the plain thing to say: the groups are not one diagonal from the other
        ca, cb = np.mean([o.centre for o in first], 0), np.mean([o.centre for o in second], 0)
        assert abs(ca[axis] - cb[axis]) >= 1.5 * abs(ca[1 - axis] - cb[1 - axis])
        checked += 1
    assert checked > 20


def test_the_plainest_caption_names_the_groups_in_reading_order():
    relations, inverse_words = set(), 0
    for i in range(80):
        truth, refs = scene_captions(2, i)
        if truth.relation is None:
            continue
        relations.add(truth.relation)
        # the left or the upper group is named first: the picture alone says which
        assert mentions(refs[0])[0].key() == truth.groups[0].key()
        assert ("left" in refs[0]) == (truth.relation == "left") and "right" not in refs[0]
        inverse_words += any(w in r for r in refs[1:] for w in ("right", "below", "under", "beneath"))
    assert relations == {"left", "above"}
    assert inverse_words > 10  # the other phrasings still name the second group first


def test_mentions_reads_the_phrases_back():
    found = mentions("there are two small red hearts to the left of an orange ring")
    assert [(g.count, g.size, g.colour, g.label) for g in found] == [(2, "small", "red", "heart"),
                                                                      (1, "medium", "orange", "ring")]
    assert mentions("a picture of nothing") == []


def test_a_caption_set_round_trips_through_the_coco_captions_format(tmp_path):
    summary = write_caption_set(tmp_path / "set", 4, seed=3, progress=False)
    assert summary["num_captions"] == 20
    data = json.loads(Path(summary["annotations"]).read_text())
    assert {"images", "annotations"} <= set(data) and data["annotations"][0].keys() >= {"image_id", "caption"}
    read = read_caption_set(tmp_path / "set")
    assert len(read) == 4 and read.captions[1] == tuple(scene_captions(3, 1)[1])
    assert all(p.is_file() for p in read.paths)


def test_coco_s_own_layout_finds_its_images(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "val2017").mkdir()
    (tmp_path / "val2017" / "000000000139.jpg").write_bytes(b"x")
    (tmp_path / "annotations" / "captions_val2017.json").write_text(json.dumps({
        "images": [{"id": 139, "file_name": "000000000139.jpg"}],
        "annotations": [{"id": 1, "image_id": 139, "caption": "A room."}]}))
    read = read_caption_set(tmp_path / "annotations" / "captions_val2017.json")
    assert read.paths == (tmp_path / "val2017" / "000000000139.jpg",)


@pytest.mark.parametrize("content, message", [
    ("<html><body>404</body></html>", "not a JSON captions file"),
    ('{"images": [], "annotations": []}', "no image has a caption"),
    ('{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1, "caption": "  "}]}',
     "no image has a caption"),
    ('{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": "1", "caption": "x"}]}',
     r"annotations\[0\] needs an integer 'image_id'"),
    ('{"images": {}, "annotations": []}', "lists 'images' and 'annotations'"),
])
def test_a_bad_captions_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "captions.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_caption_set(tmp_path)


def test_a_missing_set_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no such caption set"):
        read_caption_set(tmp_path / "nope")
    with pytest.raises(InputError, match="no captions.json"):
        read_caption_set(tmp_path)


# -- vocabulary ----------------------------------------------------------------------------------------------


def test_the_vocabulary_encodes_decodes_and_cuts():
    vocab = Vocabulary.from_captions(["two red hearts", "a red ring", "a Red ring!"])
    assert vocab.words[:4] == SPECIAL and vocab.words[4:6] == ("red", "a")  # most frequent first
    ids = vocab.encode("two red zebras", max_words=10)
    assert ids[0] == vocab.bos and ids[-1] == vocab.eos and vocab.unk in ids
    assert vocab.decode(ids[1:]) == ["two", "red"]  # <unk> is left out
    assert len(vocab.encode(" ".join(["red"] * 5000), max_words=24)) == 26
    with pytest.raises(ModelError, match="starts with"):
        Vocabulary(["a", "b", "c", "d"])


# -- beam search ---------------------------------------------------------------------------------------------
#: a toy language over words 4 ("x") and 5 ("y"): after <bos>, "x" is likelier (0.6) but leads to
#: an uncertain continuation, "y" (0.4) to a sure end; so greedy says "x ...", beam says "y"
def _toy_step(tokens, state, memory, keys):
    n = len(tokens)
    out = np.full((n, 6), -np.inf)
    for i, (t, s) in enumerate(zip(tokens, state[:, 0])):
        if t == 1:  # <bos>
            out[i, 4], out[i, 5] = np.log(0.6), np.log(0.4)
        elif t == 4 and s == 1:
            out[i, 2], out[i, 4], out[i, 5] = np.log(0.3), np.log(0.35), np.log(0.35)
        else:
            out[i, 2] = 0.0
    new_state = state + 1
    attention = np.full((n, memory.shape[1]), 1.0 / memory.shape[1])
    return out, new_state, attention


def _search(**kw):
    memory = np.zeros((1, 4, 2), np.float32)
    return beam_search(_toy_step, memory, memory, np.zeros((1, 1), np.float32), bos=1, eos=2, **kw)


def test_beam_search_finds_the_likelier_caption_greedy_misses():
    greedy = _search(width=1)
    assert greedy[0].ids[0] == 4
    beam = _search(width=3, n_best=3)
    assert beam[0].ids == (5,) and beam[0].logprob == pytest.approx(np.log(0.4))
    assert [h.rank for h in beam] == sorted((h.rank for h in beam), reverse=True)
    assert beam[0].attention.shape == (1, 4)


def test_an_unlikely_end_does_not_stop_the_search():
    def step(tokens, state, memory, keys):  # "x" surely, then "y" (0.999) or the end (0.001), then the end
        out = np.full((len(tokens), 6), -np.inf)
        for i, t in enumerate(tokens):
            if t == 1:
                out[i, 4] = 0.0
            elif t == 4:
                out[i, 5], out[i, 2] = np.log(0.999), np.log(0.001)
            else:
                out[i, 2] = 0.0
        return out, state, np.ones((len(tokens), memory.shape[1]))

    memory = np.zeros((1, 4, 2), np.float32)
    for width in (1, 2, 3):
        best = beam_search(step, memory, memory, np.zeros((1, 1), np.float32), bos=1, eos=2, width=width)
        assert best[0].ids == (4, 5) and best[0].logprob == pytest.approx(np.log(0.999))


def test_the_length_penalty_favours_longer_captions():
    assert length_penalty(1, 0.0) == 1.0 and length_penalty(10, 1.0) > length_penalty(2, 1.0)
    long_first = _search(width=3, n_best=3, alpha=5.0)
    assert len(long_first[0].ids) == 2


def test_max_words_ends_every_caption_and_banned_words_never_appear():
    capped = _search(width=2, max_words=1, banned=(5,))
    assert all(len(h.ids) <= 1 and 5 not in h.ids for h in capped)


def test_plain_share_draws_the_first_reference_that_often():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.train import CaptionBatches, CaptionRecipe

    class Cache:  # the maps are not looked at here, only which caption goes with them
        image_labels = [-1] * 400

        def features(self, idx, _copies):
            return {k: np.zeros((len(idx), 1, 1, 1), np.float32) for k in ("c2", "c3", "c4", "c5")}

    encoded = [[[1, 10 + j, 2] for j in range(5)] for _ in range(400)]  # reference j is token 10 + j
    recipe = CaptionRecipe(batch_size=50)

    def first_share(plain_share: float) -> float:
        batches = CaptionBatches(Cache(), encoded, recipe, True, plain_share)
        drawn = batches.batches(0, torch.Generator().manual_seed(0))
        words = np.concatenate([b["tokens"][:, 1].numpy() for b in drawn])
        assert len(words) == 400
        return float(np.mean(words == 10))

    assert 0.1 < first_share(0.0) < 0.3  # one reference in five
    assert 0.55 < first_share(0.5) < 0.65  # half of them, and a fifth of the rest
    assert first_share(1.0) == 1.0


# -- what the decoder is given to see ------------------------------------------------------------------------


def test_the_context_says_where_the_decoder_looked():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import CaptionEncoder

    torch.manual_seed(0)
    enc = CaptionEncoder((3, 4, 5, 6), dim=8, attn=4, hidden=8, layout=3, where=True).eval()
    maps = [torch.randn(1, c, s, s) for c, s in ((3, 28), (4, 14), (5, 7), (6, 4))]
    memory, keys, _ = enc(*maps)
    assert memory.shape == (1, 49, 10) and keys.shape == (1, 49, 4)
    # the last two numbers of a cell are its x and y, row-major: cell 8 is row 1, column 1
    assert torch.allclose(memory[0, 8, -2:], torch.tensor([-2 / 3, -2 / 3]))
    assert torch.allclose(memory[0, 6, -2:], torch.tensor([1.0, -1.0]))


def test_the_layout_summary_is_adaptive_pooling_written_out():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from visionkit.plugins.caption.head import _grid_means

    x = torch.randn(2, 5, 14, 14)
    pooled = F.adaptive_avg_pool2d(x, 3)  # (2, 5, 3, 3); _grid_means lists part by part
    assert torch.allclose(_grid_means(x, 3).view(2, 9, 5).transpose(1, 2).reshape(2, 5, 3, 3), pooled, atol=1e-6)


def _sharp(step) -> None:
    """Scores that ignore the state: about 20 per attention channel where a cell's keys are large
    (tanh saturates), 0 where they are 0."""
    step.score.weight.fill_(20.0)
    step.score.bias.zero_()
    step.query.weight.zero_()
    step.query.bias.zero_()


def test_the_spread_tells_one_matching_cell_from_three():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import AttentionStep

    step = AttentionStep(vocab=6, dim=4, attn=2, hidden=3, embed=2, spread=True).eval()
    seen = []
    step.cell.forward = lambda inp, state: seen.append(inp[:, -1].clone()) or state
    keys = torch.zeros(2, 10, 2)
    keys[0, :1] = keys[1, :3] = 8.0  # one cell stands out in the first picture, three in the second
    with torch.no_grad():
        _sharp(step)  # the standouts score 40 above the rest
        step.logits(torch.tensor([1, 1]), torch.zeros(2, 3), torch.randn(2, 10, 4), keys)
    spread = seen[0]
    assert spread[0] < 0.01 and abs(float(spread[1]) - np.log(3)) < 0.01


def test_the_cell_targets_mark_each_shape_s_centre_with_its_class_and_colour():
    from visionkit.data.shapes import CLASSES
    from visionkit.data.shapeworld import PALETTE
    from visionkit.plugins.caption.train import ShapeWorldCaptions

    scenes = ShapeWorldCaptions(3, 12)
    targets = scenes.cell_targets(14)
    assert targets.shape == (12, 2, 14, 14)
    for i in range(12):
        truth = caption_scene(3, i)
        marked = targets[i, 0] >= 0
        assert marked.sum() == sum(g.count for g in truth.groups)  # every shape once, no clutter
        pairs = zip(targets[i, 0][marked], targets[i, 1][marked])
        named = {(CLASSES[int(k)], list(PALETTE)[int(c)]) for k, c in pairs}
        assert named == {(g.label, g.colour) for g in truth.groups}


def test_the_probe_loss_is_low_for_right_probes_and_high_for_wrong_ones():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.train import probe_loss

    cells = torch.full((1, 2, 4, 4), -1, dtype=torch.int64)
    cells[0, :, 1, 2] = torch.tensor([3, 1])
    right = torch.full((1, 1 + 5 + 2, 4, 4), -9.0)
    right[0, 0, 1, 2] = right[0, 1 + 3, 1, 2] = right[0, 1 + 5 + 1, 1, 2] = 9.0
    wrong = right.clone()
    wrong[0, 0] *= -1  # a centre everywhere but where the shape is
    assert float(probe_loss(right, cells, 5)) < 0.01
    assert float(probe_loss(wrong, cells, 5)) > 1.0


def test_the_soft_count_adds_up_the_centres_the_attention_picks():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import AttentionStep

    step = AttentionStep(vocab=6, dim=4, attn=2, hidden=3, embed=2, centre_at=3).eval()
    seen = []
    step.cell.forward = lambda inp, state: seen.append(inp[:, -1].clone()) or state
    keys = torch.zeros(2, 10, 2)
    keys[0, :1] = keys[1, :3] = 8.0  # one cell stands out in the first picture, three in the second
    memory = torch.zeros(2, 10, 4)
    memory[:, :5, 3] = 1.0  # shapes' centres lie in cells 0 to 4 of both: only the picked ones count
    with torch.no_grad():
        _sharp(step)
        step.count_bias.fill_(8.0)
        step.logits(torch.tensor([1, 1]), torch.zeros(2, 3), memory, keys)
    assert torch.allclose(seen[0], torch.tensor([1.0, 3.0]), atol=0.01)


def test_a_step_hears_and_speaks_from_what_the_centres_it_attends_to_are():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import AttentionStep

    # memory: x, y (0, 1), centre (2), two class shares times the centre (3, 4), group size (5)
    step = AttentionStep(vocab=6, dim=6, attn=2, hidden=3, embed=2, centre_at=2, alike_at=5, xy_at=0).eval()
    assert step.described == 3 + 2 + 2 + 2
    seen, said = [], []
    step.cell.forward = lambda inp, state: seen.append(inp[:, -9:].clone()) or state
    step.out_described.forward = lambda d: said.append(d.clone()) or torch.zeros(1, 2)
    memory = torch.zeros(1, 10, 6)
    memory[0, :, 0] = torch.linspace(-1, 1, 10)
    memory[0, [2, 3], 2] = 1.0  # two alike shapes' centres, in cells 2 and 3, of the second class
    memory[0, [2, 3], 4] = 1.0
    memory[0, [2, 3], 5] = 2.0
    memory[0, 9, [2, 3, 5]] = 1.0  # a third, of the first class, that the attention leaves out
    keys = torch.zeros(1, 10, 2)
    keys[0, 1:4] = 8.0  # the attention rests on cells 1 to 3: one empty, two centres
    with torch.no_grad():
        _sharp(step)
        step.logits(torch.tensor([1]), torch.zeros(1, 3), memory, keys)
    ones, twos, more, x, y, dx, dy, first, second = seen[0][0].tolist()
    # all of the attention on centres lies on a group of two
    assert (ones, twos, more) == pytest.approx((0.0, 1.0, 0.0), abs=0.01)
    assert x == pytest.approx(float(memory[0, 2:4, 0].mean()), abs=0.01) and y == pytest.approx(0.0, abs=1e-6)
    # the middle of all three shapes lies to their right: they are the group on the left
    middle = float(memory[0, [2, 3, 9], 0].mean())
    assert dx == pytest.approx(x - middle, abs=0.01) and dx < 0 and dy == pytest.approx(0.0, abs=1e-6)
    # the empty cell does not dilute what the two centres are
    assert first == pytest.approx(0.0, abs=0.01) and second == pytest.approx(1.0, abs=0.01)
    assert torch.equal(said[0], seen[0])


def test_a_step_hears_the_sizes_of_two_groups_it_looks_at_together_apart():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import AttentionStep

    step = AttentionStep(vocab=6, dim=6, attn=2, hidden=3, embed=2, centre_at=2, alike_at=5, xy_at=0).eval()
    seen = []
    step.cell.forward = lambda inp, state: seen.append(inp[:, -9:-6].clone()) or state
    memory = torch.zeros(1, 10, 6)
    memory[0, :4, 2] = 1.0
    memory[0, :3, 5] = 3.0  # a group of three in cells 0 to 2, a shape alone in cell 3
    memory[0, 3, 5] = 1.0
    keys = torch.zeros(1, 10, 2)
    keys[0, :4] = 8.0
    with torch.no_grad():
        _sharp(step)
        step.logits(torch.tensor([1]), torch.zeros(1, 3), memory, keys)
    # three quarters of it on the group of three, one on the single shape; a mean would say two
    assert seen[0][0].tolist() == pytest.approx([0.25, 0.0, 0.75], abs=0.01)
    # resting a little more on the single shape (a third of the attention, against two thirds
    # on the three others), a sharp focus hears that one alone
    keys[0, :3], keys[0, 3] = 0.05, 0.06
    with torch.no_grad():
        step.focus.fill_(20.0)
        step.logits(torch.tensor([1]), torch.zeros(1, 3), memory, keys)
    assert seen[1][0].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=0.02)


def test_the_probes_end_each_annotation_vector_and_hear_the_count():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import CaptionEncoder

    torch.manual_seed(0)
    enc = CaptionEncoder((3, 4, 5, 6), dim=8, attn=4, hidden=8, where=True, probes=(5, 2)).eval()
    maps = [torch.randn(1, c, s, s) for c, s in ((3, 28), (4, 14), (5, 7), (6, 4))]
    memory, _, _, probed = enc.encode(*maps)
    assert memory.shape == (1, 49, 8 + 2 + 1 + 5 + 2 + 1) and probed.shape == (1, 8, 7, 7)
    assert enc.centre_at == 10 and enc.alike_at == 18
    centre = memory[0, :, 10].view(7, 7)
    sure = torch.sigmoid(probed[0, 0])
    peaks = sure == torch.nn.functional.max_pool2d(sure[None, None], 3, 1, 1)[0, 0]
    # a centre counts only where the probe is surest of its 3 x 3 neighbourhood
    assert peaks.any() and not peaks.all()
    assert torch.allclose(centre[peaks], sure[peaks]) and (centre[~peaks] == 0).all()
    centre = centre.flatten()
    # a cell's class and colour shares add up to its centre's
    assert torch.allclose(memory[0, :, 11:16].sum(1), centre, atol=1e-5)
    assert torch.allclose(memory[0, :, 16:18].sum(1), centre, atol=1e-5)


def test_each_centre_knows_its_group_s_size_and_the_first_state_the_number_of_groups():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import CaptionEncoder

    enc = CaptionEncoder((3, 4, 5, 6), dim=8, attn=4, hidden=8, where=True, probes=(5, 2)).eval()
    logits = torch.full((1, 8, 7, 7), -20.0)
    for (r, c), kind, hue in (((1, 1), 3, 0), ((1, 5), 3, 0), ((5, 3), 2, 1)):  # two alike shapes, one other
        logits[0, 0, r, c] = 20.0
        logits[0, 1 + kind, r, c] = logits[0, 1 + 5 + hue, r, c] = 20.0
    enc.probe.forward = lambda grid: logits
    heard = []
    enc.count_state.forward = lambda x: heard.append(x.clone()) or torch.zeros(1, 8)
    maps = [torch.randn(1, c, s, s) for c, s in ((3, 28), (4, 14), (5, 7), (6, 4))]
    with torch.no_grad():
        memory, *_ = enc.encode(*maps)
    group = memory[0, :, enc.alike_at].view(7, 7)
    assert torch.allclose(group[[1, 1, 5], [1, 5, 3]], torch.tensor([2.0, 2.0, 1.0]), atol=1e-3)
    assert float(group.sum()) == pytest.approx(5.0, abs=1e-3)  # nothing elsewhere
    assert torch.allclose(heard[0], torch.tensor([[3.0, 2.0]]), atol=1e-3)  # three shapes in two groups
    # a probe only fairly sure of the class and colour (shares near 0.8) still makes a group of two
    logits[0, 1:] = torch.where(logits[0, 1:] > 0, 2.0, 0.0)
    with torch.no_grad():
        memory, *_ = enc.encode(*maps)
    group = memory[0, :, enc.alike_at].view(7, 7)
    assert torch.allclose(group[[1, 1, 5], [1, 5, 3]], torch.tensor([2.0, 2.0, 1.0]), atol=1e-3)


def test_size_keys_let_the_attention_find_a_group_by_its_size():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import CaptionEncoder

    enc = CaptionEncoder((3, 4, 5, 6), dim=8, attn=4, hidden=8, where=True, probes=(5, 2), size_keys=True).eval()
    logits = torch.full((1, 8, 7, 7), -20.0)
    for (r, c), kind in (((1, 1), 3), ((1, 5), 3), ((5, 3), 2)):  # two alike shapes, one other
        logits[0, 0, r, c] = 20.0
        logits[0, 1 + kind, r, c] = logits[0, 1 + 5, r, c] = 20.0
    enc.probe.forward = lambda grid: logits
    maps = [torch.randn(1, c, s, s) for c, s in ((3, 28), (4, 14), (5, 7), (6, 4))]
    with torch.no_grad():
        enc.size_keys.weight.zero_()
        _, plain, _, _ = enc.encode(*maps)
        enc.size_keys.weight[0, 1] = 1.0  # the first key dimension asks for groups of two
        _, keys, _, _ = enc.encode(*maps)
    asks = (keys - plain)[0, :, 0].view(7, 7)
    assert torch.allclose(asks[[1, 1, 5], [1, 5, 3]], torch.tensor([1.0, 1.0, 0.0]), atol=1e-3)
    assert float(asks.abs().sum()) == pytest.approx(2.0, abs=1e-3)  # nothing off the centres
    assert torch.equal(keys[0, :, 1:], plain[0, :, 1:])


def test_with_recall_the_state_carries_where_the_words_looked_and_the_scores_hear_it():
    torch = pytest.importorskip("torch")
    from visionkit.plugins.caption.head import AttentionStep, CaptionEncoder

    enc = CaptionEncoder((3, 4, 5, 6), dim=8, attn=4, hidden=8, recall=True).eval()
    maps = [torch.randn(2, c, s, s) for c, s in ((3, 28), (4, 14), (5, 7), (6, 4))]
    with torch.no_grad():
        memory, keys, state = enc(*maps)
    assert state.shape == (2, 8 + 2 * 49) and not state[:, 8:].any()  # nowhere looked yet
    step = AttentionStep(vocab=6, dim=4, attn=2, hidden=3, embed=2, recall=True).eval()
    memory, keys = torch.zeros(1, 10, 4), torch.zeros(1, 10, 2)
    state = torch.zeros(1, 3 + 20)
    with torch.no_grad():
        step.recall.weight.zero_()
        step.recall.bias.copy_(torch.tensor([0.0, 0.0]))
        _, after, attention = step.logits(torch.tensor([1]), state, memory, keys)
        assert torch.allclose(attention, torch.full((1, 10), 0.1))  # equal keys, no memory: even
        assert torch.equal(after[:, 3:13], attention) and torch.equal(after[:, 13:], attention)
        # the word before looked at cell 4, and cells 0 and 1 were looked at earlier
        state[0, 3 + 4] = 1.0
        state[0, 13 + 0] = state[0, 13 + 1] = 2.0
        step.recall.bias.copy_(torch.tensor([5.0, 0.0]))  # keep to where the word before looked
        _, after, attention = step.logits(torch.tensor([1]), state, memory, keys)
        assert int(attention.argmax()) == 4 and float(attention[0, 4]) > 0.9
        assert torch.allclose(after[0, 13:], state[0, 13:] + attention[0])
        step.recall.bias.copy_(torch.tensor([0.0, -5.0]))  # shun what was looked at already
        _, _, attention = step.logits(torch.tensor([1]), state, memory, keys)
        assert float(attention[0, :2].sum()) < 1e-3
        assert torch.allclose(attention[0, 2:], torch.full((8,), 1 / 8), atol=1e-3)


# -- a tiny training run, its export and the task ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tiny_backbone, tmp_path_factory):
    pytest.importorskip("torch")
    from visionkit.plugins.caption.train import CaptionRecipe, train_and_export

    recipe = CaptionRecipe(n_train=24, n_val=4, epochs=3, batch_size=8, dim=16, attn=8, hidden=16, embed=8,
                           lr=1e-2, patience=None, threads=1, test_n=3, sample_max=0.5, probes=True)
    out = tmp_path_factory.mktemp("caption")
    summary = train_and_export(out, recipe, tiny_backbone.path, cache_root=out / "cache", progress=False,
                               log=lambda line: None)
    return summary, Path(summary["paths"]["caption"]), tiny_backbone


def test_a_tiny_run_lowers_the_loss_and_exports_two_carded_graphs(tiny_run):
    from visionkit.runtime import load_model

    summary, path, backbone = tiny_run
    history = summary["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    card = load_model(path, device="cpu").card
    assert card.task == "caption" and card.backbone.hash == backbone.hash
    assert card.parts == {"step": path.name.replace(".onnx", "_step.onnx")}
    assert tuple(card.config["vocab"][:4]) == SPECIAL
    for key in ("BLEU-4", "CIDEr-D", "exact_match", "caption_ms", "vocabulary"):
        assert key in card.metrics, key
    assert "seed 10000" in card.provenance["measured_on"]
    assert Path(summary["paths"]["checkpoint"]).is_file()


def test_the_task_captions_a_picture_with_scores_and_attention(tiny_run):
    import visionkit as vk

    _, path, backbone = tiny_run
    pipe = vk.Pipeline(["caption"], models={"caption": path}, backbone=backbone.path, device="cpu")
    pipe.set_options("caption", beam=2, captions=2, max_words=6)
    result = pipe(render(caption_scene(5, 0).scene))["caption"]
    assert isinstance(result, Caption) and len(result.texts) == 2
    assert np.all((result.scores > 0) & (result.scores <= 1))
    assert any(result.words)  # two distinct captions: at most one of them is the empty one
    for words, attention in zip(result.words, result.attention):
        assert len(words) <= 6 and attention.shape[0] == len(words)
        assert np.allclose(attention.sum(axis=tuple(range(1, attention.ndim))), 1.0, atol=1e-4)
    assert json.loads(json.dumps(result.to_dict()))["captions"][0]["text"] == result.text


def test_beam_widths_outside_the_limits_are_refused_and_large_ones_clamped(tiny_run):
    import visionkit as vk

    _, path, backbone = tiny_run
    pipe = vk.Pipeline(["caption"], models={"caption": path}, backbone=backbone.path, device="cpu")
    for bad in (0, 1000):
        with pytest.raises(UsageError, match="caption.beam must be between 1 and 50"):
            pipe.set_options("caption", beam=bad)
    task = pipe.tasks["caption"]
    vocab = len(task.vocab)
    pipe.set_options("caption", beam=50, captions=50)
    pipe(np.zeros((32, 32, 3), np.uint8))
    if vocab - 3 < 50:
        assert any("beam 50 is more than" in n for n in task.notes)


def test_a_step_graph_of_another_vocabulary_is_refused(tiny_run, tmp_path):
    import shutil

    import onnx

    from visionkit.nn.export import embed_card, read_card
    import visionkit as vk

    _, path, backbone = tiny_run
    shutil.copy(path.with_name(path.name.replace(".onnx", "_step.onnx")), tmp_path)
    proto = onnx.load(str(path))
    card = read_card(path)
    embed_card(proto, card.with_(config={**card.config, "vocab": list(card.config["vocab"]) + ["zebra"]}))
    onnx.save_model(proto, str(tmp_path / path.name))
    with pytest.raises(ModelError, match="scores .* words but the card's vocabulary has"):
        vk.Pipeline(["caption"], models={"caption": tmp_path / path.name}, backbone=backbone.path, device="cpu")
    (tmp_path / path.name.replace(".onnx", "_step.onnx")).unlink()
    with pytest.raises(ModelError, match="is missing; keep the files together"):
        vk.Pipeline(["caption"], models={"caption": tmp_path / path.name}, backbone=backbone.path, device="cpu")


def test_training_on_a_coco_captions_set_skips_unreadable_pictures(tiny_backbone, tmp_path):
    pytest.importorskip("torch")
    from visionkit.plugins.caption.train import CaptionRecipe, train_and_export

    write_caption_set(tmp_path / "set", 10, seed=4, progress=False)
    (tmp_path / "set" / "images" / "000003.png").write_text("<html>not a picture</html>")
    data = json.loads((tmp_path / "set" / "captions.json").read_text())
    data["annotations"][0]["caption"] = "a naïve " + " ".join(["red"] * 40)
    (tmp_path / "set" / "captions.json").write_text(json.dumps(data))
    lines: list[str] = []
    recipe = CaptionRecipe(epochs=1, batch_size=4, dim=8, attn=8, hidden=8, embed=8, threads=1, val_fraction=0.2,
                           patience=None)
    summary = train_and_export(tmp_path / "out", recipe, tiny_backbone.path, data=tmp_path / "set",
                               test_data=tmp_path / "set", cache_root=tmp_path / "cache", progress=False,
                               log=lines.append)
    assert any("more than 24 words" in line for line in lines)
    assert any("characters other than" in line for line in lines)
    assert any("could not be read" in line for line in lines) or summary["metrics"]["images"] < 10
    assert "BLEU-4" in summary["metrics"]


# -- overlay, evaluation and CLI ----------------------------------------------------------------------------


def _caption() -> Caption:
    attention = np.zeros((2, 4, 4), np.float32)
    attention[0, 0, 0] = attention[1, 3, 3] = 1.0  # word 0 looks top left, word 1 bottom right
    return Caption(("red star",), np.array([0.9], np.float32), (("red", "star"),), (attention,), (0, 0, 64, 64))


def test_the_painter_writes_the_caption_along_the_bottom_and_heats_a_picked_word():
    from visionkit.overlays import draw_text
    from visionkit.plugins.caption.painter import draw_caption

    canvas = np.full((64, 64, 3), 200, np.uint8)
    labels = draw_caption(canvas, _caption())
    assert [(lab.text, lab.kind) for lab in labels] == [("red star", "caption")]
    placed = draw_text(canvas, labels)
    assert placed and placed[0].rect[1] + placed[0].rect[3] >= 60  # at the bottom edge
    picked = np.full((64, 64, 3), 200, np.uint8)
    labels = draw_caption(picked, _caption(), highlight=1)
    assert labels[0].text == "red [star]"
    changed = np.abs(picked.astype(int) - 200).sum(2)
    assert changed[56:, 56:].mean() > changed[:8, :8].mean() + 20  # hot where word 1 looked
    assert _caption().word_at(1) == (0, 1) and _caption().word_at(2) is None


def test_data_and_eval_commands(tmp_path, capsys, tiny_run):
    _, path, backbone = tiny_run
    assert main(["data", "shapeworld", "--task", "caption", "--n", "3", "--seed", "10000", "--out",
                 str(tmp_path / "set"), "--quiet"]) == 0
    assert "3 224x224 caption scenes with 15 captions" in capsys.readouterr().out
    assert main(["data", "shapeworld", "--task", "caption", "--n", "3", "--size", "32", "--out",
                 str(tmp_path / "small")]) == 2
    assert "needs --size 64 or more" in capsys.readouterr().err
    assert main(["eval", "caption", "--data", str(tmp_path / "set"), "--model", str(path), "--backbone",
                 str(backbone.path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 3 and {"BLEU-4", "CIDEr-D", "exact_match", "counts_colours"} <= set(report)


@pytest.mark.parametrize("flag", ["--plain-share", "--sample-max"])
def test_a_chance_outside_0_to_1_is_one_line(tmp_path, capsys, flag):
    assert main(["train", "caption", "--out", str(tmp_path), flag, "1.5"]) == 2
    assert f"{flag} is a chance from 0 to 1, not 1.5" in capsys.readouterr().err


def test_a_probe_weight_of_zero_or_less_is_one_line(tmp_path, capsys):
    assert main(["train", "caption", "--out", str(tmp_path), "--probe-weight", "0"]) == 2
    assert "--probe-weight must be positive, not 0" in capsys.readouterr().err


def test_the_decoder_options_reach_the_recipe(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from visionkit.plugins.caption import train

    got = []
    monkeypatch.setattr(train, "train_and_export", lambda out, recipe, *a, **k: got.append(recipe) or {
        "metrics": {}, "paths": {"caption": "x.onnx"}, "hash": "h", "seconds": 0.0})
    assert main(["train", "caption", "--out", str(tmp_path), "--no-recall", "--size-keys", "--quiet"]) == 0
    assert got[0].recall is False and got[0].size_keys is True
    assert main(["train", "caption", "--out", str(tmp_path), "--quiet"]) == 0
    defaults = train.CaptionRecipe()
    assert (got[1].recall, got[1].size_keys) == (defaults.recall, defaults.size_keys)


def test_predict_draws_and_reports_the_caption(tmp_path, capsys, tiny_run):
    import cv2

    _, path, backbone = tiny_run
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), render(caption_scene(2, 2).scene))
    assert main(["predict", str(image), "--task", "caption", "--model", str(path), "--backbone",
                 str(backbone.path), "--json", "--save", str(tmp_path / "out")]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert "captions" in line["results"]["caption"]
    assert list((tmp_path / "out").glob("scene*"))
