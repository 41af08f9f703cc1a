"""Tests of ``lmcourse.batches``: windows, padding with a loss mask, and batches from an explicit generator.

The expected tensors of the small cases are written out by hand; the window
count is checked against a brute-force loop (Raschka's ``GPTDatasetV1``); the
padded loss against sequences scored one at a time, unpadded, in float64.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmcourse.batches import IGNORE_INDEX, pad_sequences, sample_batch, scoring_windows, shuffled_batches, windows

# database=None: no .hypothesis/ folder is written into the repository.
FAST = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

IG = IGNORE_INDEX  # short, so the expected tensors line up


def T(rows: list) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


def assert_same(got: torch.Tensor, expected: torch.Tensor) -> None:
    """Same dtype, shape and values (exactly)."""
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (tuple(got.shape), tuple(expected.shape))
    assert torch.equal(got, expected), f"\ngot\n{got}\nexpected\n{expected}"


# --------------------------------------------------------------------------- windows


def test_windows_default_stride_gives_non_overlapping_windows():
    x, y = windows(list(range(10)), 3)
    assert_same(x, T([[0, 1, 2], [3, 4, 5], [6, 7, 8]]))
    assert_same(y, T([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))


def test_windows_stride_one_and_two():
    ids = [10, 11, 12, 13, 14, 15, 16]
    x, y = windows(ids, 3, stride=1)
    assert_same(x, T([[10, 11, 12], [11, 12, 13], [12, 13, 14], [13, 14, 15]]))
    assert_same(y, T([[11, 12, 13], [12, 13, 14], [13, 14, 15], [14, 15, 16]]))
    x, y = windows(ids, 3, stride=2)
    assert_same(x, T([[10, 11, 12], [12, 13, 14]]))
    assert_same(y, T([[11, 12, 13], [13, 14, 15]]))
    # a stride above the context skips ids; only full windows are kept (16 is left out)
    x, y = windows(ids, 2, stride=4)
    assert_same(x, T([[10, 11], [14, 15]]))
    assert_same(y, T([[11, 12], [15, 16]]))


def test_scoring_windows_score_each_target_once_with_history():
    x, y = scoring_windows(list(range(12)), 4)  # history 2: a window every 2 ids, its last 2 targets new
    assert_same(x, T([[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]))
    assert_same(y, T([[1, 2, 3, 4], [IG, IG, 5, 6], [IG, IG, 7, 8], [IG, IG, 9, 10]]))
    x, y = scoring_windows(list(range(8)), 4, history=3)
    assert_same(y, T([[1, 2, 3, 4], [IG, IG, IG, 5], [IG, IG, IG, 6], [IG, IG, IG, 7]]))
    x0, y0 = scoring_windows(list(range(9)), 4, history=0)  # no history: windows' non-overlapping default
    assert_same(x0, windows(list(range(9)), 4)[0])
    assert_same(y0, T([[1, 2, 3, 4], [5, 6, 7, 8]]))


@settings(max_examples=60, deadline=None, database=None)
@given(n=st.integers(2, 60), context=st.integers(1, 12), history=st.integers(0, 11))
def test_scoring_windows_targets_are_a_prefix_and_history_holds(n, context, history):
    ids = list(range(100, 100 + n))
    if history >= context or n < context + 1:
        with pytest.raises(ValueError):
            scoring_windows(ids, context, history)
        return
    x, y = scoring_windows(ids, context, history)
    kept = y[y != IG]
    assert kept.tolist() == ids[1:1 + len(kept)]  # each target once, in order: what an n-gram scores
    assert len(ids) - 1 - len(kept) < context - history  # fewer than one stride of targets left unscored
    rows, cols = torch.nonzero(y != IG, as_tuple=True)
    assert bool(((cols >= history) | (rows == 0)).all())  # after the first window, >= history ids before each


def test_scoring_windows_with_evaluate_skip_the_ignored_targets():
    from lmcourse.train import evaluate

    class Fixed(torch.nn.Module):  # the logit of target j is j, so a target's loss depends on the target only
        def forward(self, idx):
            return torch.arange(20.0).expand(*idx.shape, 20)

    x, y = scoring_windows(list(range(20)), 6)
    expected = -torch.log_softmax(torch.arange(20.0), -1)[1:1 + int((y != IG).sum())].mean()  # float32 sums
    assert abs(evaluate(Fixed(), x, y) - expected.item()) < 1e-5


def test_scoring_windows_bad_history():
    with pytest.raises(ValueError, match="history must be below the context"):
        scoring_windows(list(range(10)), 4, history=4)
    with pytest.raises((TypeError, ValueError), match="history"):
        scoring_windows(list(range(10)), 4, history=-1)


def test_windows_exactly_one_window():
    x, y = windows([4, 5, 6], 2)
    assert_same(x, T([[4, 5]]))
    assert_same(y, T([[5, 6]]))


@pytest.mark.parametrize("ids", [
    [3, 1, 4, 1, 5, 9, 2],
    (3, 1, 4, 1, 5, 9, 2),
    np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.int32),
    np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8),
    [np.int64(i) for i in (3, 1, 4, 1, 5, 9, 2)],
    torch.tensor([3, 1, 4, 1, 5, 9, 2], dtype=torch.int32),
    torch.tensor([3, 1, 4, 1, 5, 9, 2]),
], ids=["list", "tuple", "np.int32", "np.uint8", "list of np.int64", "torch.int32", "torch.long"])
def test_windows_accepts_lists_arrays_and_tensors(ids):
    x, y = windows(ids, 3, stride=2)
    assert_same(x, T([[3, 1, 4], [4, 1, 5]]))
    assert_same(y, T([[1, 4, 1], [1, 5, 9]]))


def test_windows_copy_the_ids():
    ids = torch.arange(8)
    x, y = windows(ids, 3)
    ids[:] = 99
    assert_same(x, T([[0, 1, 2], [3, 4, 5]]))
    assert_same(y, T([[1, 2, 3], [4, 5, 6]]))


@FAST
@given(n_ids=st.integers(1, 60), context=st.integers(1, 20), stride=st.integers(1, 25), seed=st.integers(0, 99))
def test_windows_match_a_brute_force_loop(n_ids, context, stride, seed):
    ids = random.Random(seed).choices(range(50), k=n_ids)
    if n_ids < context + 1:
        with pytest.raises(ValueError, match=f"need at least {context + 1} ids"):
            windows(ids, context, stride)
        return
    x, y = windows(ids, context, stride)
    # Raschka's GPTDatasetV1: for i in range(0, len(ids) - max_length, stride)
    starts = list(range(0, n_ids - context, stride))
    assert len(x) == len(y) == len(starts) == (n_ids - context - 1) // stride + 1
    assert_same(x, T([ids[i:i + context] for i in starts]))
    assert_same(y, T([ids[i + 1:i + context + 1] for i in starts]))
    # the shift: within a row, the target is the next input; the last target is the id after the window
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert y[:, -1].tolist() == [ids[i + context] for i in starts]
    if stride == 1:  # every window: each row of y is the next row of x
        assert torch.equal(y[:-1], x[1:])


def test_windows_take_the_memory_of_the_ids_whatever_the_stride():
    ids = torch.randint(0, 100, (100_000,), generator=torch.Generator().manual_seed(0))
    x, y = windows(ids, 64, stride=1)
    assert x.shape == y.shape == (100_000 - 64, 64)
    assert x.untyped_storage().nbytes() == y.untyped_storage().nbytes() == 8 * 100_000
    assert x.untyped_storage().data_ptr() == y.untyped_storage().data_ptr() != ids.untyped_storage().data_ptr()


def test_windows_with_the_default_stride_are_contiguous():
    x, y = windows(list(range(13)), 4)
    assert x.is_contiguous() and y.is_contiguous()
    assert y.view(-1).tolist() == list(range(1, 13))


@pytest.mark.parametrize("args, error, match", [
    (([1, 2, 3], 0), ValueError, "context must be >= 1, got 0"),
    (([1, 2, 3], True), TypeError, "context must be a whole number"),
    (([1, 2, 3], 1.0), TypeError, "context must be a whole number"),
    (([1, 2, 3], 1, 0), ValueError, "stride must be >= 1, got 0"),
    (([1, 2, 3], 1, 1.5), TypeError, "stride must be a whole number"),
    (([1, 2, 3], 3), ValueError, r"context 3 need at least 4 ids .* got 3"),
    (([], 1), ValueError, "need at least 2 ids"),
    (([1, 2.5, 3], 1), TypeError, r"whole numbers .* got 2\.5 \(float\) at position 1"),
    (([1, True, 3], 1), TypeError, r"got True \(bool\) at position 1"),
    ((torch.tensor([1.0, 2.0, 3.0]), 1), TypeError, "dtype torch.float32"),
    ((np.array([1.0, 2.0, 3.0]), 1), TypeError, "dtype float64"),
    ((torch.tensor([True, False, True]), 1), TypeError, "dtype torch.bool"),
    ((torch.arange(6).view(2, 3), 1), ValueError, r"1-D .* shape \(2, 3\)"),
    ((np.arange(6).reshape(2, 3), 1), ValueError, r"1-D .* shape \(2, 3\)"),
    (([[1, 2], [3, 4]], 1), ValueError, "one flat sequence .* item 0 is itself a list"),
    (("hello", 1), TypeError, r"got str; encode the text first"),
    (([1, -2, 3], 1), ValueError, r"ids >= 0, got -2 at position 1"),
])
def test_windows_reject_bad_input_clearly(args, error, match):
    with pytest.raises(error, match=match):
        windows(*args)


# --------------------------------------------------------------------------- pad_sequences


def test_pad_sequences_with_bos_and_eos():
    # <pad> 0, <bos> 2, <eos> 3 as in the character vocabulary; three records of lengths 3, 1, 2
    x, y, mask = pad_sequences([[5, 6, 7], [8], [9, 10]], pad_id=0, bos_id=2, eos_id=3)
    assert_same(x, T([[2, 5, 6, 7],
                      [2, 8, 0, 0],
                      [2, 9, 10, 0]]))
    assert_same(y, T([[5, 6, 7, 3],
                      [8, 3, IG, IG],
                      [9, 10, 3, IG]]))
    assert_same(mask, torch.tensor([[True, True, True, True],
                                    [True, True, False, False],
                                    [True, True, True, False]]))


def test_pad_sequences_never_assume_pad_is_zero():
    # a byte-pair vocabulary puts its specials after the merges: here <pad> 300, <bos> 301, <eos> 302
    x, y, mask = pad_sequences([np.array([0, 1]), torch.tensor([7, 0, 0, 4])], pad_id=300, bos_id=301, eos_id=302)
    assert_same(x, T([[301, 0, 1, 300, 300],
                      [301, 7, 0, 0, 4]]))
    assert_same(y, T([[0, 1, 302, IG, IG],
                      [7, 0, 0, 4, 302]]))
    assert mask.sum().item() == 8


def test_pad_sequences_without_bos_or_eos():
    x, y, mask = pad_sequences([[1, 2, 3], [4, 5]], pad_id=9)
    assert_same(x, T([[1, 2], [4, 9]]))
    assert_same(y, T([[2, 3], [5, IG]]))
    x, y, _ = pad_sequences([[1, 2, 3], [4]], pad_id=9, eos_id=8)
    assert_same(x, T([[1, 2, 3], [4, 9, 9]]))
    assert_same(y, T([[2, 3, 8], [8, IG, IG]]))


def test_pad_sequences_max_len_pads_and_truncates_keeping_the_start():
    seqs = [[5, 6, 7], [8]]
    x, y, mask = pad_sequences(seqs, pad_id=0, bos_id=2, eos_id=3, max_len=2)
    assert_same(x, T([[2, 5], [2, 8]]))          # [2, 5, 6, 7, 3] keeps its first 3 tokens: <bos> 5 6
    assert_same(y, T([[5, 6], [8, 3]]))
    assert mask.all()
    x, y, mask = pad_sequences(seqs, pad_id=0, bos_id=2, eos_id=3, max_len=6)
    assert_same(x, T([[2, 5, 6, 7, 0, 0], [2, 8, 0, 0, 0, 0]]))
    assert_same(y, T([[5, 6, 7, 3, IG, IG], [8, 3, IG, IG, IG, IG]]))


@FAST
@given(lengths=st.lists(st.integers(0, 9), min_size=1, max_size=6), seed=st.integers(0, 99))
def test_pad_sequences_invariants(lengths, seed):
    rng = random.Random(seed)
    seqs = [[rng.randrange(4, 30) for _ in range(n)] for n in lengths]
    x, y, mask = pad_sequences(seqs, pad_id=1, bos_id=2, eos_id=3)
    assert x.shape == y.shape == mask.shape == (len(seqs), max(lengths) + 1)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, y != IGNORE_INDEX)
    assert torch.equal(mask, x != 1)             # inputs are padded exactly where the targets are ignored
    assert mask.sum(1).tolist() == [n + 1 for n in lengths]
    for k, s in enumerate(seqs):
        w = [2, *s, 3]
        assert x[k][mask[k]].tolist() == w[:-1] and y[k][mask[k]].tolist() == w[1:]
        assert torch.equal(y[k, :-1][mask[k, 1:]], x[k, 1:][mask[k, 1:]])   # the shift, on real tokens


def test_ignore_index_is_pytorch_default():
    assert torch.nn.CrossEntropyLoss().ignore_index == IGNORE_INDEX
    logits = torch.zeros(2, 5)
    assert F.cross_entropy(logits, T([IGNORE_INDEX, 0])).item() == pytest.approx(np.log(5))


class CausalToy(torch.nn.Module):
    """A small causal model: the logits at position t depend on the inputs 0..t only (running mean of embeddings)."""

    def __init__(self, vocab: int, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(vocab, dim, generator=generator))
        self.out = torch.nn.Parameter(torch.randn(dim, vocab, generator=generator))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:              # (B, T) -> (B, T, V)
        e = self.emb[idx]
        steps = torch.arange(1, idx.shape[-1] + 1, dtype=e.dtype).unsqueeze(-1)
        return torch.tanh(e.cumsum(-2) / steps) @ self.out


def test_masked_loss_is_the_mean_over_unpadded_sequences_scored_one_by_one():
    g = torch.Generator().manual_seed(0)
    vocab, pad, bos, eos = 40, 0, 2, 3
    lengths = [1, 9, 4, 0, 15, 6, 2, 11]
    seqs = [torch.randint(4, vocab, (n,), generator=g).tolist() for n in lengths]
    model = CausalToy(vocab, 16, g)
    x, y, mask = pad_sequences(seqs, pad_id=pad, bos_id=bos, eos_id=eos)
    logits = model(x)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # the documented way: no extra argument

    # the reference: each sequence alone, unpadded, its per-token losses by hand in float64, pooled
    total, count, per_seq_means = 0.0, 0, []
    for s in seqs:
        w = torch.tensor([bos, *s, eos])
        with torch.no_grad():
            lg = model(w[:-1].unsqueeze(0))[0].double()
        nll = -(lg - lg.logsumexp(-1, keepdim=True)).gather(1, w[1:].unsqueeze(1)).squeeze(1)
        total, count = total + nll.sum().item(), count + len(nll)
        per_seq_means.append(nll.mean().item())
    assert count == mask.sum().item() == sum(lengths) + len(lengths)
    torch.testing.assert_close(loss, torch.tensor(total / count, dtype=torch.float32), rtol=1e-5, atol=1e-6)
    # it is the mean over tokens, not over sequences (which would give short names more weight)
    assert abs(loss.item() - float(np.mean(per_seq_means))) > 1e-3

    # padded positions contribute nothing: garbage logits there change neither the loss nor any gradient
    garbage = torch.where(mask.unsqueeze(-1), logits, 1e4 * torch.randn(logits.shape, generator=g))
    garbage.retain_grad()
    loss2 = F.cross_entropy(garbage.flatten(0, 1), y.flatten())
    assert loss2.item() == loss.item()
    loss2.backward()
    assert garbage.grad[~mask].abs().max().item() == 0.0
    assert garbage.grad[mask].abs().max().item() > 0.0


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(seqs=[[1, 2]]), TypeError, "pad_id"),
    (dict(seqs=[[1, 2]], pad_id=None), TypeError, "pad_id must be a whole number"),
    (dict(seqs=[[1, 2]], pad_id=-1), ValueError, "pad_id must be >= 0, got -1"),
    (dict(seqs=[[1, 2]], pad_id=0, bos_id=2.0), TypeError, "bos_id must be a whole number"),
    (dict(seqs=[[1, 2]], pad_id=0, eos_id=-3), ValueError, "eos_id must be >= 0"),
    (dict(seqs=[[1, 2]], pad_id=0, max_len=0), ValueError, "max_len must be >= 1, got 0"),
    (dict(seqs=[1, 2, 3], pad_id=0), TypeError, r"one flat sequence of ids; for a single record pass \[ids\]"),
    (dict(seqs=torch.tensor([[1, 2]]), pad_id=0), TypeError, "list of sequences .* got Tensor"),
    (dict(seqs="abc", pad_id=0), TypeError, "list of sequences .* got str"),
    (dict(seqs=[], pad_id=0), ValueError, "seqs is empty"),
    (dict(seqs=[[1, 2], []], pad_id=0), ValueError, r"seqs\[1\] gives no \(input, target\) pair: it has 0 token"),
    (dict(seqs=[[1, 2], [7]], pad_id=0), ValueError, r"seqs\[1\] .* has 1 token\(s\) .* pass bos_id and/or eos_id"),
    (dict(seqs=[[1, 2], [1, 0.5]], pad_id=0), TypeError, r"seqs\[1\] must be whole numbers .* position 1"),
    (dict(seqs=[[1, 2], "ab"], pad_id=0), TypeError, r"seqs\[1\] must be a list, numpy array .* encode"),
])
def test_pad_sequences_reject_bad_input_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(**kwargs)


# --------------------------------------------------------------------------- batches


def stream_windows(n: int = 50, context: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows over 0, 1, 2, ...: every row is distinct, and its target row is the input row plus one."""
    return windows(torch.arange(n), context, stride=1)


