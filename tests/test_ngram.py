"""lmcourse.ngram: every smoother against a slow reference written from the formulas, proper distributions,
hand counts, the uniform model, sampling, weight tuning, and bad input."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from lmcourse.ngram import SMOOTHERS, NGramLM, UnseenContextError

# --------------------------------------------------------------------------- the slow reference


class Reference:
    """A slow, obviously correct n-gram model: dicts of tuples and loops, straight from the module's formulas."""

    def __init__(self, order: int, smoothing: str, vocab_size: int, k: float = 1.0, weights=None) -> None:
        self.order, self.smoothing, self.V, self.k = order, smoothing, vocab_size, k
        self.weights = weights if weights is not None else [1 / (order + 1)] * (order + 1)

    def fit(self, ids: list[int]) -> Reference:
        raw = {m: Counter(tuple(ids[i:i + m]) for i in range(len(ids) - m + 1)) for m in range(1, self.order + 2)}
        self.counts = {}
        for m in range(1, self.order + 1):
            if self.smoothing in ("kneser-ney", "modified-kneser-ney") and m < self.order:
                left = {}  # continuation count: how many distinct tokens come before the m-gram
                for gram in raw[m + 1]:
                    left.setdefault(gram[1:], set()).add(gram[0])
                self.counts[m] = {g: len(s) for g, s in left.items()}
            else:
                self.counts[m] = dict(raw[m])
        self.discounts = {m: self._discounts(m) for m in range(1, self.order + 1)}
        self.cache: dict[tuple[int, tuple[int, ...], int], float] = {}  # backoff's recursion, memoised
        return self

    def _discounts(self, m: int) -> tuple[float, ...]:
        n = [sum(1 for c in self.counts[m].values() if c == r) for r in range(5)]
        if self.smoothing in ("kneser-ney", "absolute-discounting", "backoff"):
            d = n[1] / (n[1] + 2 * n[2]) if n[1] + 2 * n[2] > 0 else 0.5
            return (min(max(d, 0.05), 0.95 if self.smoothing == "backoff" else 1.0),)
        y = n[1] / (n[1] + 2 * n[2]) if n[1] + 2 * n[2] > 0 else 0.5
        d1 = 1 - 2 * y * n[2] / n[1] if n[1] > 0 else 0.5
        d2 = 2 - 3 * y * n[3] / n[2] if n[2] > 0 else 1.0
        d3 = 3 - 4 * y * n[4] / n[3] if n[3] > 0 else 1.5
        return (min(max(d1, 0.05), 1.0), min(max(d2, 0.05), 2.0), min(max(d3, 0.05), 3.0))

    def c(self, m: int, gram: tuple[int, ...]) -> int:
        return self.counts[m].get(gram, 0)

    def total(self, m: int, h: tuple[int, ...]) -> int:
        return sum(self.c(m, h + (v,)) for v in range(self.V))

    def discount(self, m: int, c: int) -> float:
        if c == 0:
            return 0.0
        d = self.discounts[m]
        return d[0] if len(d) == 1 else d[min(c, 3) - 1]

    def kn(self, w: int, h: tuple[int, ...], m: int) -> float:
        if m == 0:
            return 1 / self.V
        lower = self.kn(w, h[1:], m - 1)
        total = self.total(m, h)
        if total == 0:
            return lower
        gamma = sum(self.discount(m, self.c(m, h + (v,))) for v in range(self.V))
        c = self.c(m, h + (w,))
        return (max(c - self.discount(m, c), 0) + gamma * lower) / total

    def backoff(self, w: int, h: tuple[int, ...], m: int) -> float:
        """Katz-style backoff, straight from the module docstring: discounted MLE for a token seen after h,
        alpha(h) times the lower order for any other; no discount where every token was seen after h."""
        if m == 0:
            return 1 / self.V
        if (w, h, m) not in self.cache:
            total = self.total(m, h)
            if total == 0:
                p = self.backoff(w, h[1:], m - 1)
            else:
                seen = [v for v in range(self.V) if self.c(m, h + (v,)) > 0]
                d = 0.0 if len(seen) == self.V else self.discounts[m][0]
                if self.c(m, h + (w,)) > 0:
                    p = (self.c(m, h + (w,)) - d) / total
                else:
                    alpha = (d * len(seen) / total) / (1 - sum(self.backoff(v, h[1:], m - 1) for v in seen))
                    p = alpha * self.backoff(w, h[1:], m - 1)
            self.cache[w, h, m] = p
        return self.cache[w, h, m]

    def prob(self, w: int, h: tuple[int, ...]) -> float:
        m = len(h) + 1
        if self.smoothing == "mle":
            if self.total(m, h) == 0:
                raise UnseenContextError("unseen", h)
            return self.c(m, h + (w,)) / self.total(m, h)
        if self.smoothing == "add-k":
            return (self.c(m, h + (w,)) + self.k) / (self.total(m, h) + self.k * self.V)
        if self.smoothing == "interpolated":
            num, den = self.weights[0] / self.V, self.weights[0]
            for j in range(1, m + 1):
                hj = h[len(h) - (j - 1):]
                if self.total(j, hj) > 0:
                    num += self.weights[j] * self.c(j, hj + (w,)) / self.total(j, hj)
                    den += self.weights[j]
            return num / den
        if self.smoothing == "backoff":
            return self.backoff(w, h, m)
        return self.kn(w, h, m)  # Kneser-Ney and absolute discounting: the counts differ, not the recursion

    def log_probs(self, ids: list[int]) -> list[float]:
        out = []
        for i, w in enumerate(ids):
            p = self.prob(w, tuple(ids[max(0, i - self.order + 1):i]))
            out.append(math.log(p) if p > 0 else -math.inf)
        return out


