"""Tests of ``lmcourse.evaluate``: the units, per-token scores against ``train.evaluate`` and by hand, the n-gram
version against ``NGramLM.distribution``, calibration on hand-computed examples, the longest verbatim copy against
brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lmcourse.batches import IGNORE_INDEX
from lmcourse.evaluate import (
    Calibration,
    bits,
    calibration,
    longest_verbatim,
    nats,
    ngram_top1,
    perplexity,
    target_log_probs,
    top1,
)
from lmcourse.models import MLPLM, RecurrentLM
from lmcourse.ngram import NGramLM, UnseenContextError
from lmcourse.train import evaluate

# --------------------------------------------------------------------------- units


def test_units_convert_numbers_and_arrays() -> None:
    assert bits(math.log(2)) == pytest.approx(1.0, rel=1e-15)
    assert isinstance(bits(1), float) and isinstance(perplexity(np.float32(1.0)), float)
    assert perplexity(math.log(65)) == pytest.approx(65.0, rel=1e-12)  # a uniform choice among 65 characters
    for loss in (0.0, 1.0, 1.4142, 4.17):
        assert nats(bits(loss)) == pytest.approx(loss, rel=1e-15)
        assert 2 ** bits(loss) == pytest.approx(perplexity(loss), rel=1e-12)  # perplexity = e^nats = 2^bits
    losses = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    got = bits(losses)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got, losses.astype(np.float64) / math.log(2), rtol=1e-15)
    np.testing.assert_allclose(perplexity(np.array([0, 1])), [1.0, math.e])
    np.testing.assert_allclose(nats(np.array([1.0, 2.0])), [math.log(2), 2 * math.log(2)])
    assert perplexity(1000.0) == math.inf and math.isnan(perplexity(math.nan))
    assert perplexity(np.array([1000.0]))[0] == np.inf


@pytest.mark.parametrize("fn", [bits, nats, perplexity])
@pytest.mark.parametrize("bad,why", [
    ("1.5", r"got str '1\.5': pass the number itself"), (True, r"got bool True"), (None, r"got NoneType"),
    ([1.0, 2.0], r"got list \[1\.0, 2\.0\]: pass np\.array\(\.\.\.\)"),
    (torch.tensor(1.0), r"got Tensor .*use \.item\(\) for one number"),
    (np.array(["a"]), r"numbers, got a numpy array of dtype <U1"),
])
def test_units_refuse_what_is_not_a_number(fn, bad: object, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=rf"^{fn.__name__}\(\w+\) needs .*{why}"):
        fn(bad)


# --------------------------------------------------------------------------- per-token scores


class Flat(nn.Module):
    """A model of chapter 04's kind: (B, context) ids to (B, V) logits, with dropout (so eval mode matters)."""

    def __init__(self, V: int, context: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, 5)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(5 * context, V)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.embed(idx).flatten(1)))


def data(V: int, shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(V, shape, generator=g), torch.randint(V, shape, generator=g)


@pytest.mark.parametrize("kind", ["lstm", "mlp", "flat"])
@pytest.mark.parametrize("batch_size", [7, 256])
def test_target_log_probs_mean_is_minus_train_evaluate(kind: str, batch_size: int) -> None:
    V = 17
    torch.manual_seed(0)
    if kind == "flat":
        model: nn.Module = Flat(V, 3)
        x, _ = data(V, (40, 3), seed=1)
        y = data(V, (40,), seed=2)[1]
        y[::5] = IGNORE_INDEX
    else:
        model = RecurrentLM(V, 6, 8) if kind == "lstm" else MLPLM(V, 3, 4, 8)
        x, y = data(V, (23, 9), seed=1)
        y[3, 4:] = IGNORE_INDEX
    model.train()
    model.out.eval()  # a child in its own mode: put back as it was
    got = target_log_probs(model, x, y, batch_size=batch_size)
    assert got.dtype == np.float64 and got.shape == (int((y != IGNORE_INDEX).sum()),)
    assert got.mean() == pytest.approx(-evaluate(model, x, y), abs=1e-6)
    assert model.training and not model.out.training
    # each value by hand, in the order of y, the ignored targets left out
    model.eval()
    with torch.no_grad():
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
    logp = torch.log_softmax(logits.double(), dim=-1).flatten(0, -2)
    keep = (y != IGNORE_INDEX).flatten()
    want = logp[keep].gather(1, y.flatten()[keep][:, None])[:, 0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "flat"])