def test_sample_batch_is_reproducible_from_its_generator_and_keeps_pairs_aligned():
    x, y = stream_windows()
    g1, g2, g3 = (torch.Generator().manual_seed(s) for s in (7, 7, 8))
    a = [sample_batch(x, y, 5, g1) for _ in range(4)]
    b = [sample_batch(x, y, 5, g2) for _ in range(4)]
    c = [sample_batch(x, y, 5, g3) for _ in range(4)]
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert_same(xa, xb)
        assert_same(ya, yb)
    assert any(not torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))
    for xb, yb in a:
        assert xb.shape == yb.shape == (5, 4)
        assert torch.equal(yb, xb + 1)                     # each x row came with its own y row
        assert torch.equal(xb[:, 1:] - xb[:, :-1], torch.ones(5, 3, dtype=torch.long))  # real windows


def test_sample_batch_draws_rows_like_nanogpt():
    # the rows are torch.randint(n, (batch_size,), generator=g): the same draw nanoGPT and makemore make
    x, y = stream_windows()
    xb, yb = sample_batch(x, y, 6, torch.Generator().manual_seed(3))
    rows = torch.randint(len(x), (6,), generator=torch.Generator().manual_seed(3))
    assert_same(xb, x[rows])
    assert_same(yb, y[rows])