# --------------------------------------------------------------------------- toy corpora

RNG = np.random.default_rng(7)
TOYS = {
    # name: (training ids, vocab_size, held-out ids); vocab 6 leaves ids 4 and 5 unseen in "abab"
    "abab": ([0, 1, 0, 2, 0, 1, 3, 0, 1, 0, 2, 2, 1, 0], 6, [0, 1, 4, 0, 2, 5, 1, 1, 0, 3, 3]),
    "random": (RNG.integers(0, 5, 300).tolist(), 5, RNG.integers(0, 5, 60).tolist()),
    "skewed": (RNG.choice(7, 400, p=[0.4, 0.25, 0.15, 0.1, 0.05, 0.05, 0.0]).tolist(), 7,
               RNG.integers(0, 7, 50).tolist()),
}


def both(order: int, smoothing: str, toy: str, **kw) -> tuple[NGramLM, Reference, list[int]]:
    ids, V, held = TOYS[toy]
    lm = NGramLM(order, smoothing, vocab_size=V, **kw).fit(ids)
    ref = Reference(order, smoothing, V, k=kw.get("k", 1.0), weights=kw.get("weights")).fit(ids)
    return lm, ref, held


def contexts(order: int, ids: list[int], V: int) -> list[tuple[int, ...]]:
    """Every context of length 0 .. order-1 that occurs in ``ids``, plus a few that do not."""
    seen = {tuple(ids[i:i + n]) for n in range(order) for i in range(len(ids) - n + 1)}
    unseen = {tuple(RNG.integers(0, V, n).tolist()) for n in range(1, order) for _ in range(5)}
    return sorted(seen | unseen, key=lambda h: (len(h), h))


