"""The checkers of chapter 03 (smoothing) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
import torch

from lmcourse import checks, ngram
from lmcourse.checks import ch03 as ch03_checks


def stub(*args: object) -> None:
    raise NotImplementedError


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch03_add_k", "ch03_best_lambda", "ch03_continuation_probs", "ch03_mkn_discounts"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 03.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


# --- 03.1 add_k ------------------------------------------------------------------------------------------


def add_k_python(counts: Any, k: float) -> list[float]:
    counts = [float(c) for c in counts]
    total = sum(counts) + k * len(counts)
    return [(c + k) / total for c in counts]


def add_k_numpy32(counts: Any, k: float) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float32)
    return (c + np.float32(k)) / (c.sum() + np.float32(k) * len(c))


def add_k_torch(counts: Any, k: float) -> torch.Tensor:
    c = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
    return (c + k) / (c + k).sum()


def add_k_torch32(counts: Any, k: float) -> torch.Tensor:
    c = counts.float() if isinstance(counts, torch.Tensor) else torch.tensor(counts, dtype=torch.float32)
    return (c + k) / (c.sum() + k * c.numel())


@pytest.mark.parametrize("right", [add_k_python, add_k_numpy32, add_k_torch, add_k_torch32])
def test_add_k_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch03_add_k(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 03.1 (add_k) passed: ")


def arr(counts: Any) -> np.ndarray:
    return np.asarray(counts.numpy() if isinstance(counts, torch.Tensor) else counts, dtype=float)


def add_k_to_zeros(normalise: str) -> Any:
    def add_k(counts: Any, k: float) -> np.ndarray:
        c = arr(counts)
        smoothed = np.where(c == 0, k, c)  # only the unseen get k
        return smoothed / (smoothed.sum() if normalise == "own total" else c.sum() + k * len(c))

    return add_k


def add_k_in_place(counts: Any, k: float) -> Any:
    for i in range(len(counts)):
        counts[i] += k  # writes into the caller's list
    total = sum(counts)
    return [c / total for c in counts]


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda c, k: (arr(c) + k) / (arr(c).sum() + k), r"does not sum to 1\n  expected: 1.0\n  got:      1.6"
                                                          r"(.|\n)*sum\(counts\) \+ k \* V, not sum\(counts\) \+ k"),
        (lambda c, k: (arr(c) + k) / arr(c).sum(), r"does not sum to 1(.|\n)*the denominator must grow too"),
        (lambda c, k: (arr(c) + k) / (arr(c).sum() + len(c)), r"add-k(.|\n)*not \+ V \(that is k = 1\)|not \+ V"),
        (lambda c, k: (arr(c) + 1) / (arr(c).sum() + len(c)), r"use the k you are given"),
        (lambda c, k: arr(c) + k, r"does not sum to 1(.|\n)*divide by the new total"),
        (lambda c, k: (arr(c) + k) / len(c), r"does not sum to 1(.|\n)*not by V"),
        (add_k_to_zeros("own total"), r"add k to every count, seen or not, not only to the zeros"),
        (add_k_to_zeros("sum + kV"), r"does not sum to 1(.|\n)*not only to the zeros"),
        (lambda c, k: arr(c) / arr(c).sum(), r"this is the unsmoothed distribution"),
        (lambda c, k: np.round((arr(c) + k) / (arr(c).sum() + k * len(c)), 3), r"don't round"),
        (add_k_in_place, r"changed the counts it was given\n  expected: the counts as given\n"
                         r"  got:      the counts with k added(.|\n)*counts \+= k"),
        (lambda c, k: add_k_python(c, k)[:-1], r"should return 4 probabilities"),
        (lambda c, k: [str(p) for p in add_k_python(c, k)], r"should return 4 probabilities(.|\n)*a list of str"),
    ],
)
def test_add_k_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_add_k(wrong)


NOTEBOOK_V = 70  # a vocabulary size from elsewhere in a notebook


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda c, k: (arr(c) + k) // (arr(c).sum() + k * len(c)), r"does not sum to 1(.|\n)*use /, not //"),
        (lambda c, k: [(x + k) // (sum(c) + k * len(c)) for x in c], r"use /, not //"),
        (lambda c, k: (arr(c) + k) / (arr(c).sum() + k * NOTEBOOK_V),
         r"got:      0.108108(.|\n)*V is the number of counts, len\(counts\) \(here 4\), not a vocabulary size from "
         r"elsewhere: your denominator is sum\(counts\) \+ k \* 70"),
        (lambda c, k: (arr(c) + k) / (arr(c).sum() + k * np.count_nonzero(arr(c))),
         r"here 4\), not the number of nonzero counts(.|\n)*k \* 2\."),
    ],
)
def test_add_k_names_floor_division_and_another_v(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_add_k(wrong)


def test_add_k_a_denominator_from_a_float32_answer_still_reveals_v() -> None:
    """k = 0.01 on the tensor case: the V read off a float32 total is rounded, then checked against the values."""
    def global_v_on_tensors(counts: Any, k: float) -> Any:
        if isinstance(counts, torch.Tensor):
            c = counts.float()
            return (c + k) / (c.sum() + k * NOTEBOOK_V)
        return add_k_python(counts, k)

    with pytest.raises(checks.CheckFailed, match=r"torch int64 tensor(.|\n)*here 64\), not a vocabulary size "
                                                 r"from elsewhere: your denominator is sum\(counts\) \+ k \* 70"):
        checks.ch03_add_k(global_v_on_tensors)


def test_add_k_in_place_on_an_array_is_caught() -> None:
    def add_k(counts: Any, k: float) -> Any:
        if isinstance(counts, np.ndarray):
            counts += k  # the float64 array case: in place
            return counts / counts.sum()
        return add_k_python(counts, k)

    with pytest.raises(checks.CheckFailed, match=r"counts after 'v'(.|\n)*changed the counts it was given"):
        checks.ch03_add_k(add_k)


def test_add_k_inputs_have_many_zeros() -> None:
    for ch in "bv":
        counts = ch03_checks._follower_counts(ch)
        assert len(counts) == 64 and sum(c == 0 for c in counts) >= 40 and sum(counts) > 1000


# --- 03.2 best_lambda ------------------------------------------------------------------------------------


def mean_log(lam: float, h: np.ndarray, low: np.ndarray) -> float:
    with np.errstate(divide="ignore"):
        return float(np.mean(np.log(lam * h + (1 - lam) * low)))


def as_arrays(p_high: Any, p_low: Any) -> tuple[np.ndarray, np.ndarray]:
    return arr(p_high), arr(p_low)


def lambda_grid(step: float) -> Any:
    def best_lambda(p_high: Any, p_low: Any) -> float:
        h, low = as_arrays(p_high, p_low)
        grid = np.arange(0, 1 + step / 2, step)
        return float(grid[int(np.argmax([mean_log(g, h, low) for g in grid]))])

    return best_lambda


def lambda_em(p_high: Any, p_low: Any) -> float:
    h, low = as_arrays(p_high, p_low)
    lam = 0.5
    for _ in range(500):
        lam = float(np.mean(lam * h / (lam * h + (1 - lam) * low)))
    return lam


def lambda_golden(p_high: Any, p_low: Any) -> torch.Tensor:
    """A golden-section search in torch, in the dtype it is given (float32 for the tensors)."""
    h = p_high if isinstance(p_high, torch.Tensor) else torch.tensor(p_high, dtype=torch.float64)
    low = p_low if isinstance(p_low, torch.Tensor) else torch.tensor(p_low, dtype=torch.float64)

    def f(lam: float) -> float:
        return float(torch.log(lam * h + (1 - lam) * low).mean())

    a, b, r = 0.0, 1.0, (math.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - r * (b - a), a + r * (b - a)
        a, b = (a, d) if f(c) > f(d) else (c, b)
    return torch.tensor((a + b) / 2)


def lambda_python(p_high: Any, p_low: Any) -> float:
    """Plain Python, a grid of 0.01 that stops short of 1 (where math.log(0) would raise)."""
    h, low = [float(x) for x in p_high], [float(x) for x in p_low]
    best, best_score = 0.0, -math.inf
    for i in range(100):
        lam = i / 100
        score = sum(math.log(lam * a + (1 - lam) * b) for a, b in zip(h, low)) / len(h)
        if score > best_score:
            best, best_score = lam, score
    return best


@pytest.mark.parametrize("right", [lambda_grid(0.01), lambda_grid(0.001), lambda_em, lambda_golden, lambda_python])
def test_best_lambda_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch03_best_lambda(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 03.2 (best_lambda) passed: ")


def test_best_lambda_inputs_have_an_interior_optimum_and_zeros() -> None:
    (h1, l1), (h2, l2) = (as_arrays(h, low) for h, low in ch03_checks._heldout_probs())
    for h, low, best in ((h1, l1, 0.657), (h2, l2, 0.374)):
        assert lambda_grid(0.001)(h, low) == pytest.approx(best, abs=1e-3)
        assert 0.25 < (h == 0).mean() < 0.4 and (low > 0).all()
    assert h1.mean() > l1.mean() and h2.mean() < l2.mean()  # the mean probability is best at 1, then at 0


def lambda_mean_probability(p_high: Any, p_low: Any) -> float:
    h, low = as_arrays(p_high, p_low)
    grid = np.linspace(0, 1, 101)
    return float(grid[np.argmax([np.mean(g * h + (1 - g) * low) for g in grid])])


def lambda_minimises(p_high: Any, p_low: Any) -> float:
    h, low = as_arrays(p_high, p_low)
    grid = np.linspace(0, 1, 101)
    return float(grid[np.argmin([mean_log(g, h, low) for g in grid])])


def lambda_mixed_logs(p_high: Any, p_low: Any) -> float:
    h, low = as_arrays(p_high, p_low)
    grid = np.linspace(0, 1, 101)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(grid[np.nanargmax([np.mean(g * np.log(h) + (1 - g) * np.log(low)) for g in grid])])


def lambda_logit(p_high: Any, p_low: Any) -> float:
    """Gradient ascent on theta, lambda = sigmoid(theta), unconstrained; but it returns theta itself."""
    h, low = as_arrays(p_high, p_low)
    theta = 0.0
    for _ in range(2000):
        lam = 1 / (1 + math.exp(-theta))
        theta += 2.0 * float(np.mean((h - low) / (lam * h + (1 - lam) * low))) * lam * (1 - lam)
    return theta


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda_mean_probability, r"off by more than 0.01\n  expected: 0.657\n  got:      1.0(.|\n)*linear in lam"),
        (lambda_minimises, r"don't minimise it"),
        (lambda_mixed_logs, r"mix the probabilities, then take the log"),
        (lambda h, low: 1 - lambda_em(h, low), r"that is 1 - lambda"),
        (lambda h, low: mean_log(lambda_em(h, low), *as_arrays(h, low)), r"is not in \[0, 1\](.|\n)*best mean log"),
        (lambda_grid(0.1), r"grid is too coarse: with steps of 0.1 the best grid point is 0.7, 0.043 from"),
        (lambda_grid(0.25), r"grid is too coarse: with steps of 0.25"),
        (lambda_grid(0.05), r"other positions(.|\n)*steps of 0.05 the best grid point is 0.35, 0.024 from"),
        (lambda_logit, r"-0.51\d* is not in \[0, 1\](.|\n)*that is the logit of lambda"),
        (lambda h, low: lambda_em(h, low) - 1, r"is not in \[0, 1\](.|\n)*lambda is a weight, between 0 and 1"),
        (lambda h, low: round(lambda_em(h, low), 1), r"off by more than 0.01"),
        (lambda h, low: [lambda_em(h, low)] * 2, r"should be one number"),
    ],
)
def test_best_lambda_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_best_lambda(wrong)


def lambda_seen_only(search: Any) -> Any:
    """Drops the positions where p_high is 0 (to avoid log(0)), then searches with ``search``."""

    def best_lambda(p_high: Any, p_low: Any) -> Any:
        h, low = as_arrays(p_high, p_low)
        return search(h[h > 0], low[h > 0])

    return best_lambda


@pytest.mark.parametrize("wrong,why", [
    (lambda_seen_only(lambda_grid(0.01)), r"expected: 0.657\n  got:      1.0(.|\n)*keep the positions where "
                                          r"p_high is 0: they are what pulls lambda below 1"),
    (lambda_seen_only(lambda_em), r"keep the positions where p_high is 0"),
    (lambda h, low: 1 - lambda_grid(0.01)(h, low), r"got:      0.34\n(.|\n)*that is 1 - lambda"),
    (lambda h, low: 1 - lambda_grid(0.001)(h, low), r"that is 1 - lambda"),
])
def test_best_lambda_names_mistakes_made_on_a_grid_of_0_01(wrong: Any, why: str) -> None:
    """Mistakes are recognised within the exercise's tolerance, 0.01, so also when made on the recommended grid."""
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_best_lambda(wrong)