def test_sample_batch_on_padded_records():
    x, y, _ = pad_sequences([[5, 6, 7], [8], [9, 10]], pad_id=0, bos_id=2, eos_id=3)
    xb, yb = sample_batch(x, y, 8, torch.Generator().manual_seed(0))
    for xr, yr in zip(xb, yb, strict=True):
        k = next(k for k in range(3) if torch.equal(x[k], xr))
        assert_same(yr, y[k])


def test_batches_leave_the_global_random_state_alone():
    x, y = stream_windows()
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    g = torch.Generator().manual_seed(0)
    sample_batch(x, y, 4, g)
    list(shuffled_batches(x, y, 4, g, drop_last=True))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_shuffled_batches_visit_every_row_once():
    x, y = stream_windows(n=11, context=3)                 # 8 rows
    g = torch.Generator().manual_seed(1)
    batches = list(shuffled_batches(x, y, 3, g))
    assert [len(xb) for xb, _ in batches] == [3, 3, 2]
    starts = torch.cat([xb[:, 0] for xb, _ in batches])
    assert sorted(starts.tolist()) == list(range(8))
    assert starts.tolist() != list(range(8))               # shuffled
    for xb, yb in batches:
        assert torch.equal(yb, xb + 1)
    # the order is torch.randperm(n, generator=g), drawn once per call
    assert starts.tolist() == torch.randperm(8, generator=torch.Generator().manual_seed(1)).tolist()
    # the next epoch, from the same generator, is another order
    again = torch.cat([xb[:, 0] for xb, _ in shuffled_batches(x, y, 3, g)])
    assert sorted(again.tolist()) == list(range(8)) and again.tolist() != starts.tolist()