@pytest.mark.parametrize("toy", sorted(TOYS))
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("smoothing", SMOOTHERS)
def test_every_smoother_equals_the_reference(smoothing: str, order: int, toy: str) -> None:
    kw = {"k": 0.3} if smoothing == "add-k" else {}
    if smoothing == "interpolated":
        kw["weights"] = list(np.linspace(1, 2, order + 1) / np.linspace(1, 2, order + 1).sum())
    lm, ref, held = both(order, smoothing, toy, **kw)
    ids, V, _ = TOYS[toy]
    if smoothing not in ("mle", "add-k", "interpolated"):
        np.testing.assert_allclose(lm.discounts, [ref.discounts[m] for m in range(1, order + 1)], rtol=0, atol=1e-12)
    checked = 0
    for h in contexts(order, ids, V):
        try:
            want = [ref.prob(w, h) for w in range(V)]
        except UnseenContextError:
            assert smoothing == "mle"
            with pytest.raises(UnseenContextError):
                lm.distribution(h)
            continue
        np.testing.assert_allclose(lm.distribution(h), want, rtol=0, atol=1e-9)
        assert lm.prob(V - 1, h) == pytest.approx(want[V - 1], abs=1e-12)
        checked += 1
    assert checked >= min(order, 3)
    for seq in (ids[:40], held):
        try:
            want = ref.log_probs(seq)
        except UnseenContextError:
            assert smoothing == "mle"
            with pytest.raises(UnseenContextError):
                lm.log_probs(seq)
            continue
        got = lm.log_probs(seq)
        finite = np.isfinite(want)
        assert np.array_equal(finite, np.isfinite(got))
        np.testing.assert_allclose(got[finite], np.array(want)[finite], rtol=0, atol=1e-9)


@pytest.mark.parametrize("smoothing", SMOOTHERS[1:])
def test_long_sequences_take_the_sorted_lookup_path_and_still_equal_the_reference(smoothing: str) -> None:
    ids, V, _ = TOYS["random"]
    held = np.random.default_rng(11).integers(0, V, 1500).tolist()  # > 1000 queries: searched in sorted order
    lm = NGramLM(3, smoothing, vocab_size=V).fit(ids)
    ref = Reference(3, smoothing, V).fit(ids)
    np.testing.assert_allclose(lm.log_probs(held), ref.log_probs(held), rtol=0, atol=1e-9)


@pytest.mark.parametrize("smoothing", ["modified-kneser-ney", "backoff", "absolute-discounting"])
def test_reference_comparison_covers_unseen_tokens_and_contexts(smoothing: str) -> None:
    lm, ref, held = both(3, smoothing, "abab")
    assert lm.prob(5, (4, 4)) == pytest.approx(ref.prob(5, (4, 4)), abs=1e-12)
    assert lm.prob(5, (0, 1)) > 0  # an id never seen in training still gets a little probability


def test_the_reference_discounts_reach_their_clips_on_the_toys() -> None:
    """The clipping (and backoff's lower upper clip) is exercised by the reference test, not only written."""
    ds = {s: both(4, s, "abab")[0].discounts for s in ("absolute-discounting", "backoff")}
    # unigram counts 6, 4, 3, 1: n1 = 1, n2 = 0, so D = n1 / (n1 + 2 n2) = 1
    assert ds["absolute-discounting"][0] == (1.0,) and ds["backoff"][0] == (0.95,)


# --------------------------------------------------------------------------- absolute discounting and backoff

# "San Francisco": token 1 is frequent but always follows token 0; tokens 2 .. 5 follow anything
FRANCISCO = np.random.default_rng(5).choice([2, 3, 4, 5, 6], 400, p=[0.2, 0.2, 0.2, 0.1, 0.3]).tolist()
FRANCISCO = [t for x in FRANCISCO for t in ((0, 1) if x == 6 else (x,))]