def test_best_lambda_a_value_near_a_coarse_grid_point_is_not_called_a_coarse_grid() -> None:
    """On the first 200 positions only, the answer is 0.41 on the second set: 0.01 from the 0.1-grid's 0.4, but
    not a point of it, and right (within 0.01) on the first set, where the coarse grid is not: generic hint."""
    def first_200(p_high: Any, p_low: Any) -> float:
        h, low = as_arrays(p_high, p_low)
        return lambda_grid(0.01)(h[:200], low[:200])

    with pytest.raises(checks.CheckFailed, match=r"got:      0.41\n(.|\n)*maximise mean\(log") as failed:
        checks.ch03_best_lambda(first_200)
    assert "too coarse" not in str(failed.value)


def test_best_lambda_mistakes_stay_distinguishable_at_the_tolerance() -> None:
    """Any two simulated mistakes differ by more than twice the matching tolerance on at least one held-out set,
    so an answer within the tolerance of one is never also within it of another on both."""
    sets = [as_arrays(h, low) for h, low in ch03_checks._heldout_probs()]
    values = {key: [float(f(list(h), list(low))) for h, low in sets]
              for key, f in ch03_checks._LAMBDA_MISTAKES.items()}
    keys = list(values)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert max(abs(x - y) for x, y in zip(values[a], values[b])) > 2 * ch03_checks.LAMBDA_TOLERANCE, (a, b)