def test_shuffled_batches_drop_last():
    x, y = stream_windows(n=11, context=3)                 # 8 rows
    batches = list(shuffled_batches(x, y, 3, torch.Generator().manual_seed(1), drop_last=True))
    assert [len(xb) for xb, _ in batches] == [3, 3]
    full = list(shuffled_batches(x, y, 3, torch.Generator().manual_seed(1)))
    for (xa, ya), (xb, yb) in zip(batches, full, strict=False):
        assert_same(xa, xb)
        assert_same(ya, yb)
    assert len(list(shuffled_batches(x, y, 4, torch.Generator(), drop_last=True))) == 2


def test_shuffled_batches_draw_their_order_when_called():
    x, y = stream_windows()
    g1 = torch.Generator().manual_seed(5)
    epoch = shuffled_batches(x, y, 7, g1)
    torch.rand(4, generator=g1)                            # a later draw from the same generator
    first = list(epoch)
    second = list(shuffled_batches(x, y, 7, torch.Generator().manual_seed(5)))
    for (xa, _), (xb, _) in zip(first, second, strict=True):
        assert_same(xa, xb)


@pytest.mark.parametrize("fn", [sample_batch, shuffled_batches])
@pytest.mark.parametrize("args, error, match", [
    (lambda x, y, g: (x, y, 2, None), TypeError, r"torch.Generator, got NoneType; pass your own.*manual_seed"),
    (lambda x, y, g: (x, y, 2, 0), TypeError, "generator must be a torch.Generator, got int"),
    (lambda x, y, g: (x, y, 0, g), ValueError, "batch_size must be >= 1, got 0"),
    (lambda x, y, g: (x, y, 2.0, g), TypeError, "batch_size must be a whole number"),
    (lambda x, y, g: (x, y[:-1], 2, g), ValueError, r"shapes \(46, 4\) and \(45, 4\): 46 rows against 45"),
    (lambda x, y, g: (x.tolist(), y, 2, g), TypeError, "x must be a tensor .* got list"),
    (lambda x, y, g: (x, y[0, 0], 2, g), TypeError, "y must be a tensor .* got a 0-D tensor"),
    (lambda x, y, g: (x[:0], y[:0], 2, g), ValueError, "no rows"),
], ids=["no generator", "seed for generator", "batch_size 0", "batch_size float", "rows differ", "list",
        "0-D", "empty"])
def test_batches_reject_bad_input_clearly(fn, args, error, match):
    x, y = stream_windows()
    with pytest.raises(error, match=match):
        fn(*args(x, y, torch.Generator()))


def test_shuffled_batches_refuse_an_empty_epoch():
    x, y = stream_windows(n=8, context=3)                  # 5 rows
    with pytest.raises(ValueError, match="drop_last=True with batch_size 6 > 5 rows gives no batch"):
        shuffled_batches(x, y, 6, torch.Generator(), drop_last=True)
    with pytest.raises(TypeError, match="drop_last must be True or False"):
        shuffled_batches(x, y, 2, torch.Generator(), drop_last=1)
