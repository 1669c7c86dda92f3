"""The captioner (torch): soft attention over the shared backbone's map, a GRU that speaks.

Xu et al. 2015, "Show, Attend and Tell: Neural Image Caption Generation with Visual
Attention": a CNN's convolutional map is a set of annotation vectors, one per cell; at each
word a recurrent decoder scores every cell against its state (additive attention, Bahdanau
et al. 2015), takes their weighted mean as the context, gates it by its state (the paper's
beta), and predicts the next word from the word before, the new state and the context (their
"deep output layer"). Vinyals et al. 2015, "Show and Tell", is the same loop without attention;
the initial state is made from the mean annotation, as both do.

The annotation vectors here are made at the backbone's stride 16 (14 x 14 cells at 224 px, fine
enough to count a few shapes and to show where each word looked): c4 as it is, c5 (stride 32)
upsampled onto it, c2 and c3 (strides 4 and 8) average-pooled down to it, and two channels of
the cell's position (Liu et al. 2018, "CoordConv"); batch norm, a 1x1 convolution, a grouped
3x3 (each cell sees its neighbours) and a 1x1 project them. Soft attention's context is a mean of
the cells it looks at, which says what is there but not where or how many, so (recipe options)
each annotation vector ends with its cell's x and y as they are, the first state adds a summary
of a 3 x 3 grid of the map, and each step is told how widely its attention spreads: without them
a decoder said "to the left of" or "above" no better than a guess. Soft attention cannot
count either (a mean of two alike cells is one of them), so (recipe option ``probes``) three 1 x 1
probes read each cell: does a shape's centre lie in it, of which class, of which colour; they
are trained alongside the words on the scenes' objects (dense supervision, as CenterNet's heat
maps, Zhou et al. 2019); their peaks, class and colour shares and each centre's group size (how
many peaks share its likeliest class and colour) end every annotation vector, the first state
hears the number of shapes and of groups, and each step, as its input and beside the word it
says, how much of its attention lies on groups of one, two and three or more, and the class
and colour shares, the mean position and that position from the middle of all the shapes of the
centres it attends to. Two more options aim the attention at one group at a time: each centre's
group size enters its attention key (``size_keys``: after "two" a step can look for the shapes in
twos), and the state carries the attention of the word before and the sum of all before it, which
every cell's score hears (``recall``; location-aware attention, Chorowski et al. 2015, and
coverage, Tu et al. 2016): without them the decoder, looking at one group for its count and class,
looked at the other for its colour, or described the first group twice. The early maps are there
for colour: trained on c4 and c5 alone, a captioner named a shape's colour wrongly in one group of
five on held-out scenes (ImageNet's deep features keep little of it).

Two graphs are exported, so that the word loop runs in numpy (:mod:`.decode`):

* ``encode``: ``c2, c3, c4, c5`` -> ``memory (N, L, D)``, ``keys (N, L, A)`` (the memory's half of the
  attention scores, computed once per picture) and ``state (N, H)``, or ``(N, H + 2L)`` with
  ``recall`` (the GRU's state, then the last attention and the sum of all so far);
* ``step``: ``token (N,), state (N, H), memory, keys`` -> ``logprobs (N, V)``, ``state``,
  ``attention (N, L)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FEATURES", "CaptionEncoder", "AttentionStep", "Captioner", "captioner"]

FEATURES = ("c2", "c3", "c4", "c5")
LAYOUT_CHANNELS = 32  # per grid part in the layout summary: what is there, not what exactly


def _grid_means(x: Tensor, k: int) -> Tensor:
    """``(N, C, h, w)`` -> ``(N, C * k * k)``: the means of a ``k`` x ``k`` grid of parts, split as
    adaptive average pooling splits (written out: ONNX pools only to sizes that divide the map)."""
    h, w = int(x.shape[2]), int(x.shape[3])
    rows = [(i * h // k, -(-(i + 1) * h // k)) for i in range(k)]
    cols = [(j * w // k, -(-(j + 1) * w // k)) for j in range(k)]
    return torch.cat([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1 in rows for c0, c1 in cols], dim=1)


def _likeliest(shares: Tensor) -> Tensor:
    """``(N, K, h, w)`` shares -> 1 where a cell's share is its largest, else 0 (one-hot, as ONNX
    exports it: a max and a comparison)."""
    return (shares >= shares.max(dim=1, keepdim=True).values).to(shares.dtype)


SIZE_BINS = 3  # a step hears how much of its attention lies on groups of 1, 2, and 3 or more


def size_bins(size: Tensor) -> Tensor:
    """``(..., 1)`` group sizes -> ``(..., SIZE_BINS)``: how near each is to 1, 2, ..., and how far
    past ``SIZE_BINS - 1`` (a soft one-hot: 1.9 is mostly two)."""
    return torch.cat([torch.relu(1.0 - (size - k).abs()) for k in range(1, SIZE_BINS)]
                     + [(size - SIZE_BINS + 1).clamp(0.0, 1.0)], dim=-1)


class CaptionEncoder(nn.Module):
    """``c2, c3, c4, c5`` -> annotation vectors, their attention keys, and the decoder's first state.

    Each annotation vector ends with its cell's position (x, y in -1..1) as it is, so that the
    attention context says where the decoder looked. ``layout`` > 0 adds to the first state a
    summary of a ``layout`` x ``layout`` grid of the map (what lies in which part of the picture):
    two groups side by side or stacked look alike cell by cell, and the mean annotation that
    starts the decoder cannot tell them apart. ``probes`` ``(classes, colours)`` adds the cell
    probes: after the position, each annotation vector ends with its centre peak (the sigmoid of
    the centre probe where no neighbour is surer, else 0), its class and colour shares times the
    peak, and the peak times its group size; the first state hears how many shapes and groups there are."""

    def __init__(self, channels: tuple[int, int, int, int], dim: int = 256, attn: int = 256, hidden: int = 256,
                 layout: int = 0, where: bool = False, probes: tuple[int, int] | None = None,
                 size_keys: bool = False, recall: bool = False):
        super().__init__()
        # the maps' scales differ by stage; normalising them first let a probe learn colour sooner
        self.norm = nn.BatchNorm2d(sum(channels) + 2)
        self.project = nn.Sequential(
            nn.Conv2d(sum(channels) + 2, dim, 1), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, padding=1, groups=4), nn.ReLU(inplace=True), nn.Conv2d(dim, dim, 1))
        self.where = where
        self.probes = tuple(probes) if probes else None
        width = dim + 2 if where else dim
        #: where the centre probe sits in an annotation vector (None without probes)
        self.centre_at = width if self.probes else None
        #: where a cell's count of alike shapes sits (None without probes)
        self.alike_at = width + 1 + sum(self.probes) if self.probes else None
        if self.probes:
            self.probe = nn.Conv2d(dim, 1 + sum(self.probes), 1)
            self.count_state = nn.Linear(2, hidden)
            width += 2 + sum(self.probes)
        self.keys = nn.Linear(width, attn)
        # a centre's group size as bins, in its attention key: after "two" the decoder can look
        # for the shapes in twos at once (the size alone, a scalar, keys no bump at two)
        self.size_keys = nn.Linear(SIZE_BINS, attn, bias=False) if size_keys and self.probes else None
        #: whether a decoder step's state carries where it looked (see :class:`AttentionStep`)
        self.recall = recall
        self.init_state = nn.Linear(width, hidden)
        self.layout = layout
        if layout:
            self.layout_reduce = nn.Conv2d(dim, LAYOUT_CHANNELS, 1)
            self.layout_state = nn.Linear(LAYOUT_CHANNELS * layout * layout, hidden)

    @property
    def width(self) -> int:
        """The length of one annotation vector."""
        return self.keys.in_features

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor, c5: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        memory, keys, state, _ = self.encode(c2, c3, c4, c5)
        return memory, keys, state

    def encode(self, c2: Tensor, c3: Tensor, c4: Tensor,
               c5: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """``forward`` and the probes' logits ``(N, 1 + classes + colours, h, w)`` (None without)."""
        # plain ints: the graph is exported for one input size, and pooling to a traced size fails
        n, h, w = c4.shape[0], int(c4.shape[2]), int(c4.shape[3])
        up = F.interpolate(c5, size=(h, w), mode="bilinear", align_corners=False)
        ys = torch.linspace(-1.0, 1.0, h, dtype=c4.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
        xs = torch.linspace(-1.0, 1.0, w, dtype=c4.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
        x = torch.cat([F.adaptive_avg_pool2d(c2, (h, w)), F.adaptive_avg_pool2d(c3, (h, w)), c4, up, xs, ys], dim=1)
        grid = self.project(self.norm(x))
        cells = [grid, xs, ys] if self.where else [grid]
        probed = None
        if self.probes:
            probed = self.probe(grid)
            k = self.probes[0]
            # a centre near a cell's border lights its neighbour too: only a cell at least as sure
            # as its eight neighbours keeps its score (CenterNet's max-pool peaks); summed without
            # it the map miscounted three scenes in four, with it one in a hundred
            centre = torch.sigmoid(probed[:, :1])
            centre = centre * (centre >= F.max_pool2d(centre, 3, stride=1, padding=1)).to(centre.dtype)
            kinds, hues = torch.softmax(probed[:, 1:1 + k], dim=1), torch.softmax(probed[:, 1 + k:], dim=1)
            # how many shapes of the map are of this centre's class and colour: the count of its group.
            # Two cells are alike when their likeliest class and colour are the same: products of
            # the shares (0.8 x 0.8 for two sure-ish hexagons) made three alike shapes a group of
            # two, and the group sizes were right in 86 % of held-out scenes, against 95 % so
            kl, hl, cl = _likeliest(kinds).flatten(2), _likeliest(hues).flatten(2), centre.flatten(2)
            alike = (kl.transpose(1, 2) @ kl) * (hl.transpose(1, 2) @ hl)  # (N, L, L) same class and colour
            size = cl @ alike  # (N, 1, L): how many centres share each cell's class and colour
            group = size * cl
            # what a cell's class and colour probes say counts only where a shape's centre is
            cells += [centre, centre * kinds, centre * hues, group.view(n, 1, h, w)]
            # the number of groups: each centre counts one over its group's size
            groups = (cl / group.clamp(min=0.5)).sum(dim=2)
        memory = torch.cat(cells, dim=1).flatten(2).transpose(1, 2)  # (N, L, D), cells in row-major order
        start = self.init_state(memory.mean(dim=1))
        if self.layout:
            parts = _grid_means(torch.relu(self.layout_reduce(grid)), self.layout)
            start = start + self.layout_state(parts)
        keys = self.keys(memory)
        if probed is not None:
            start = start + self.count_state(torch.cat([cl.sum(dim=2), groups], dim=1))
            if self.size_keys is not None:
                keys = keys + self.size_keys(size_bins(size.transpose(1, 2)) * cl.transpose(1, 2))
        state = torch.tanh(start)
        if self.recall:
            # where the decoder has looked: nowhere yet
            state = torch.cat([state, state.new_zeros(n, 2 * h * w)], dim=1)
        return memory, keys, state, probed


class AttentionStep(nn.Module):
    """One word: ``token, state, memory, keys`` -> ``logprobs, state, attention``."""

    def __init__(self, vocab: int, dim: int = 256, attn: int = 256, hidden: int = 256, embed: int = 128,
                 dropout: float = 0.1, spread: bool = False, centre_at: int | None = None,
                 alike_at: int | None = None, xy_at: int | None = None, recall: bool = False):
        super().__init__()
        self.spread = spread
        self.hidden = hidden
        # with ``recall`` the state carries, after the GRU's, the attention of the word before and
        # the sum of all before it, and a cell's score hears both, weighed by the state (after
        # location-aware attention, Chorowski et al. 2015, and coverage, Tu et al. 2016): without
        # it a decoder that looked at one group for its count and class looked at the other for
        # its colour, or described the first group twice
        self.recall = nn.Linear(hidden, 2) if recall else None
        self.centre_at, self.alike_at, self.xy_at = centre_at, alike_at, xy_at
        if centre_at is not None:
            # how sharply, and how far below the best score, a cell still counts
            self.count_scale = nn.Parameter(torch.ones(1))
            self.count_bias = nn.Parameter(torch.full((1,), 2.0))
        self.embed = nn.Embedding(vocab, embed)
        self.query = nn.Linear(hidden, attn)
        self.score = nn.Linear(attn, 1)
        self.gate = nn.Linear(hidden, dim)
        # what the attended centres are (their class and colour shares sit between the centre
        # peak and the group size in an annotation vector)
        shares = alike_at - centre_at - 1 if alike_at is not None else 0
        #: how long the description of the attended centres is (0 without probes)
        self.described = (SIZE_BINS + 4 * int(xy_at is not None) + shares) if alike_at is not None else 0
        extra = int(spread) + int(centre_at is not None) + self.described
        self.cell = nn.GRUCell(embed + dim + extra, hidden)
        self.out_state = nn.Linear(hidden, embed)
        self.out_context = nn.Linear(dim, embed)
        if self.described:
            self.out_described = nn.Linear(self.described, embed)
            # how strongly the most attended centres speak for what the attended ones are
            self.focus = nn.Parameter(torch.full((1,), 2.0))
        self.drop = nn.Dropout(dropout)
        self.classify = nn.Linear(embed, vocab)

    def glance(self, memory: Tensor) -> dict[str, Tensor]:
        """What every step reads of one picture's annotation vectors, taken out once: the centre
        peaks, each centre's group size as bins, its class and colour shares over the centres
        alone, the cells' positions and the middle of all the shapes. (Training decodes a batch
        word by word: each slice of the memory taken inside the loop cost a zero-filled gradient
        of the whole memory per word, a third of a training step.)"""
        if self.centre_at is None:
            return {}
        centre = memory[:, :, self.centre_at]
        seen = {"centre": centre}
        if self.alike_at is not None:
            peak = memory[:, :, self.centre_at:self.centre_at + 1].clamp(min=1e-3)
            size = memory[:, :, self.alike_at:self.alike_at + 1] / peak
            seen["sizes"] = size_bins(size)  # (N, L, SIZE_BINS)
            # the memory's shares are times the peak
            seen["shares"] = memory[:, :, self.centre_at + 1:self.alike_at] / peak
            if self.xy_at is not None:
                xy = memory[:, :, self.xy_at:self.xy_at + 2]
                seen["xy"] = xy
                seen["middle"] = (torch.bmm(centre.unsqueeze(1), xy).squeeze(1)
                                  / (centre.sum(dim=1, keepdim=True) + 1e-3))
        return seen

    def logits(self, token: Tensor, state: Tensor, memory: Tensor, keys: Tensor,
               seen: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The next word's logits, the new state and the attention; ``seen`` is :meth:`glance`
        of ``memory``, taken here when not given."""
        seen = self.glance(memory) if seen is None else seen
        e = self.embed(token)
        hidden = state if self.recall is None else state[:, :self.hidden]
        scores = self.score(torch.tanh(keys + self.query(hidden).unsqueeze(1))).squeeze(2)
        if self.recall is not None:
            cells = memory.shape[1]
            before, cover = state[:, self.hidden:self.hidden + cells], state[:, self.hidden + cells:]
            # the state says how much to keep to where the word before looked, and how much to
            # shun what was looked at already
            keep, shun = self.recall(hidden).unsqueeze(2).unbind(1)
            scores = scores + keep * before + shun * cover
        attention = torch.softmax(scores, dim=1)
        context = torch.bmm(attention.unsqueeze(1), memory).squeeze(1)
        gated = torch.sigmoid(self.gate(hidden)) * context
        parts = [e, gated]
        best = scores.max(dim=1, keepdim=True).values
        if self.spread:
            # softmax attention's context is a mean: two hearts look like one; the log of how many
            # cells score near the best one is what is left of the count
            parts.append(torch.logsumexp(scores, dim=1, keepdim=True) - best)
        if self.centre_at is not None:
            near = torch.sigmoid(self.count_scale * (scores - best) + self.count_bias)
            parts.append((near * seen["centre"]).sum(dim=1, keepdim=True))
        described = None
        if self.alike_at is not None:
            # the group sizes of the centres the attention rests on: how much of it lies on groups
            # of one, two, three or more (a mean of the sizes made "two" of a group of three and
            # one of one looked at together). The centres' weights are the attention's raised to
            # the power ``focus`` (learnt), so that a step resting mostly on one group hears
            # that group's size, class and colour and less of the other's
            looked = attention * seen["centre"]
            focused = torch.softmax(self.focus * torch.log(looked + 1e-6), dim=1).unsqueeze(1)  # (N, 1, L)
            about = [torch.bmm(focused, seen["sizes"]).squeeze(1)]
            if self.xy_at is not None:
                # and where those centres lie: the mean position of all the attended cells is
                # pulled towards the picture's middle by the empty ones
                at = torch.bmm(looked.unsqueeze(1), seen["xy"]).squeeze(1) / (looked.sum(dim=1, keepdim=True) + 1e-3)
                # and where they lie from the middle of all the shapes: with two groups, that middle
                # lies between them, so the side a group lies on is the relation to say (the
                # absolute positions alone left "above" and "to the left of" confused in one
                # two-group scene in seven)
                about += [at, at - seen["middle"]]
            # and what they are: the context's class and colour shares, diluted by every empty
            # cell the attention touches, are their shares over the centres alone
            about.append(torch.bmm(focused, seen["shares"]).squeeze(1))
            described = torch.cat(about, dim=1)
            parts.append(described)
        hidden = self.cell(torch.cat(parts, dim=1), hidden)
        out = e + self.out_state(hidden) + self.out_context(context)
        if described is not None:
            # the word is said from them too: "two", "red" and "hearts" are what they say
            out = out + self.out_described(described)
        deep = self.drop(torch.tanh(out))
        state = hidden if self.recall is None else torch.cat([hidden, attention, cover + attention], dim=1)
        return self.classify(deep), state, attention

    def forward(self, token: Tensor, state: Tensor, memory: Tensor, keys: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        logits, state, attention = self.logits(token, state, memory, keys)
        return torch.log_softmax(logits, dim=1), state, attention


class Captioner(nn.Module):
    """Encoder and step together: ``forward`` is teacher forcing (and scheduled sampling)."""

    def __init__(self, channels: tuple[int, int, int, int], vocab: int, dim: int = 256, attn: int = 256,
                 hidden: int = 256, embed: int = 128, dropout: float = 0.3, layout: int = 0, where: bool = False,
                 spread: bool = False, probes: tuple[int, int] | None = None, size_keys: bool = False,
                 recall: bool = False):
        super().__init__()
        self.encoder = CaptionEncoder(channels, dim, attn, hidden, layout, where, probes, size_keys, recall)
        self.step = AttentionStep(vocab, self.encoder.width, attn, hidden, embed, dropout, spread,
                                  self.encoder.centre_at, self.encoder.alike_at,
                                  dim if where and probes else None, recall)

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor, c5: Tensor, tokens: Tensor, sample_p: float = 0.0,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
        """``tokens (N, T)`` the inputs (``<bos>`` first) -> logits ``(N, T, V)``, attention
        ``(N, T, L)`` and the probes' logits (:meth:`CaptionEncoder.encode`). With ``sample_p``
        > 0 each input after the first is, with that chance, the
        model's own previous best word instead of the true one (Bengio et al. 2015)."""
        memory, keys, state, probed = self.encoder.encode(c2, c3, c4, c5)
        logits, attentions = [], []
        token = tokens[:, 0]
        seen = self.step.glance(memory)
        for t in range(tokens.shape[1]):
            if t and sample_p > 0:
                own = logits[-1].detach().argmax(dim=1)
                use_own = torch.rand(token.shape, generator=generator) < sample_p
                token = torch.where(use_own, own, tokens[:, t])
            elif t:
                token = tokens[:, t]
            out, state, attention = self.step.logits(token, state, memory, keys, seen)
            logits.append(out)
            attentions.append(attention)
        return torch.stack(logits, 1), torch.stack(attentions, 1), probed


def captioner(channels: dict[str, int], vocab: int, **sizes: int | float) -> Captioner:
    """The captioner for a backbone whose maps have ``channels`` (its card's ``options["channels"]``)."""
    missing = [k for k in FEATURES if k not in channels]
    if missing:
        raise ValueError(f"the caption head reads {', '.join(FEATURES)}; the backbone lacks {', '.join(missing)}")
    return Captioner(tuple(int(channels[k]) for k in FEATURES), vocab, **sizes)