def test_top1_is_the_largest_probability_and_whether_argmax_is_the_target(kind: str) -> None:
    V = 9
    torch.manual_seed(1)
    if kind == "flat":
        model: nn.Module = Flat(V, 2)
        x, y = data(V, (30, 2), seed=3)[0], data(V, (30,), seed=4)[1]
    else:
        model = RecurrentLM(V, 6, 8)
        x, y = data(V, (12, 10), seed=3)
    y = y.clone()
    y.view(-1)[::4] = IGNORE_INDEX
    with torch.no_grad():  # make the model right often enough: the targets' logits raised in a copy of the data
        model.out.bias.copy_(torch.linspace(0, 2, V))
    confidence, correct = top1(model, x, y, batch_size=5)
    model.eval()
    with torch.no_grad():
        out = model(x)
        probs = torch.softmax((out[0] if isinstance(out, tuple) else out).double(), dim=-1).flatten(0, -2)
    keep = (y != IGNORE_INDEX).flatten()
    assert confidence.dtype == np.float64 and correct.dtype == bool and confidence.shape == correct.shape
    np.testing.assert_allclose(confidence, probs[keep].max(dim=-1).values.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(correct, (probs[keep].argmax(dim=-1) == y.flatten()[keep]).numpy())
    assert 0 < correct.sum() < len(correct)


def test_target_log_probs_checks_what_train_evaluate_checks() -> None:
    model = RecurrentLM(5, 4, 4)
    x, y = data(5, (3, 4), seed=0)
    with pytest.raises(ValueError, match=r"y\[0, 1\] = 7 is not a target id of this model"):
        target_log_probs(model, x, torch.where(y == y[0, 1], 7, y))
    with pytest.raises(TypeError, match=r"y must hold target ids as torch.long"):
        top1(model, x, y.float())
    with pytest.raises(ValueError, match=r"batch_size must be >= 1"):
        top1(model, x, y, batch_size=0)


# --------------------------------------------------------------------------- n-grams


def corpus(V: int, n: int, seed: int) -> np.ndarray:
    """A Markov-ish sequence, so that long contexts repeat and the models are not uniform."""
    rng = np.random.default_rng(seed)
    ids = [0, 1]
    for _ in range(n - 2):
        ids.append(int((ids[-1] * 3 + ids[-2] + rng.integers(0, 3)) % V))
    return np.array(ids)


@pytest.mark.parametrize("smoothing", ["add-k", "interpolated", "backoff", "kneser-ney", "modified-kneser-ney",
                                       "absolute-discounting"])
@pytest.mark.parametrize("order", [1, 3, 5])
def test_ngram_top1_matches_a_loop_over_distribution(smoothing: str, order: int) -> None:
    V = 12
    lm = NGramLM(order, smoothing, vocab_size=V).fit(corpus(V, 3000, seed=0))
    held = corpus(V, 400, seed=1)
    for start, n in ((0, 60), (150, 200)):  # from the very start (short contexts) and further in
        confidence, correct = ngram_top1(lm, held, start=start, n=n)
        assert confidence.dtype == np.float64 and correct.dtype == bool and confidence.shape == (n,)
        for j, t in enumerate(range(start, start + n)):
            p = lm.distribution(held[max(0, t - order + 1):t])
            assert confidence[j] == pytest.approx(p.max(), rel=1e-12)
            assert correct[j] == (int(np.argmax(p)) == held[t])
    assert 0 < correct.sum() < n


def test_ngram_top1_works_in_chunks_for_a_large_vocabulary() -> None:
    V = 5000  # 400 positions per chunk of 2,000,000 queries
    rng = np.random.default_rng(2)
    train = rng.integers(0, 50, 20_000) * 100 + rng.integers(0, 3, 20_000)
    lm = NGramLM(2, "kneser-ney", vocab_size=V).fit(train)
    held = train[:1000]
    confidence, correct = ngram_top1(lm, held, start=1, n=999)
    for t in (1, 399, 400, 401, 999):
        p = lm.distribution(held[t - 1:t])
        assert confidence[t - 1] == pytest.approx(p.max(), rel=1e-12) and correct[t - 1] == (p.argmax() == held[t])


def test_ngram_top1_errors() -> None:
    lm = NGramLM(2, "kneser-ney").fit([0, 1, 2, 0, 1, 2])
    with pytest.raises(TypeError, match=r"needs an lmcourse\.ngram\.NGramLM, got RecurrentLM; for a neural model"):
        ngram_top1(RecurrentLM(3, 2, 2), [0, 1], start=0, n=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"need 0 <= start and 1 <= n <= len\(ids\) - start, got start=2, n=5"):
        ngram_top1(lm, [0, 1, 2, 0], start=2, n=5)
    with pytest.raises(ValueError, match=r"got start=-1, n=1"):
        ngram_top1(lm, [0, 1, 2, 0], start=-1, n=1)
    with pytest.raises(TypeError, match=r"n must be a whole number, got float 2\.0"):
        ngram_top1(lm, [0, 1, 2, 0], start=0, n=2.0)  # type: ignore[arg-type]
    with pytest.raises(UnseenContextError):
        ngram_top1(NGramLM(2).fit([0, 1, 2]), [2, 0], start=1, n=1)  # nothing ever followed 2


# --------------------------------------------------------------------------- calibration


def test_calibration_on_a_hand_computed_example() -> None:
    confidence = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9, 1.0, 0.95]
    correct = [False, False, True, True, False, True, True, True]
    # 4 bins of width 0.25; floor(c * 4): 0.1, 0.2 -> 0; 0.3 -> 1; 0.6, 0.7 -> 2; 0.9, 0.95 and 1.0 (min(4, 3)) -> 3
    # bin 0: 2 predictions, mean confidence 0.15, accuracy 0/2 = 0   -> gap 0.15
    # bin 1: 1 prediction,  mean confidence 0.3,  accuracy 1/1 = 1   -> gap 0.7
    # bin 2: 2 predictions, mean confidence 0.65, accuracy 1/2 = 0.5 -> gap 0.15
    # bin 3: 3 predictions, mean confidence 0.95, accuracy 3/3 = 1   -> gap 0.05
    # ECE = (2 * 0.15 + 1 * 0.7 + 2 * 0.15 + 3 * 0.05) / 8 = 1.45 / 8 = 0.18125
    cal = calibration(np.array(confidence), np.array(correct), bins=4)
    assert isinstance(cal, Calibration) and cal.bins == 4
    np.testing.assert_allclose(cal.edges, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(cal.counts, [2, 1, 2, 3])
    np.testing.assert_allclose(cal.confidence, [0.15, 0.3, 0.65, 0.95])
    np.testing.assert_allclose(cal.accuracy, [0.0, 1.0, 0.5, 1.0])
    assert cal.ece == pytest.approx(0.18125, rel=1e-12)
    assert repr(cal) == f"Calibration(bins=4, predictions=8, ece={cal.ece:.4f})"  # 0.18125 rounds either way
    # 5 bins of width 0.2: 0.1 -> 0; 0.2, 0.3 -> 1; none in bin 2 (empty: nan); 0.6, 0.7 -> 3; the rest -> 4
    # gaps: |0 - 0.1| = 0.1, |0.5 - 0.25| = 0.25, |0.5 - 0.65| = 0.15, |1 - 0.95| = 0.05
    # ECE = (1 * 0.1 + 2 * 0.25 + 2 * 0.15 + 3 * 0.05) / 8 = 1.05 / 8 = 0.13125 (the empty bin counts for nothing)
    cal = calibration(confidence, correct, bins=5)  # lists work too
    np.testing.assert_array_equal(cal.counts, [1, 2, 0, 2, 3])
    assert np.isnan(cal.confidence[2]) and np.isnan(cal.accuracy[2])
    assert cal.ece == pytest.approx(0.13125, rel=1e-12)
    # one bin: |mean accuracy - mean confidence| = |5/8 - 4.75/8| = 0.03125
    assert calibration(confidence, correct, bins=1).ece == pytest.approx(0.03125, rel=1e-12)


def test_calibration_takes_tensors_and_zero_one_ints() -> None:
    conf = torch.tensor([0.55, 0.95, 0.25], dtype=torch.float32)
    a = calibration(conf, torch.tensor([True, True, False]))
    b = calibration(conf.numpy(), np.array([1, 1, 0]))
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.ece == b.ece == pytest.approx((abs(1 - 0.55) + abs(1 - 0.95) + abs(0 - 0.25)) / 3, rel=1e-6)


def test_a_calibrated_model_has_a_small_ece_and_an_overconfident_one_a_large_one() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.2, 1.0, 50_000)
    correct = rng.random(50_000) < confidence  # right as often as it says
    assert calibration(confidence, correct).ece < 0.01
    overconfident = calibration(np.sqrt(confidence), correct)  # says more than it knows
    assert overconfident.ece > 0.1
    seen = overconfident.counts > 0
    assert (overconfident.accuracy[seen] < overconfident.confidence[seen]).mean() > 0.8