def test_kneser_ney_is_absolute_discounting_plus_continuation_counts() -> None:
    V, c1 = 6, Counter(FRANCISCO)
    ad1, kn1 = (NGramLM(1, s, vocab_size=V).fit(FRANCISCO) for s in ("absolute-discounting", "kneser-ney"))
    np.testing.assert_array_equal(ad1.distribution(), kn1.distribution())  # one order: raw counts in both
    ad, kn = (NGramLM(2, s, vocab_size=V).fit(FRANCISCO) for s in ("absolute-discounting", "kneser-ney"))
    assert ad.discounts[1] == kn.discounts[1] and ad.discounts[0] != kn.discounts[0]  # top order: same raw counts
    # the lower order differs: by raw count 1 ("Francisco") is common, by continuation count it follows one token
    assert ad.distribution()[1] == pytest.approx((c1[1] - ad.discounts[0][0]) / len(FRANCISCO)
                                                 + ad.discounts[0][0] * 6 / len(FRANCISCO) / V)
    assert kn.distribution()[1] < ad.distribution()[1] / 5
    # ... and exactly there: after a seen h the difference is the back-off weight times the lower orders' difference
    pairs = Counter(zip(FRANCISCO, FRANCISCO[1:]))
    for h in range(V):
        total, followers = sum(pairs[h, w] for w in range(V)), sum(pairs[h, w] > 0 for w in range(V))
        gap = kn.distribution([h]) - ad.distribution([h])
        want = (kn.distribution() - ad.distribution()) * (kn.discounts[1][0] * followers / total if total else 1.0)
        np.testing.assert_allclose(gap, want, rtol=0, atol=1e-12)
    assert kn.prob(1, [2]) < ad.prob(1, [2])  # "Francisco" after a word it never followed


def test_backoff_uses_the_lower_order_only_for_unseen_tokens() -> None:
    lm = NGramLM(2, "backoff", vocab_size=6).fit(FRANCISCO)
    pairs, d = Counter(zip(FRANCISCO, FRANCISCO[1:])), lm.discounts[1][0]
    h = 2
    total = sum(pairs[h, w] for w in range(6))
    seen = [w for w in range(6) if pairs[h, w] > 0]
    unseen = [w for w in range(6) if pairs[h, w] == 0]
    assert seen and unseen
    dist, uni = lm.distribution([h]), lm.distribution()
    np.testing.assert_allclose(dist[seen], [(pairs[h, w] - d) / total for w in seen], rtol=0, atol=1e-15)
    ratio = dist[unseen] / uni[unseen]  # one alpha(h) for every unseen token
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert ratio[0] == pytest.approx(d * len(seen) / total / (1 - uni[seen].sum()), rel=1e-12)
    assert dist.sum() == pytest.approx(1, abs=1e-12)


def test_backoff_gives_a_context_followed_by_every_token_its_mle() -> None:
    V = 3
    # every token follows each of 0, 1, 2 (a de Bruijn sequence, then more); trigram context (0, 0) is full too
    ids = [0, 0, 1, 0, 2, 1, 1, 2, 2, 0, 0, 0, 2, 0, 0, 1]
    lm = NGramLM(2, "backoff", vocab_size=V).fit(ids)
    unigrams, pairs = Counter(ids), Counter(zip(ids, ids[1:]))
    np.testing.assert_allclose(lm.distribution(), [unigrams[w] / len(ids) for w in range(V)], rtol=0, atol=1e-15)
    for h in range(V):
        total = sum(pairs[h, w] for w in range(V))
        np.testing.assert_allclose(lm.distribution([h]), [pairs[h, w] / total for w in range(V)], rtol=0, atol=1e-15)
    # one more id in the vocabulary: now every context has an unseen token, and is discounted again
    wider = NGramLM(2, "backoff", vocab_size=V + 1).fit(ids)
    for h in range(V + 1):
        d = wider.distribution([h])
        assert abs(d.sum() - 1) < 1e-12 and (d > 0).all()
    assert wider.prob(0, [1]) < lm.prob(0, [1])
    partly = NGramLM(3, "backoff", vocab_size=V).fit(ids)  # some trigram contexts are full, some are not
    ref = Reference(3, "backoff", V).fit(ids)
    triples = Counter(zip(ids, ids[1:], ids[2:]))
    np.testing.assert_allclose(partly.distribution((0, 0)), [triples[0, 0, w] / 4 for w in range(V)], atol=1e-15)
    assert partly.distribution((0, 2))[2] > 0  # (0, 2) was followed by 0 and 1 only
    for h in [(a, b) for a in range(V) for b in range(V)]:
        np.testing.assert_allclose(partly.distribution(h), [ref.prob(w, h) for w in range(V)], rtol=0, atol=1e-12)
        assert abs(partly.distribution(h).sum() - 1) < 1e-12