def test_best_lambda_leaves_the_inputs_alone() -> None:
    def sorts(p_high: Any, p_low: Any) -> float:
        if isinstance(p_high, list):
            p_high.sort()  # the caller's list, sorted
        return lambda_em(p_high, p_low)

    with pytest.raises(checks.CheckFailed, match="changed the probabilities it was given"):
        checks.ch03_best_lambda(sorts)


# --- 03.3 continuation_probs ------------------------------------------------------------------------------


def continuation_dicts(tokens: Any, V: int) -> list[float]:
    """Plain Python: the set of predecessors of each token."""
    before: defaultdict[int, set[int]] = defaultdict(set)
    tokens = [int(t) for t in tokens]
    for a, b in zip(tokens, tokens[1:]):
        before[b].add(a)
    types = sum(len(s) for s in before.values())
    return [len(before[w]) / types for w in range(V)]


def continuation_numpy(tokens: Any, V: int) -> np.ndarray:
    t = np.asarray(tokens, dtype=np.int64)
    seen = np.zeros((V, V), dtype=bool)
    seen[t[:-1], t[1:]] = True  # presence: the buffered assignment is right here
    return (seen.sum(axis=0) / seen.sum()).astype(np.float32)


def continuation_torch(tokens: Any, V: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    pairs = torch.unique(t[:-1] * V + t[1:])
    return torch.bincount(pairs % V, minlength=V).double() / len(pairs)


@pytest.mark.parametrize("right", [continuation_dicts, continuation_numpy, continuation_torch])
def test_continuation_probs_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch03_continuation_probs(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 03.3 (continuation_probs) passed: ")


def test_the_francisco_corpus_separates_frequency_from_continuation() -> None:
    tokens = list(ch03_checks._francisco_tokens())
    assert all(b == 7 for a, b in zip(tokens, tokens[1:]) if a == 6)  # "San" is always followed by "Francisco"
    assert {a for a, b in zip(tokens, tokens[1:]) if b == 7} == {6}
    unigram = np.bincount(tokens, minlength=12) / len(tokens)
    cont = continuation_dicts(tokens, 12)
    assert unigram[7] > 0.15 and cont[7] < 0.02 and 11 not in tokens


def followers(tokens: Any, V: int) -> np.ndarray:
    t = [int(x) for x in tokens]
    pairs = set(zip(t, t[1:]))
    out = np.zeros(V)
    for a, _ in pairs:
        out[a] += 1
    return out / len(pairs)


def predecessor_counts(tokens: Any, V: int) -> np.ndarray:
    t = [int(x) for x in tokens]
    out = np.zeros(V)
    for _, b in set(zip(t, t[1:])):
        out[b] += 1
    return out


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda t, V: np.bincount(np.asarray(t), minlength=V) / len(t), r"these are the unigram frequencies"),
        (followers, r"you counted the distinct tokens that come after w"),
        (lambda t, V: np.bincount(np.asarray(t)[1:], minlength=V) / (len(t) - 1), r"count each distinct predecessor"),
        (lambda t, V: predecessor_counts(t, V) / V, r"does not sum to 1(.|\n)*not by V"),
        (lambda t, V: predecessor_counts(t, V) / len(set(np.asarray(t).tolist())),
         r"does not sum to 1(.|\n)*not by the number of distinct tokens"),
        (lambda t, V: predecessor_counts(t, V) / len(t), r"not by the number of tokens"),
        (lambda t, V: predecessor_counts(t, V) / (len(t) - 1), r"not by the number of bigram occurrences"),
        (predecessor_counts, r"does not sum to 1(.|\n)*so that they sum to 1"),
        (lambda t, V: continuation_dicts(t, int(max(t)) + 1), r"shape \(4,\)(.|\n)*size the result from V"),
        (lambda t, V: continuation_dicts(t, V)[::-1], r"for each w, count the distinct v"),
    ],
)
def test_continuation_probs_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_continuation_probs(wrong)