@pytest.mark.parametrize("conf,correct,bins,error,why", [
    ([0.5, 0.6], [True], 10, ValueError, r"one value per prediction each, got 2 and 1 values"),
    ([], [], 10, ValueError, r"at least one prediction"),
    ([0.5, 1.2], [True, False], 10, ValueError, r"confidence\[1\] = 1\.2 is not a probability: .* in \[0, 1\]"),
    ([-0.1], [True], 10, ValueError, r"confidence\[0\] = -0\.1 is not a probability"),
    ([math.nan], [True], 10, ValueError, r"confidence\[0\] = nan is not a probability"),
    ([0.5], [True], 0, ValueError, r"bins must be >= 1 .*got 0"),
    ([0.5], [True], 2.0, TypeError, r"bins must be a whole number >= 1, e\.g\. bins=10, got float 2\.0"),
    ([0.5], [True], True, TypeError, r"got bool True"),
    ([0.5], [0.5], 10, TypeError, r"correct must be True/False \(or 0/1\) per prediction.*other than 0 and 1"),
    (["0.5"], [True], 10, TypeError, r"confidence must be numbers \(probabilities\), got an array of dtype <U3"),
    (np.ones((2, 2)) / 2, [True] * 4, 10, ValueError, r"confidence must be 1-D, one value per prediction, got shape"),
    (0.5, [True], 10, TypeError, r"confidence must be a 1-D array \(numpy, torch or a list\), got float"),
])
def test_calibration_errors(conf: object, correct: object, bins: object, error: type, why: str) -> None:
    with pytest.raises(error, match=why):
        calibration(conf, correct, bins=bins)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- verbatim copies