# --------------------------------------------------------------------------- proper distributions


SUMS_CORPUS = np.random.default_rng(3).choice(9, 3000, p=np.r_[np.full(8, 0.12), 0.04]).tolist()


@pytest.mark.parametrize("order", range(1, 9))
@pytest.mark.parametrize("smoothing", SMOOTHERS)
def test_every_distribution_sums_to_one(smoothing: str, order: int) -> None:
    V = 10  # id 9 never occurs
    lm = NGramLM(order, smoothing, vocab_size=V).fit(SUMS_CORPUS)
    rng = np.random.default_rng(order)
    starts = rng.integers(0, len(SUMS_CORPUS) - order, 15)
    seen = [tuple(SUMS_CORPUS[s:s + n]) for s in starts for n in (order - 1, (order - 1) // 2)]
    unseen = [tuple(rng.integers(0, V, order - 1).tolist()) for _ in range(10)] + [(9,) * (order - 1)]
    for h in seen + ([] if smoothing == "mle" else unseen):
        d = lm.distribution(h)
        assert d.shape == (V,)
        assert not np.isnan(d).any() and (d >= 0).all(), h
        assert abs(d.sum() - 1) < 1e-9, (h, d.sum())
        if smoothing != "mle":
            assert (d > 0).all(), h  # smoothed: nothing in the vocabulary is impossible


def test_mle_has_no_distribution_for_an_unseen_context_and_says_which() -> None:
    lm = NGramLM(3, vocab_size=10).fit(SUMS_CORPUS)
    with pytest.raises(UnseenContextError, match=r"\(9, 9\)") as err:
        lm.distribution((9, 9))
    assert err.value.context == (9, 9)
    with pytest.raises(UnseenContextError, match=r"\(0, 9\) \(the context of position 3\)"):
        lm.log_probs([0, 0, 9, 9, 0])


# --------------------------------------------------------------------------- hand counts and the uniform model


def test_mle_equals_hand_counts() -> None:
    ids = [0, 1, 0, 2, 0, 1]  # "a b a c a b"
    uni = NGramLM(1).fit(ids)
    np.testing.assert_allclose(uni.distribution(), [3 / 6, 2 / 6, 1 / 6])
    bi = NGramLM(2).fit(ids)
    # bigrams: ab x2, ba, ac, ca; 'a' is followed by something 3 times, 'b' once (the last b ends the text)
    np.testing.assert_allclose(bi.distribution([0]), [0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(bi.distribution([1]), [1, 0, 0])
    np.testing.assert_allclose(bi.distribution([2]), [1, 0, 0])
    assert bi.prob(1, [0]) == pytest.approx(2 / 3)
    assert bi.logprob(0, [0]) == -math.inf
    # the first position has no history: it is scored by the unigram estimate
    np.testing.assert_allclose(np.exp(bi.log_probs(ids)), [1 / 2, 2 / 3, 1, 1 / 3, 1, 2 / 3])
    tri = NGramLM(3).fit(ids)
    np.testing.assert_allclose(tri.distribution([0, 1]), [1, 0, 0])  # abab: the second "ab" is at the end
    np.testing.assert_allclose(tri.distribution([1, 0]), [0, 0, 1])
    assert tri.perplexity(ids) == pytest.approx(math.exp(-np.mean(np.log([1 / 2, 2 / 3, 1, 1, 1, 1]))))


def test_the_uniform_model_has_perplexity_vocab_size() -> None:
    ids = [0, 1, 2, 3, 4] * 20
    assert NGramLM(1).fit(ids).perplexity([4, 2, 0, 1, 1, 3]) == pytest.approx(5, abs=1e-12)
    huge_k = NGramLM(3, "add-k", k=1e12, vocab_size=7).fit(ids)
    assert huge_k.perplexity([6, 5, 0, 1, 2, 2]) == pytest.approx(7, rel=1e-9)
    assert huge_k.bits_per_token([6, 5, 0, 1]) == pytest.approx(math.log2(7), rel=1e-9)
    only_uniform = NGramLM(2, "interpolated", weights=[1, 0, 0], vocab_size=9).fit(ids)
    assert only_uniform.perplexity(ids) == pytest.approx(9, abs=1e-9)


# --------------------------------------------------------------------------- sampling, tuning, unknown ids


def test_generate_is_reproducible_and_follows_the_counts() -> None:
    lm = NGramLM(3, "modified-kneser-ney").fit(SUMS_CORPUS)
    a = lm.generate(50, [1, 2], generator=np.random.default_rng(5))
    assert a == lm.generate(50, [1, 2], generator=np.random.default_rng(5))
    assert a != lm.generate(50, [1, 2], generator=np.random.default_rng(6))
    assert len(a) == 50 and all(0 <= t < lm.vocab_size for t in a)
    cycle = NGramLM(2).fit([0, 1, 2] * 10)  # MLE: after 0 always 1, after 1 always 2, after 2 always 0
    assert cycle.generate(7, [2], generator=np.random.default_rng(0)) == [0, 1, 2, 0, 1, 2, 0]
    assert cycle.generate(0, generator=np.random.default_rng(0)) == []
    with pytest.raises(TypeError, match="generator must be a numpy Generator"):
        cycle.generate(3, generator=0)  # type: ignore[arg-type]


def test_generate_stops_right_after_the_stop_token() -> None:
    lm = NGramLM(2, "backoff").fit(SUMS_CORPUS)  # ids 0 .. 8
    for seed in range(20):
        free = lm.generate(10, [1], generator=np.random.default_rng(seed))
        got = lm.generate(10, [1], generator=np.random.default_rng(seed), stop=3)
        cut = free.index(3) + 1 if 3 in free else len(free)
        assert got == free[:cut]  # the same draws, ending with the first 3 (included), or all n if none
        assert got == lm.generate(10, [1], generator=np.random.default_rng(seed), stop=3)
        assert 3 not in got[:-1]
    stops = [lm.generate(10, [1], generator=np.random.default_rng(s), stop=3) for s in range(20)]
    assert any(s[-1] == 3 and len(s) < 10 for s in stops) and any(len(s) == 10 and 3 not in s for s in stops)
    cycle = NGramLM(2).fit([0, 1, 2] * 10)
    assert cycle.generate(9, [2], generator=np.random.default_rng(0), stop=2) == [0, 1, 2]
    assert cycle.generate(2, [2], generator=np.random.default_rng(0), stop=2) == [0, 1]  # n is still the most


@pytest.mark.parametrize(("stop", "error", "message"), [
    (9, ValueError, r"stop=9 is not an id of the vocabulary 0 .. 8; pass the id of the token that ends"),
    (-1, ValueError, r"stop must be an integer >= 0, got -1"),
    (2.0, TypeError, r"stop must be a whole number \(an int\), got 2.0"),
    ("<eos>", TypeError, r"stop must be a whole number"),
])
def test_generate_refuses_a_stop_outside_the_vocabulary(stop: object, error: type, message: str) -> None:
    lm = NGramLM(2, "add-k").fit(SUMS_CORPUS)
    with pytest.raises(error, match=message):
        lm.generate(5, generator=np.random.default_rng(0), stop=stop)  # type: ignore[arg-type]


def test_sampling_frequencies_match_the_distribution() -> None:
    lm = NGramLM(1, "add-k", k=1).fit([0, 0, 0, 1])  # P = (4/6, 2/6)
    sample = lm.generate(3000, generator=np.random.default_rng(1))
    assert np.mean(np.array(sample) == 0) == pytest.approx(4 / 6, abs=0.03)


def test_tuned_interpolation_weights_raise_the_heldout_likelihood() -> None:
    train, held = SUMS_CORPUS[:2000], SUMS_CORPUS[2000:]
    lm = NGramLM(3, "interpolated", vocab_size=10).fit(train)
    np.testing.assert_allclose(lm.weights, [1 / 4] * 4)  # the default: equal weights
    before = lm.perplexity(held)
    lm.tune_weights(held)
    assert lm.weights.sum() == pytest.approx(1) and (lm.weights > 0).all()
    assert lm.perplexity(held) < before
    with pytest.raises(ValueError, match="tune_weights is for smoothing='interpolated'"):
        NGramLM(2, "add-k").fit(train).tune_weights(held)


def test_unknown_ids_need_a_policy() -> None:
    lm = NGramLM(2, "add-k", vocab_size=5).fit([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"the id 7 at position 2, outside the vocabulary 0 .. 4.*unk="):
        lm.log_probs([0, 1, 7])
    with pytest.raises(ValueError, match=r"the id 5 at position 0, outside the vocabulary 0 .. 4"):
        lm.prob(5, [0])
    with pytest.raises(ValueError, match=r"negative id -1 at position 1"):
        lm.log_probs([0, -1])
    with pytest.raises(ValueError, match=r"negative id -2"):
        lm.prob(1, [-2])
    with_unk = NGramLM(2, "add-k", vocab_size=5, unk=4).fit([0, 1, 2, 3])
    np.testing.assert_allclose(with_unk.log_probs([0, 1, 7]), with_unk.log_probs([0, 1, 4]))
    with pytest.raises(ValueError, match=r"unk=9 must be an id inside the vocabulary 0 .. 4"):
        NGramLM(2, vocab_size=5, unk=9)


def test_vocab_size_defaults_to_the_largest_id_plus_one() -> None:
    assert NGramLM(2).fit([3, 0, 1]).vocab_size == 4
    with pytest.raises(ValueError, match=r"tokens holds the id 6 at position 1, outside vocab_size=5"):
        NGramLM(2, vocab_size=5).fit([0, 6])


def test_memory_is_reported() -> None:
    lm = NGramLM(4, "kneser-ney").fit(SUMS_CORPUS)
    assert lm.nbytes > 8 * len(np.unique(SUMS_CORPUS))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("order", [0, -2])
def test_order_below_one_is_refused(order: int) -> None:
    with pytest.raises(ValueError, match=rf"order must be an integer >= 1, got {order}"):
        NGramLM(order)


@pytest.mark.parametrize("order", [2.5, "3", True, None])
def test_order_must_be_an_int(order: object) -> None:
    with pytest.raises(TypeError, match="order must be a whole number"):
        NGramLM(order)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -1.0, float("inf"), float("nan")])
def test_add_k_needs_k_above_zero(k: float) -> None:
    with pytest.raises(ValueError, match=rf"k must be a finite number > 0 for add-k smoothing.*got k={k}"):
        NGramLM(2, "add-k", k=k)


def test_k_is_for_add_k_only() -> None:
    with pytest.raises(ValueError, match=r"k= is for smoothing='add-k' only, got k=0.75 with smoothing='kneser-ney'"):
        NGramLM(3, "kneser-ney", 0.75)


def test_unknown_smoothing_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"smoothing must be one of 'mle', 'add-k'.*got 'laplace'"):
        NGramLM(2, "laplace")


def test_fitting_on_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot fit an n-gram model on an empty sequence"):
        NGramLM(2).fit([])
    with pytest.raises(TypeError, match="encode the text first"):
        NGramLM(2).fit("to be or not")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must hold integer token ids, got dtype float64"):
        NGramLM(2).fit([0.0, 1.0])
    with pytest.raises(ValueError, match=r"flat \(1-D\) sequence.*shape \(2, 2\)"):
        NGramLM(2).fit([[0, 1], [1, 0]])


def test_a_context_longer_than_order_minus_one_is_refused() -> None:
    lm = NGramLM(3, "kneser-ney").fit(SUMS_CORPUS)
    with pytest.raises(ValueError, match=r"context has 3 tokens, but an order-3 model looks at most order - 1 = 2"):
        lm.distribution([1, 2, 3])
    with pytest.raises(ValueError, match=r"an order-1 model .* it uses no context: pass \(\)"):
        NGramLM(1).fit([0, 1]).prob(0, [1])


def test_scoring_before_fit_is_refused() -> None:
    lm = NGramLM(2, "add-k")
    for call in (lambda: lm.prob(0, [1]), lambda: lm.log_probs([0, 1]), lambda: lm.perplexity([0]),
                 lambda: lm.distribution(), lambda: lm.generate(2, generator=np.random.default_rng(0))):
        with pytest.raises(RuntimeError, match=r"not fitted yet: call .fit\(tokens\)"):
            call()


def test_scoring_nothing_has_no_perplexity() -> None:
    with pytest.raises(ValueError, match="cannot score an empty sequence"):
        NGramLM(2, "add-k").fit([0, 1]).perplexity([])


def test_codes_that_would_overflow_int64_are_refused() -> None:
    with pytest.raises(ValueError, match=r"order-5 model over vocab_size=50000.*more than int64.*at most 4"):
        NGramLM(5, vocab_size=50_000)
    with pytest.raises(ValueError, match=r"order-10 model over vocab_size=100"):
        NGramLM(10, "kneser-ney").fit(list(range(100)))


def test_bad_interpolation_weights_are_refused() -> None:
    with pytest.raises(ValueError, match=r"weights must hold order \+ 1 = 3 numbers"):
        NGramLM(2, "interpolated", weights=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"sum to 1.*got \[0.5, 0.5, 0.5\]"):
        NGramLM(2, "interpolated", weights=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"uniform distribution \(the first\) a weight > 0"):
        NGramLM(2, "interpolated", weights=[0, 0.5, 0.5])
    with pytest.raises(ValueError, match="weights= is for smoothing='interpolated' only"):
        NGramLM(2, "add-k", weights=[0.2, 0.3, 0.5])


def test_ngram_codes_are_the_ids_as_base_v_digits() -> None:
    from lmcourse.ngram import ngram_codes

    ids = [3, 0, 2, 2, 1]
    assert ngram_codes(ids, 2, 4).tolist() == [3 * 4 + 0, 0 * 4 + 2, 2 * 4 + 2, 2 * 4 + 1]
    assert ngram_codes(np.array(ids), 3, 4).tolist() == [3 * 16 + 0 + 2, 0 + 2 * 4 + 2, 2 * 16 + 2 * 4 + 1]
    assert ngram_codes(ids, 1, 4).tolist() == ids
    assert ngram_codes(ids, 6, 4).tolist() == []
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 7, 300)
    grams = [tuple(seq[i:i + 3]) for i in range(len(seq) - 2)]
    codes = ngram_codes(seq, 3, 7)
    assert len(set(codes.tolist())) == len(set(grams))  # equal codes exactly for equal n-grams
    assert all((codes[i] == codes[j]) == (grams[i] == grams[j]) for i in range(50) for j in range(50))


def test_ngram_codes_refuse_bad_input() -> None:
    from lmcourse.ngram import ngram_codes

    with pytest.raises(ValueError, match="outside vocab_size=4"):
        ngram_codes([1, 4], 2, 4)
    with pytest.raises(ValueError, match="more than an int64"):
        ngram_codes([1, 2], 10, 100)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        ngram_codes([1, 2], 0, 4)
    with pytest.raises(TypeError, match="integer token ids"):
        ngram_codes([1.0, 2.0], 2, 4)


@pytest.mark.parametrize(("bad", "error", "message"), [
    (1, TypeError, r"even one id goes in a list, e\.g\. \[1\]"),
    (iter([1, 2]), TypeError, r"an iterator, which can be read only once"),
    ([[1, 2], [3]], ValueError, "nested lists of different lengths"),
    ([[1, 2], [3, 4]], ValueError, r"shape \(2, 2\)"),
])
def test_a_misshapen_sequence_of_ids_says_what_to_pass(bad: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        NGramLM(2).fit(bad)  # type: ignore[arg-type]
    with pytest.raises(error, match=message.replace("tokens", "context")):
        NGramLM(3).fit([1, 2, 3]).prob(2, bad)  # type: ignore[arg-type]