def test_continuation_probs_leaves_the_tokens_alone() -> None:
    def pops(tokens: Any, V: int) -> list[float]:
        probs = continuation_dicts(tokens, V)
        if isinstance(tokens, list):
            tokens.pop()
        return probs

    with pytest.raises(checks.CheckFailed, match="changed the tokens it was given"):
        checks.ch03_continuation_probs(pops)


# --- 03.4 mkn_discounts ------------------------------------------------------------------------------------


def mkn_python(counts: Any) -> tuple[float, float, float]:
    counts = [int(c) for c in counts]
    n1, n2, n3, n4 = (counts.count(r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3


def mkn_numpy(counts: Any) -> np.ndarray:
    n = np.bincount(np.asarray(counts), minlength=5)
    y = n[1] / (n[1] + 2 * n[2])
    return np.array([1 - 2 * y * n[2] / n[1], 2 - 3 * y * n[3] / n[2], 3 - 4 * y * n[4] / n[3]], dtype=np.float32)


def mkn_torch(counts: Any) -> tuple[torch.Tensor, ...]:
    c = torch.as_tensor(np.asarray(counts))
    n1, n2, n3, n4 = ((c == r).sum().float() for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3  # 0-d float32 tensors


def mkn_package(counts: Any) -> tuple[float, float, float]:
    c = np.asarray(counts)
    return ngram.modified_kn_discounts(*(int((c == r).sum()) for r in (1, 2, 3, 4)))


@pytest.mark.parametrize("right", [mkn_python, mkn_numpy, mkn_torch, mkn_package])
def test_mkn_discounts_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch03_mkn_discounts(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 03.4 (mkn_discounts) passed: ")


def test_mkn_inputs_are_not_clipped_by_the_package() -> None:
    """On the checker's counts the package's discounts are the raw formulas: no clipping hides a difference."""
    for chars, n in ((30_000, 3), (100_000, 4), (200_000, 2)):
        counts = ch03_checks._ngram_counts(chars, n)
        raw = mkn_python(counts)
        assert ngram.modified_kn_discounts(*(counts.count(r) for r in (1, 2, 3, 4))) == pytest.approx(raw)
        assert all(ngram.MIN_DISCOUNT < d < r for d, r in zip(raw, (1, 2, 3)))


def mkn_at_least(counts: Any) -> tuple[float, float, float]:
    c = np.asarray(counts)
    n1, n2, n3, n4 = ((c >= r).sum() for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3


def mkn_y_n1_n2(counts: Any) -> tuple[float, float, float]:
    n1, n2, n3, n4 = (list(counts).count(r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + n2)
    return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3


def mkn_inverted(counts: Any) -> tuple[float, float, float]:
    n1, n2, n3, n4 = (list(counts).count(r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    return 1 - 2 * y * n1 / n2, 2 - 3 * y * n2 / n3, 3 - 4 * y * n3 / n4


def mkn_in_place(counts: Any) -> tuple[float, float, float]:
    if isinstance(counts, list):
        counts.sort()
    return mkn_python(counts)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (mkn_at_least, r"n_r is the number of n-grams whose count is exactly r"),
        (mkn_y_n1_n2, r"Y = n1 / \(n1 \+ 2 \* n2\): n2 counts twice"),
        (lambda c: (lambda n1, n2: (n1 / (n1 + 2 * n2),) * 3)(list(c).count(1), list(c).count(2)),
         r"three copies of Kneser-Ney's single discount"),
        (mkn_inverted, r"the ratios are upside down"),
        (lambda c: mkn_python(c)[::-1], r"in reverse order"),
        (lambda c: (lambda d: (d[1], d[0], d[2]))(mkn_python(c)), r"the right discounts in another order"),
        (lambda c: tuple(round(d, 2) for d in mkn_python(c)), r"don't round"),
        (lambda c: mkn_python(c)[:2], r"should return three discounts"),
        (lambda c: {"D1": mkn_python(c)[0]}, r"should return three discounts(.|\n)*a dict"),
        (mkn_in_place, r"changed the counts it was given"),
        (lambda c: tuple(d + 0.01 for d in mkn_python(c)), r"n1 = 1452, n2 = 631, n3 = 397, n4 = 275"),
    ],
)
def test_mkn_discounts_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_mkn_discounts(wrong)


def mkn_n4_at_least(counts: Any) -> tuple[float, float, float]:
    c = np.asarray(counts)
    n1, n2, n3 = ((c == r).sum() for r in (1, 2, 3))
    n4 = (c >= 4).sum()  # "3 or more" misread into n4
    y = n1 / (n1 + 2 * n2)
    return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3


def mkn_floor(counts: Any) -> tuple[float, float, float]:
    n1, n2, n3, n4 = (list(counts).count(r) for r in (1, 2, 3, 4))
    y = n1 // (n1 + 2 * n2)  # 0
    return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3


@pytest.mark.parametrize("wrong,why", [
    (mkn_n4_at_least, r"n_r counts the n-grams with count exactly r, n4 too: n4 = \(counts == 4\).sum\(\), not >= 4"),
    (mkn_floor, r"got:      \[1.0, 2.0, 3.0\](.|\n)*use /, not //"),
])
def test_mkn_discounts_names_n4_at_least_and_floor_division(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch03_mkn_discounts(wrong)