def longest_by_brute_force(sample: str, corpus: str) -> int:
    return max((j - i for i in range(len(sample)) for j in range(i + 1, len(sample) + 1) if sample[i:j] in corpus),
               default=0)


def test_longest_verbatim_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    for trial in range(300):
        alphabet = "ab" if trial % 2 else "abcd"
        corpus = "".join(rng.choice(list(alphabet), rng.integers(0, 40)))
        sample = "".join(rng.choice(list(alphabet + "x"), rng.integers(0, 25)))
        length, text = longest_verbatim(sample, corpus)
        assert length == longest_by_brute_force(sample, corpus) == len(text)
        assert text in corpus and text in sample


def test_longest_verbatim_on_text_and_the_empty_cases() -> None:
    corpus = "To be, or not to be, that is the question"
    assert longest_verbatim("and not to be seen", corpus) == (10, " not to be")
    assert longest_verbatim("xy be, or nz to be, that", corpus) == (12, " to be, that")
    assert longest_verbatim("abcab", "ab__ca") == (2, "ab")  # ab, ca and ab tie: the first in the sample
    assert longest_verbatim("", corpus) == (0, "")
    assert longest_verbatim("abc", "") == (0, "")
    assert longest_verbatim("xyz", "abc") == (0, "")
    assert longest_verbatim(corpus, corpus) == (len(corpus), corpus)
    with pytest.raises(TypeError, match=r"sample must be a str, got list; decode token ids first"):
        longest_verbatim([1, 2], corpus)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"corpus must be a str, got bytes"):
        longest_verbatim("a", b"a")  # type: ignore[arg-type]
