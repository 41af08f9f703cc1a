"""Tests of ``lmcourse.sampling`` and of ``models.generate``'s decoding options: each filter against a brute-force
reference, the sampler's draws against the exact distribution, greedy decoding against argmax by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmcourse import models, sampling
from lmcourse.models import MLPLM, BigramLM, RecurrentLM, generate
from lmcourse.sampling import distribution, greedy, repetition_penalty, top_k_logits, top_p_logits


def random_logits(shape: tuple[int, ...], seed: int, scale: float = 2.0, dtype: torch.dtype = torch.float32):
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- what generate drew before


def test_top_k_logits_is_still_reachable_from_models() -> None:
    assert models.top_k_logits is sampling.top_k_logits
    assert "top_k_logits" in models.__all__


@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.6, 2, 1e-9, 1e-300])
@pytest.mark.parametrize("top_k", [None, 1, 4, 13])
def test_distribution_is_bit_for_bit_what_generate_computed_before(temperature: float, top_k: int | None) -> None:
    """The lines generate ran before sampling.distribution existed, copied: the same float32 probabilities, so the
    same draws from the same generator (the stored samples of chapters 04-08 depend on it)."""
    for seed in range(20):
        z = random_logits((13,), seed, scale=3.0)
        scaled = ((z - z.max()).double() / temperature).float()
        if top_k is not None:
            scaled = top_k_logits(scaled, top_k)
        before = torch.softmax(scaled, dim=-1)
        got = distribution(z, temperature=temperature, top_k=top_k)
        assert got.dtype == torch.float32 and torch.equal(got, before)
        assert torch.equal(distribution(z, temperature=temperature, top_k=top_k, top_p=1.0), before)


# --------------------------------------------------------------------------- top-p


def nucleus_by_hand(row: list[float], p: float) -> list[float]:
    """Brute force: the tokens in order of probability, added one at a time until the total reaches p (that one
    included), then every token tied with the last one taken; the others -inf."""
    probs = np.exp(np.array(row, dtype=np.float64) - max(row))
    probs /= probs.sum()
    order = sorted(range(len(row)), key=lambda i: -row[i])
    total, taken = 0.0, []
    for i in order:
        taken.append(i)
        total += probs[i]
        if total >= p:
            break
    last = min(row[i] for i in taken)
    return [x if x >= last else -math.inf for x in row]


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.8, 0.9, 0.95, 0.999, 1.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_top_p_matches_brute_force_on_random_logits(p: float, dtype: torch.dtype) -> None:
    logits = random_logits((6, 17), seed=int(p * 1000), dtype=dtype)
    before = logits.clone()
    got = top_p_logits(logits, p)
    assert torch.equal(logits, before) and got.dtype == dtype and got.shape == logits.shape
    for row, out in zip(logits.tolist(), got.tolist()):
        assert out == nucleus_by_hand(row, p)
    if p == 1.0:
        assert torch.equal(got, logits) and got is not logits
    # the same on a 1-D row and a 3-D stack
    assert torch.equal(top_p_logits(logits[2], p), got[2])
    assert torch.equal(top_p_logits(logits.reshape(2, 3, 17), p), got.reshape(2, 3, 17))


def test_top_p_keeps_the_token_that_crosses_p() -> None:
    logits = torch.tensor([0.15, 0.5, 0.05, 0.3], dtype=torch.float64).log()
    inf = -math.inf
    # 0.5 < 0.7: not enough; with 0.3 the total is 0.8 >= 0.7, so 0.3 is kept, and nothing after it
    assert top_p_logits(logits, 0.7).tolist() == [inf, math.log(0.5), inf, math.log(0.3)]
    assert top_p_logits(logits, 0.5).tolist() == [inf, math.log(0.5), inf, inf]  # 0.5 reaches 0.5 alone
    assert top_p_logits(logits, 0.01).tolist() == [inf, math.log(0.5), inf, inf]  # the most likely, always
    assert top_p_logits(logits, 0.96).tolist() == logits.tolist()  # 0.95 < 0.96: the last token too
    assert top_p_logits(logits, 1).tolist() == logits.tolist()


def test_top_p_keeps_ties_with_the_last_token_kept_whatever_the_order() -> None:
    logits = torch.tensor([1.0, 2.0, 1.0, 0.0, 1.0])
    got = top_p_logits(logits, 0.5)  # 2.0 alone has 0.43; the three tied 1.0s then all join it
    assert got.tolist() == [1.0, 2.0, 1.0, -math.inf, 1.0]
    perm = torch.tensor([4, 2, 0, 3, 1])
    assert torch.equal(top_p_logits(logits[perm], 0.5), got[perm])


def test_top_p_keeps_the_minus_infinities_of_an_earlier_filter() -> None:
    logits = top_k_logits(random_logits((20,), seed=3), 5)
    got = top_p_logits(logits, 0.9)
    assert torch.isinf(got[torch.isinf(logits)]).all()
    assert got.tolist() == nucleus_by_hand(logits.tolist(), 0.9)


@pytest.mark.parametrize("bad,error,why", [
    (0, ValueError, r"p must be in \(0, 1\], the probability mass .*p=1 keeps every token\), got 0\."),
    (1.5, ValueError, r"p must be in \(0, 1\].*got 1\.5\."),
    (-0.1, ValueError, r"got -0\.1\."),
    (float("nan"), ValueError, r"got nan\."),
    (True, TypeError, r"p must be a number in \(0, 1\].*got bool True"),
    ("0.9", TypeError, r"got str '0\.9'"),
    (None, TypeError, r"got NoneType None"),
])
def test_top_p_refuses_a_p_outside_0_1(bad: object, error: type, why: str) -> None:
    with pytest.raises(error, match=why):
        top_p_logits(torch.zeros(4), bad)  # type: ignore[arg-type]


def test_filters_refuse_what_is_not_logits() -> None:
    for fn, args in ((top_p_logits, (0.9,)), (repetition_penalty, ([0], 1.2))):
        with pytest.raises(TypeError, match=r"needs a floating-point tensor of logits.*got a torch\.int64 tensor"):
            fn(torch.arange(4), *args)  # type: ignore[operator]
        with pytest.raises(TypeError, match=r"got list"):
            fn([1.0, 2.0], *args)  # type: ignore[operator]
        with pytest.raises(ValueError, match=r"at least one logit"):
            fn(torch.zeros(2, 0), *args)  # type: ignore[operator]


# --------------------------------------------------------------------------- repetition penalty


def test_repetition_penalty_on_a_hand_example() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5, 0.0, -3.0, 4.0])
    before = logits.clone()
    got = repetition_penalty(logits, [1, 2, 2, 3, 4, 1, 1], 2.0)
    # 0 and 5 never seen: unchanged; 2 (positive) halved once although seen twice; 1 and 4 (negative) doubled;
    # 3 (zero) stays 0
    assert got.tolist() == [2.0, -2.0, 0.25, 0.0, -6.0, 4.0]
    assert torch.equal(logits, before)  # a new tensor
    assert torch.equal(repetition_penalty(logits, torch.tensor([2, 1, 4, 3]), 2.0), got)
    assert torch.equal(repetition_penalty(logits, [], 2.0), logits)
    assert torch.equal(repetition_penalty(logits, [0, 5], 1.0), logits)


def test_repetition_penalty_matches_brute_force_row_by_row() -> None:
    logits = random_logits((3, 10), seed=4, dtype=torch.float64)
    ids = [7, 2, 2, 9, 0, 7]
    got = repetition_penalty(logits, ids, 1.3)
    for row, out in zip(logits.tolist(), got.tolist()):
        want = [(x / 1.3 if x > 0 else x * 1.3) if j in set(ids) else x for j, x in enumerate(row)]
        assert out == pytest.approx(want, rel=1e-15)
        assert all(o <= x for o, x in zip(out, row))  # never more likely


@pytest.mark.parametrize("ids,penalty,error,why", [
    ([0, 6], 1.2, ValueError, r"previous_ids\[1\] = 6 is not a token id of a vocabulary of 6 tokens \(ids 0 \.\. 5\)"),
    ([-1], 1.2, ValueError, r"previous_ids\[0\] = -1 is not a token id"),
    ([1.0], 1.2, TypeError, r"previous_ids\[0\] = 1\.0 is not a token id \(an int\)"),
    (torch.tensor([1.0]), 1.2, TypeError, r"1-D integer tensor of token ids, got a torch\.float32 tensor"),
    ("abc", 1.2, TypeError, r"list or 1-D integer tensor of token ids, got str"),
    ([1], 0.9, ValueError, r"penalty must be a finite number >= 1 .*MORE likely\), got 0\.9"),
    ([1], float("inf"), ValueError, r"penalty must be a finite number >= 1"),
    ([1], True, TypeError, r"penalty must be a number >= 1, e\.g\. penalty=1\.2 \(1 changes nothing\); got bool"),
])
def test_repetition_penalty_errors(ids: object, penalty: object, error: type, why: str) -> None:
    with pytest.raises(error, match=why):
        repetition_penalty(torch.zeros(6), ids, penalty)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- distribution and greedy


@pytest.mark.parametrize("kwargs", [{}, {"temperature": 0.5}, {"top_k": 3}, {"top_p": 0.6},
                                    {"temperature": 1.7, "top_k": 8, "top_p": 0.9}, {"temperature": 1e-12}])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_distribution_sums_to_one(kwargs: dict, dtype: torch.dtype) -> None:
    for seed in range(10):
        probs = distribution(random_logits((15,), seed, dtype=dtype), **kwargs)
        assert probs.dtype == dtype and (probs >= 0).all()
        assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6 if dtype == torch.float32 else 1e-12)


def test_distribution_applies_temperature_then_top_k_then_top_p() -> None:
    z = random_logits((12,), seed=5, dtype=torch.float64)
    probs = distribution(z, temperature=0.7, top_k=6, top_p=0.8)
    want = torch.softmax(top_p_logits(top_k_logits(z / 0.7, 6), 0.8), dim=-1)
    torch.testing.assert_close(probs, want, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"one row of logits \(1-D.*got shape \(2, 12\)"):
        distribution(z.repeat(2, 1))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        distribution(z, temperature=0)
    with pytest.raises(ValueError, match=r"top_k=13 is larger than the vocabulary \(12 tokens\)"):
        distribution(z, top_k=13)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        distribution(z, top_p=0)


def test_greedy_is_the_argmax_with_ties_to_the_lowest_id() -> None:
    assert greedy(torch.tensor([0.1, 3.0, -2.0, 3.0])) == 1
    assert greedy(torch.tensor([-math.inf, -1.0])) == 1
    z = random_logits((30,), seed=6)
    assert greedy(z) == int(np.argmax(z.numpy()))
    with pytest.raises(ValueError, match=r"one row of logits"):
        greedy(torch.zeros(2, 3))


TOLERANCE = 0.02  # total variation; these 40,000 draws (seed 0) are 0.0061 from the exact distribution


def test_draws_from_distribution_follow_the_exact_truncated_distribution() -> None:
    """40,000 draws with torch.multinomial under temperature 0.7, top_k 5 and top_p 0.8 land on the kept tokens
    only, with frequencies within TOLERANCE (total variation) of the distribution computed by hand."""
    z = np.array([1.2, -0.3, 2.5, 0.4, 2.0, -1.5, 1.9, 0.0, -0.8, 1.0, 2.3, -2.0, 0.7, 0.1])
    # by hand: the temperature, the 5 largest, then the nucleus of those
    scaled = z / 0.7
    five = np.argsort(-scaled)[:5]                             # tokens 2, 10, 4, 6, 0
    p5 = np.exp(scaled[five] - scaled[five].max())
    p5 /= p5.sum()
    taken = int(np.argmax(np.cumsum(p5) >= 0.8)) + 1           # the crossing token included
    kept = five[:taken]
    exact = np.zeros(len(z))
    exact[kept] = p5[:taken] / p5[:taken].sum()
    assert 2 <= taken < 5  # both filters matter here

    probs = distribution(torch.tensor(z, dtype=torch.float32), temperature=0.7, top_k=5, top_p=0.8)
    np.testing.assert_allclose(probs.numpy(), exact, atol=1e-6)
    draws = torch.multinomial(probs, 40_000, replacement=True, generator=torch.Generator().manual_seed(0))
    freq = np.bincount(draws.numpy(), minlength=len(z)) / 40_000
    assert set(np.flatnonzero(freq)) == set(kept.tolist())  # nothing outside the kept set, every kept token drawn
    tv = 0.5 * np.abs(freq - exact).sum()
    assert tv < TOLERANCE
    # and the test can fail: the untruncated distribution is far from these frequencies
    full = np.exp(scaled - scaled.max())
    assert 0.5 * np.abs(freq - full / full.sum()).sum() > 5 * TOLERANCE


# --------------------------------------------------------------------------- generate's new options

V = 11


def make(kind: str) -> torch.nn.Module:
    torch.manual_seed(8)
    if kind == "bigram":
        model = BigramLM(V)
        with torch.no_grad():
            model.table.weight.normal_(0.0, 2.0)
        return model
    if kind == "mlp":
        return MLPLM(V, context=3, embed_dim=4, hidden=8)
    return RecurrentLM(V, embed_dim=4, hidden=6, num_layers=2, cell=kind)


@pytest.mark.parametrize("kind", ["bigram", "mlp", "lstm"])
@pytest.mark.parametrize("penalty", [1.0, 1.5])
def test_greedy_generate_is_argmax_decoding_by_hand(kind: str, penalty: float) -> None:
    model = make(kind).eval()
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    got = generate(model, [3, 1], 15, greedy=True, repetition_penalty=penalty, generator=g)
    assert torch.equal(g.get_state(), state)  # no draws
    assert generate(model, [3, 1], 15, greedy=True, repetition_penalty=penalty) == got  # no generator needed
    seq = [3, 1]
    with torch.no_grad():
        for _ in range(15):
            z = model(torch.tensor([seq]))[0][0, -1]
            seen = set(seq)
            z = torch.tensor([(x / penalty if x > 0 else x * penalty) if j in seen else x
                              for j, x in enumerate(z.tolist())])
            seq.append(int(z.argmax()))
    assert got == seq[2:]
    if penalty == 1.0:
        assert len(set(got)) < 15  # greedy repeats itself ...
        assert got == generate(model, [3, 1], 15, temperature=1e-9, generator=torch.Generator().manual_seed(0))


def test_a_repetition_penalty_makes_greedy_text_less_repetitive() -> None:
    model = make("bigram").eval()
    plain = generate(model, [0], 30, greedy=True)
    penalised = generate(model, [0], 30, greedy=True, repetition_penalty=3.0)
    assert len(set(penalised)) > len(set(plain))


@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_generate_with_top_p_and_a_penalty_draws_what_distribution_gives(kind: str) -> None:
    model = make(kind).eval()
    kwargs = {"temperature": 0.9, "top_k": 7, "top_p": 0.75, "repetition_penalty": 1.3}
    got = generate(model, [3, 1, 4], 20, generator=torch.Generator().manual_seed(5), **kwargs)
    g, seq = torch.Generator().manual_seed(5), [3, 1, 4]
    with torch.no_grad():
        for _ in range(20):
            z = repetition_penalty(model(torch.tensor([seq]))[0][0, -1], seq, 1.3)
            probs = distribution(z, temperature=0.9, top_k=7, top_p=0.75)
            seq.append(int(torch.multinomial(probs, 1, generator=g)))
    assert got == seq[3:]
    # top_p=1 and repetition_penalty=1 change nothing
    plain = generate(model, [3, 1, 4], 20, generator=torch.Generator().manual_seed(5), temperature=0.9)
    assert plain == generate(model, [3, 1, 4], 20, generator=torch.Generator().manual_seed(5), temperature=0.9,
                             top_p=1.0, repetition_penalty=1.0)


def test_generate_with_a_small_top_p_draws_only_the_most_likely_token() -> None:
    model = make("bigram").eval()
    got = generate(model, [2], 20, top_p=1e-6, generator=torch.Generator().manual_seed(1))
    assert got == generate(model, [2], 20, greedy=True)


@pytest.mark.parametrize("kwargs,error,why", [
    ({"top_p": 0.0}, ValueError, r"top_p must be in \(0, 1\].*top_p=1 keeps every token\), got 0\.0"),
    ({"top_p": 2}, ValueError, r"top_p must be in \(0, 1\]"),
    ({"top_p": "0.9"}, TypeError, r"top_p must be a number in \(0, 1\]"),
    ({"repetition_penalty": 0.5}, ValueError, r"repetition_penalty must be a finite number >= 1"),
    ({"repetition_penalty": None}, TypeError, r"repetition_penalty must be a number >= 1"),
    ({"greedy": 1}, TypeError, r"greedy must be True or False, got 1"),
    ({"greedy": True, "temperature": 0.5}, ValueError,
     r"greedy=True takes the most likely token .*got temperature=0\.5, top_k=None, top_p=None\), or pass greedy=False"),
    ({"greedy": True, "top_k": 3}, ValueError, r"greedy=True .*top_k=3"),
    ({"greedy": True, "top_p": 0.9}, ValueError, r"greedy=True .*top_p=0\.9"),
    ({"greedy": True, "generator": 0}, TypeError, r"generator must be a torch\.Generator or None, got int"),
    ({"generator": None}, TypeError, r"generator must be a torch\.Generator, got NoneType; pass your own"),
])
def test_generate_checks_its_new_arguments_up_front(kwargs: dict, error: type, why: str) -> None:
    kwargs = {"generator": torch.Generator().manual_seed(0), **kwargs}
    with pytest.raises(error, match=why):
        generate(BigramLM(V), [0], 5, **kwargs)
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator, got NoneType"):
        generate(BigramLM(V), [0], 5)  # sampling needs a generator
