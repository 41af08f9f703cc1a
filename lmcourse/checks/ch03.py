"""Checkers of chapter 03 (smoothing): exercises 03.1-03.4."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    Description,
    _kind,
    _match_mistake,
    _numbers,
    _quiet_numerics,
    _real,
    _rounded,
    _to_numpy,
    call,
    checker,
    expect_close,
    fail,
    number,
    passed,
)


def _copy(value: Any) -> Any:
    """A copy of a list, numpy array or torch tensor, to see afterwards whether the learner changed the original."""
    return value.clone() if hasattr(value, "clone") else value.copy()


def _unchanged(given: Any, original: Any) -> bool:
    import numpy as np

    a, b = np.asarray(_to_numpy(given)), np.asarray(_to_numpy(original))
    return a.shape == b.shape and bool(np.array_equal(a, b))


@functools.cache
def _shakespeare(chars: int) -> str:
    from lmcourse import data

    return data.load_text("shakespeare")[:chars]


# --- 03.1 add-k ------------------------------------------------------------------------------------------


@functools.cache
def _follower_counts(after: str) -> tuple[int, ...]:
    """How often each character of the first 200,000 characters of Shakespeare (64 of them, in code-point order)
    follows ``after`` there: one row of a character bigram table, most of it zeros."""
    from collections import Counter

    text = _shakespeare(200_000)
    counts = Counter(b for a, b in zip(text, text[1:]) if a == after)
    return tuple(counts[ch] for ch in sorted(set(text)))


def _add_k(c: Any, k: float) -> Any:
    import numpy as np

    c = np.asarray(c, dtype=float)
    return (c + k) / (c.sum() + k * len(c))


def _add_k_zeros_only(c: Any, k: float) -> Any:
    import numpy as np

    c = np.asarray(c, dtype=float)
    return c + k * (c == 0)


_ADD_K_MISTAKES: dict[str, Callable[[Any, float], Any]] = {
    "sum + k": lambda c, k: (_np(c) + k) / (_np(c).sum() + k),
    "sum": lambda c, k: (_np(c) + k) / _np(c).sum(),
    "sum + V": lambda c, k: (_np(c) + k) / (_np(c).sum() + len(c)),
    "laplace": lambda c, k: _add_k(c, 1.0),
    "unnormalised": lambda c, k: _np(c) + k,
    "by V": lambda c, k: (_np(c) + k) / len(c),
    "zeros only": lambda c, k: _add_k_zeros_only(c, k) / _add_k_zeros_only(c, k).sum(),
    "zeros only, sum + kV": lambda c, k: _add_k_zeros_only(c, k) / (_np(c).sum() + k * len(c)),
    "zeros only, sum": lambda c, k: _add_k_zeros_only(c, k) / _np(c).sum(),
    "mle": lambda c, k: _np(c) / _np(c).sum(),
    "floor division": lambda c, k: (_np(c) + k) // (_np(c).sum() + k * len(c)),
}


def _np(c: Any) -> Any:
    import numpy as np

    return np.asarray(c, dtype=float)


_ADD_K_HINTS = {
    "sum + k": "the denominator adds k once per entry of the vocabulary: sum(counts) + k * V, not sum(counts) + k "
               "(each of the V counts got k).",
    "sum": "the denominator must grow too: each of the V counts got k, so divide by sum(counts) + k * V.",
    "sum + V": "the denominator adds k for each of the V entries: sum(counts) + k * V, not + V (that is k = 1).",
    "laplace": "use the k you are given: (c + k) / (sum(c) + k * V); this is add-one (k = 1).",
    "unnormalised": "divide by the new total, sum(counts) + k * V, to make the counts + k a distribution.",
    "by V": "divide by the new total of the counts, sum(counts) + k * V, not by V.",
    "zeros only": "add k to every count, seen or not, not only to the zeros: (c + k) / (sum(c) + k * V).",
    "zeros only, sum + kV": "add k to every count, not only to the zeros: (c + k) / (sum(c) + k * V).",
    "zeros only, sum": "add k to every count, not only to the zeros, and divide by sum(c) + k * V.",
    "mle": "add k to each count before you divide: this is the unsmoothed distribution c / sum(c).",
    "floor division": "use /, not //: // is floor division, which rounds each probability down to a whole number "
                      "(0 here): (c + k) / (sum(c) + k * V).",
}


def _other_v(c: Any, k: float, values: Any) -> int | None:
    """The V' of an answer (c + k) / (sum(c) + k V') whose V' is a whole number other than V = len(c) (a vocabulary
    size from elsewhere in the notebook, say), read off the answer's total; otherwise None."""
    import numpy as np

    total = float(values.sum())
    if not (math.isfinite(total) and total > 0):
        return None
    other = round((float((c + k).sum()) / total - float(c.sum())) / k)
    if other in (len(c), 0, 1) or other < 0:  # V itself, or "sum" and "sum + k", which have hints of their own
        return None
    return other if bool(np.allclose(values, (c + k) / (c.sum() + k * other), rtol=1e-5, atol=1e-9)) else None


@checker
def ch03_add_k(add_k: Callable[[Any, float], Any]) -> None:
    """Exercise 03.1: ``add_k(counts, k)`` = (c + k) / (sum(c) + k V), the add-k distribution of one context.

    ``counts`` (length V) is [3, 0, 1, 0], then the counts of the 64 characters after 'b' and after 'v' in the first
    200,000 characters of Shakespeare (45 and 57 zeros): a Python list with k = 1, a float64 array with k = 0.5, a
    torch int64 tensor with k = 0.01. The answer is V probabilities (list, array or tensor; float32 is fine:
    rtol 1e-5); the counts must be left as they were. A result that does not sum to 1 is told what it sums to;
    the hint names the mistake (sum + k or sum for the denominator, k added to the zeros only, not normalised,
    divided by V, k = 1 whatever k is, floor division //, a V other than len(counts) in sum(c) + k V).
    """
    import numpy as np
    import torch

    ex = "03.1 (add_k)"
    b, v = _follower_counts("b"), _follower_counts("v")
    cases: list[tuple[str, Any, float]] = [
        ("add_k([3, 0, 1, 0], 1)", [3, 0, 1, 0], 1),
        ("add_k(the counts of the 64 characters after 'b' in Shakespeare, a list, 1)", list(b), 1),
        ("add_k(the counts after 'v', a float64 array, 0.5)", np.array(v, dtype=np.float64), 0.5),
        ("add_k(the counts after 'b', a torch int64 tensor, 0.01)", torch.tensor(b), 0.01),
    ]

    def same(got: Any, theirs: Any) -> bool:
        values = _numbers(got)
        return values is not None and values.shape == np.shape(theirs) and bool(
            np.allclose(values, theirs, rtol=1e-5, atol=1e-9))

    for what, counts, k in cases:
        given = _copy(counts)
        with _quiet_numerics():
            got = call(ex, add_k, given, k)
        if not _unchanged(given, counts):
            fail(ex, f"{what} changed the counts it was given", Description("the counts as given"),
                 Description("the counts with k added" if _unchanged(given, np.asarray(_to_numpy(counts)) + k)
                             else "changed counts"),
                 "leave the counts as they were: counts + k makes a new array, counts += k (or counts[i] += k) "
                 "writes into the caller's.")
        c = np.asarray(_to_numpy(counts), dtype=float)
        expected = _add_k(c, k)
        values = _numbers(got)
        if values is None or values.shape != expected.shape:
            fail(ex, f"{what} should return {len(c)} probabilities, one per count", Description(f"shape {c.shape}"),
                 Description(f"shape {values.shape}") if values is not None else got,
                 f"return one probability per count, in the same order (this is {_kind(got)}).")
        if np.allclose(values, expected, rtol=1e-5, atol=1e-9):
            continue
        others = ((list(c2) if isinstance(c2, list) else np.asarray(_to_numpy(c2)).copy(), k2)
                  for w2, c2, k2 in cases if w2 != what)
        mistake = _match_mistake(got, (list(c), k), add_k, others, _ADD_K_MISTAKES, same)
        hint = _ADD_K_HINTS.get(mistake or "", "add k to every count and divide by the new total, "
                                               "(c + k) / (sum(c) + k * V).")
        if mistake is None and (other := _other_v(c, k, values)) is not None:
            which = ("the number of nonzero counts (the unseen entries get k too)" if other == np.count_nonzero(c) else
                     "the number of distinct count values" if other == len(set(c.tolist())) else
                     "a vocabulary size from elsewhere")
            hint = (f"V is the number of counts, len(counts) (here {len(c)}), not {which}: your denominator is "
                    f"sum(counts) + k * {other}. Divide by sum(counts) + k * len(counts).")
        elif mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: these are the probabilities rounded to {decimals} decimals."
        total = float(values.sum())
        if not math.isclose(total, 1.0, rel_tol=1e-5):
            fail(ex, f"{what} does not sum to 1", 1.0, round(total, 6), hint)
        expect_close(ex, what, values, expected, hint, rtol=1e-5, atol=1e-9)
    passed(ex, "(c + k) / (sum(c) + k V) for every count, summing to 1")


# --- 03.2 the best interpolation weight ----------------------------------------------------------------


@functools.cache
def _heldout_probs() -> tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]:
    """Two held-out sets of (p_high, p_low), 2,000 positions each, shaped like a word bigram (MLE: 0 where the
    bigram was never seen) and a smoothed unigram model: p_low spread over four decades, p_high zero at a
    third of the positions and several times p_low elsewhere. In the first the mean of p_high is above that
    of p_low, in the second below, so that maximising the mean probability picks lambda = 1 in one and 0 in the
    other, while the best lambda is inside (0, 1) in both (0.657 and 0.374), over 0.02 from a multiple of 0.1."""
    import numpy as np

    rng = np.random.default_rng(3)
    sets = []
    for zeros, scale, boost in ((0.3, 0.0, 2.5), (0.3, 1.0, 4.0)):
        p_low = np.exp(rng.uniform(np.log(1e-4), np.log(0.08), 2000))
        ratio = np.exp(rng.normal(boost, 1.0, 2000) - scale * np.log(p_low / 1e-4))
        p_high = np.minimum(p_low * ratio, 1.0) * (rng.random(2000) >= zeros)
        sets.append((tuple(p_high.tolist()), tuple(p_low.tolist())))
    return tuple(sets)


def _mean_log(lam: Any, p_high: Any, p_low: Any) -> Any:
    """mean ln(lam p_high + (1 - lam) p_low) for each lam of an array (-inf where a mixture is 0)."""
    import numpy as np

    with np.errstate(divide="ignore"):
        return np.log(np.outer(lam, p_high) + np.outer(1 - np.asarray(lam), p_low)).mean(axis=1)


def _best_lambda(p_high: Any, p_low: Any) -> float:
    """The maximiser of the (concave) mean log-likelihood: where its derivative crosses 0, by bisection."""
    import numpy as np

    h, l_ = np.asarray(p_high, dtype=float), np.asarray(p_low, dtype=float)

    def slope(lam: float) -> float:
        return float(((h - l_) / (lam * h + (1 - lam) * l_)).mean())

    lo, hi = 0.0, 1.0 - 1e-12
    if slope(lo) <= 0:
        return 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slope(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def _grid_best(p_high: Any, p_low: Any, step: float, minimise: bool = False) -> float:
    import numpy as np

    grid = np.linspace(0, 1, round(1 / step) + 1)
    scores = _mean_log(grid, p_high, p_low)
    return float(grid[np.argmin(scores) if minimise else np.argmax(scores)])


def _on_grid(value: float, step: float) -> bool:
    """Whether ``value`` is a multiple of ``step`` (to float32 precision): a point of the grid 0, step, 2 step ..."""
    return abs(value / step - round(value / step)) <= 1e-5


def _seen_only(p_high: Any, p_low: Any) -> tuple[Any, Any]:
    """The positions where p_high > 0 only: what is left when those with p_high = 0 are dropped to avoid log(0)."""
    h, l_ = _np(p_high), _np(p_low)
    return h[h > 0], l_[h > 0]


#: How close an answer of exercise 03.2 must be to a simulated mistake to be named as it: the exercise's own
#: tolerance, so that a mistake made on the grid of 0.01 the hints recommend is recognised.
LAMBDA_TOLERANCE = 0.01

_LAMBDA_MISTAKES: dict[str, Callable[[Any, Any], float]] = {
    "zeros dropped": lambda h, l_: _best_lambda(*_seen_only(h, l_)),
    "mean probability": lambda h, l_: 1.0 if float(_np(h).mean()) > float(_np(l_).mean()) else 0.0,
    "minimised": lambda h, l_: _grid_best(h, l_, 0.001, minimise=True),
    "mixed logs": lambda h, l_: 0.0,  # mean(lam ln p_high + (1 - lam) ln p_low): ln 0 = -inf at every lam > 0
    "other weight": lambda h, l_: 1 - _best_lambda(h, l_),
    "log-likelihood": lambda h, l_: float(_mean_log([_best_lambda(h, l_)], h, l_)[0]),
    "logit": lambda h, l_: math.log(_best_lambda(h, l_) / (1 - _best_lambda(h, l_))),
    **{f"grid {step}": functools.partial(lambda h, l_, s: _grid_best(h, l_, s), s=step)
       for step in (0.1, 0.2, 0.25, 0.05, 0.125)},
}

_LAMBDA_HINTS = {
    "zeros dropped": "keep the positions where p_high is 0: they are what pulls lambda below 1. Without them p_high "
                     "looks better than p_low everywhere, and lambda goes to 1. There the mixture is "
                     "(1 - lam) * p_low, which is > 0 for every lam < 1; only lam = 1 gives log(0) = -inf, the worst "
                     "score, not an error (numpy warns: np.errstate(divide='ignore') silences it).",
    "mean probability": "maximise the mean log-probability, mean(log(lam * p_high + (1 - lam) * p_low)): the mean "
                        "probability is linear in lam, so its maximum is always at 0 or 1.",
    "minimised": "maximise the mean log-probability (argmax), don't minimise it: the lowest is at lam = 1, where "
                 "the positions with p_high = 0 give log 0 = -inf.",
    "mixed logs": "mix the probabilities, then take the log: log(lam * p_high + (1 - lam) * p_low), not "
                  "lam * log(p_high) + (1 - lam) * log(p_low) (linear in lam, and -inf wherever p_high is 0).",
    "other weight": "that is 1 - lambda, the weight of the low-order model: return lambda, the weight of p_high.",
    "log-likelihood": "that is the best mean log-probability itself: return the lambda that gives it.",
    "logit": "that is the logit of lambda, theta = log(lam / (1 - lam)): if you optimised theta, return "
             "lam = 1 / (1 + exp(-theta)).",
}


@checker
def ch03_best_lambda(best_lambda: Callable[[Any, Any], Any]) -> None:
    """Exercise 03.2: ``best_lambda(p_high, p_low)`` = the lambda in [0, 1] maximising
    mean ln(lambda p_high + (1 - lambda) p_low), to within 0.01.

    Two held-out sets of 2,000 positions (p_high zero at about a third of them; see ``_heldout_probs``), best
    lambda 0.657 and 0.374, passed as lists, as float64 arrays, then the first as torch float32 tensors. A grid
    of step 0.01 or finer, EM or a golden-section search are right. The inputs must be left as they were. The hint
    names the mistake (recognised within 0.01, so also on a grid of 0.01): the positions with p_high = 0 dropped,
    maximising the mean probability (an endpoint), minimising, mixing the logs, 1 - lambda, the log-likelihood
    itself, a grid too coarse (only where it is off by more than 0.01), a value outside [0, 1].
    """
    import numpy as np
    import torch

    ex = "03.2 (best_lambda)"
    (h1, l1), (h2, l2) = _heldout_probs()
    cases: list[tuple[str, Any, Any]] = [
        ("best_lambda on 2,000 held-out positions (lists of floats)", list(h1), list(l1)),
        ("best_lambda on 2,000 other positions (float64 arrays)", np.array(h2), np.array(l2)),
        ("best_lambda on the first 2,000 positions as torch.float32 tensors",
         torch.tensor(h1, dtype=torch.float32), torch.tensor(l1, dtype=torch.float32)),
    ]

    def same(got: Any, theirs: float) -> bool:
        value = _real(got)
        return value is not None and abs(value - theirs) <= LAMBDA_TOLERANCE + 1e-9

    for what, p_high, p_low in cases:
        given_high, given_low = _copy(p_high), _copy(p_low)
        with _quiet_numerics():
            got = call(ex, best_lambda, given_high, given_low,
                       hint="p_high is 0 at some positions: log(0) is -inf in numpy and torch, and math.log(0) "
                            "raises. Otherwise run your function on this input yourself and read the traceback.")
        if not (_unchanged(given_high, p_high) and _unchanged(given_low, p_low)):
            fail(ex, f"{what} changed the probabilities it was given", Description("p_high and p_low as given"),
                 Description("changed probabilities"), "read p_high and p_low; don't modify them.")
        h, l_ = np.asarray(_to_numpy(p_high), dtype=float), np.asarray(_to_numpy(p_low), dtype=float)
        expected = _best_lambda(h, l_)
        value = number(ex, f"{what}: the result", got, round(expected, 3), "return lambda, one number in [0, 1].")
        if 0.0 <= value <= 1.0 and abs(value - expected) <= 0.01 + 1e-9:
            continue
        others = ((list(c[1]), list(c[2])) for c in cases[:2] if c[0] != what)
        mistake = _match_mistake(got, (list(h), list(l_)), best_lambda, others, _LAMBDA_MISTAKES, same,
                                 confirm=True)
        if mistake is not None and mistake.startswith("grid") and not _on_grid(value, float(mistake.split()[1])):
            mistake = None  # near the grid's best point, but not on the grid: some other mistake
        if mistake is not None and mistake.startswith("grid"):
            step = mistake.split()[1]
            hint = (f"your grid is too coarse: with steps of {step} the best grid point is {value:g}, "
                    f"{abs(value - expected):.3f} from the best lambda. Use steps of 0.01 or finer "
                    "(np.linspace(0, 1, 101) or more points), or maximise directly (EM, a golden-section search).")
        elif mistake is not None:
            hint = _LAMBDA_HINTS[mistake]
        elif not 0.0 <= value <= 1.0:
            hint = ("lambda is a weight, between 0 and 1: search only [0, 1] (a grid np.linspace(0, 1, 101), or EM, "
                    "which stays inside).")
        else:
            hint = ("maximise mean(log(lam * p_high + (1 - lam) * p_low)) over lam in [0, 1], e.g. on the grid "
                    "np.linspace(0, 1, 101).")
        if not 0.0 <= value <= 1.0:
            fail(ex, f"{what}: {value:g} is not in [0, 1]", round(expected, 3), value, hint)
        fail(ex, f"{what} is off by more than 0.01", round(expected, 3), round(value, 6), hint)
    passed(ex, "the lambda maximising the held-out log-likelihood, within 0.01")


# --- 03.3 continuation probabilities ---------------------------------------------------------------------


@functools.cache
def _francisco_tokens() -> tuple[int, ...]:
    """800 word ids over a vocabulary of 12 (id 11 never used), drawn with a fixed seed from a skewed
    distribution over ids 0-6 and 8-10, with id 7 ("Francisco") written after each 6 ("San") and nowhere
    else: 7 is one of the most frequent tokens, yet follows one token only, and 6 precedes one token only."""
    import numpy as np

    rng = np.random.default_rng(5)
    choices = np.array([0, 1, 2, 3, 4, 5, 6, 8, 9, 10])
    weights = np.array([20, 9, 7, 5, 4, 3, 14, 3, 2, 1], dtype=float)
    out: list[int] = []
    while len(out) < 800:
        w = int(rng.choice(choices, p=weights / weights.sum()))
        out += [w, 7] if w == 6 else [w]
    return tuple(out[:800])


def _continuation(tokens: Any, V: int) -> Any:
    import numpy as np

    pairs = set(zip(tokens, tokens[1:]))
    before = np.zeros(V)
    for _, w in pairs:
        before[w] += 1
    return before / len(pairs)


def _ids(tokens: Any) -> list[int]:
    return [int(t) for t in tokens]


_CONT_MISTAKES: dict[str, Callable[[Any, int], Any]] = {
    "unigram": lambda t, V: _np_bincount(_ids(t), V) / len(t),
    "followers": lambda t, V: _np_bincount([a for a, _ in set(zip(_ids(t), _ids(t)[1:]))], V) /
                              len(set(zip(_ids(t), _ids(t)[1:]))),
    "occurrences": lambda t, V: _np_bincount(_ids(t)[1:], V) / (len(t) - 1),
    "by V": lambda t, V: _continuation(_ids(t), V) * len(set(zip(_ids(t), _ids(t)[1:]))) / V,
    "by types": lambda t, V: _continuation(_ids(t), V) * len(set(zip(_ids(t), _ids(t)[1:]))) / len(set(_ids(t))),
    "by tokens": lambda t, V: _continuation(_ids(t), V) * len(set(zip(_ids(t), _ids(t)[1:]))) / len(t),
    "by bigram tokens": lambda t, V: _continuation(_ids(t), V) * len(set(zip(_ids(t), _ids(t)[1:]))) / (len(t) - 1),
    "counts": lambda t, V: _continuation(_ids(t), V) * len(set(zip(_ids(t), _ids(t)[1:]))),
}


def _np_bincount(ids: list[int], V: int) -> Any:
    import numpy as np

    return np.bincount(np.asarray(ids, dtype=np.int64), minlength=V)[:V].astype(float)


_CONT_HINTS = {
    "unigram": "these are the unigram frequencies c(w) / N: count the distinct tokens that come right before w, "
               "N1+(. w), not how often w occurs.",
    "followers": "you counted the distinct tokens that come after w, N1+(w .): count those before it, N1+(. w), "
                 "the distinct v with (v, w) among the bigrams.",
    "occurrences": "count each distinct predecessor once: N1+(. w) is the number of different tokens seen right "
                   "before w, not how many times w was seen after something.",
    "by V": "divide by the number of distinct bigram types, N1+(. .) = len(set(zip(tokens, tokens[1:]))), not by V.",
    "by types": "divide by the number of distinct bigram types, N1+(. .), not by the number of distinct tokens.",
    "by tokens": "divide by the number of distinct bigram types, N1+(. .), not by the number of tokens.",
    "by bigram tokens": "divide by the number of distinct bigram types, N1+(. .), not by the number of bigram "
                        "occurrences, len(tokens) - 1.",
    "counts": "divide the counts N1+(. w) by their total, the number of distinct bigram types N1+(. .), so that "
              "they sum to 1.",
}


@checker
def ch03_continuation_probs(continuation_probs: Callable[[Any, int], Any]) -> None:
    """Exercise 03.3: ``continuation_probs(tokens, V)`` = N1+(. w) / N1+(. .) for every w in 0 .. V-1: the
    number of distinct tokens seen right before w, over the number of distinct bigram types.

    ``tokens`` (ints) is [1, 0, 2, 0, 3, 0, 0, 2, 0, 2] with V = 5 (a list; id 4 unused), then 800 tokens of a
    "San Francisco" corpus (a list, then an int64 array; V = 12, id 11 unused) where the frequent token 7 always
    follows 6, so unigram frequencies and continuation probabilities differ by far. The answer is V numbers (list,
    array or tensor, float32 fine: rtol 1e-5). The tokens must be left as they were. The hint names the mistake:
    unigram frequencies, followers for predecessors, occurrences for distinct predecessors, a denominator of V,
    of the number of types or of tokens, counts not normalised.
    """
    import numpy as np

    ex = "03.3 (continuation_probs)"
    corpus = list(_francisco_tokens())
    cases: list[tuple[str, Any, int]] = [
        ("continuation_probs([1, 0, 2, 0, 3, 0, 0, 2, 0, 2], 5)", [1, 0, 2, 0, 3, 0, 0, 2, 0, 2], 5),
        ("continuation_probs(the 800 tokens of the San Francisco corpus, 12)", corpus, 12),
        ("continuation_probs(the same 800 tokens as an int64 array, 12)", np.array(corpus, dtype=np.int64), 12),
    ]

    def same(got: Any, theirs: Any) -> bool:
        values = _numbers(got)
        return values is not None and values.shape == np.shape(theirs) and bool(
            np.allclose(values, theirs, rtol=1e-5, atol=1e-9))

    for what, tokens, V in cases:
        given = _copy(tokens)
        got = call(ex, continuation_probs, given, V)
        if not _unchanged(given, tokens):
            fail(ex, f"{what} changed the tokens it was given", Description("the tokens as given"),
                 Description("changed tokens"), "read the tokens; don't modify them (sorted(...) makes a copy).")
        expected = _continuation(_ids(tokens), V)
        values = _numbers(got)
        if values is None or values.shape != expected.shape:
            top = int(max(_ids(tokens))) + 1
            shape = None if values is None else values.shape
            fail(ex, f"{what} should return {V} probabilities, one per token id", Description(f"shape ({V},)"),
                 Description(f"shape {shape}") if shape is not None else got,
                 f"size the result from V, not from the tokens: max(tokens) + 1 = {top} here, but a token never "
                 "seen still gets its (zero) probability." if shape == (top,) else
                 f"return one probability per token id 0 .. V-1, e.g. a numpy array of length V (this is "
                 f"{_kind(got)}).")
        if np.allclose(values, expected, rtol=1e-5, atol=1e-9):
            continue
        others = ((_ids(t2), v2) for w2, t2, v2 in cases[:2] if w2 != what)
        mistake = _match_mistake(got, (_ids(tokens), V), continuation_probs, others, _CONT_MISTAKES, same)
        hint = _CONT_HINTS.get(mistake or "", "for each w, count the distinct v with (v, w) among the bigrams "
                                              "set(zip(tokens, tokens[1:])), and divide by the number of those "
                                              "distinct bigrams.")
        total = float(values.sum())
        if not math.isclose(total, 1.0, rel_tol=1e-5):
            fail(ex, f"{what} does not sum to 1", 1.0, round(total, 6), hint)
        expect_close(ex, what, values, expected, hint, rtol=1e-5, atol=1e-9)
    passed(ex, "P_cont(w) = N1+(. w) / N1+(. .): distinct predecessors over distinct bigrams")


# --- 03.4 modified Kneser-Ney discounts ----------------------------------------------------------------


@functools.cache
def _ngram_counts(chars: int, n: int) -> tuple[int, ...]:
    """The count of every distinct character n-gram of the first ``chars`` characters of Shakespeare, in the
    sorted order of np.unique: real counts, thousands of n-grams seen once, twice, three and four times."""
    import numpy as np

    ids = np.array([ord(ch) for ch in _shakespeare(chars)], dtype=np.int64)
    base = int(ids.max()) + 1
    codes = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for j in range(n):
        codes = codes * base + ids[j:len(ids) - n + 1 + j]
    return tuple(np.unique(codes, return_counts=True)[1].tolist())


def _count_of_counts(counts: Any, at_least: bool = False) -> tuple[int, int, int, int]:
    import numpy as np

    c = np.asarray(counts)
    return tuple(int((c >= r).sum() if at_least else (c == r).sum()) for r in (1, 2, 3, 4))  # type: ignore[return-value]


def _mkn(counts: Any, at_least: bool = False, y_den: str = "n1 + 2 n2", inverted: bool = False,
         n4_at_least: bool = False, floor: bool = False) -> Any:
    import numpy as np

    n1, n2, n3, n4 = _count_of_counts(counts, at_least)
    if n4_at_least:
        n4 = int((np.asarray(counts) >= 4).sum())
    y = (n1 // (n1 + 2 * n2) if floor else n1 / (n1 + 2 * n2)) if y_den == "n1 + 2 n2" else n1 / (n1 + n2)
    if inverted:
        return np.array([1 - 2 * y * n1 / n2, 2 - 3 * y * n2 / n3, 3 - 4 * y * n3 / n4])
    return np.array([1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])


_MKN_MISTAKES: dict[str, Callable[[Any], Any]] = {
    "at least": lambda c: _mkn(c, at_least=True),
    "Y": lambda c: _mkn(c, y_den="n1 + n2"),
    "single": lambda c: [_count_of_counts(c)[0] / (_count_of_counts(c)[0] + 2 * _count_of_counts(c)[1])] * 3,
    "inverted": lambda c: _mkn(c, inverted=True),
    "reversed": lambda c: _mkn(c)[::-1],
    "n4 at least": lambda c: _mkn(c, n4_at_least=True),
    "floor division": lambda c: _mkn(c, floor=True),
}

_MKN_HINTS = {
    "at least": "n_r is the number of n-grams whose count is exactly r, (counts == r).sum(), not at least r.",
    "Y": "Y = n1 / (n1 + 2 * n2): n2 counts twice in the denominator.",
    "single": "these are three copies of Kneser-Ney's single discount Y = n1 / (n1 + 2 n2): modified Kneser-Ney "
              "has one per count, D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2, D3+ = 3 - 4Y n4/n3.",
    "inverted": "the ratios are upside down: D1 = 1 - 2Y n2/n1 (n2 over n1), D2 = 2 - 3Y n3/n2, D3+ = 3 - 4Y n4/n3.",
    "reversed": "these are the discounts in reverse order: return (D1, D2, D3plus), the discount for a count of 1 "
                "first.",
    "n4 at least": "n_r counts the n-grams with count exactly r, n4 too: n4 = (counts == 4).sum(), not >= 4 (D3+ "
                   "is for counts of 3 or more, but its formula uses n3 and n4, the counts of counts 3 and 4).",
    "floor division": "use /, not //: n1 // (n1 + 2 * n2) is 0, so Y = 0 and the discounts come out 1, 2, 3.",
}


@checker
def ch03_mkn_discounts(mkn_discounts: Callable[[Any], Any]) -> None:
    """Exercise 03.4: ``mkn_discounts(counts)`` = (D1, D2, D3plus) of Chen & Goodman (1998), from the counts of
    every distinct n-gram: n_r = how many have count exactly r, Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1,
    D2 = 2 - 3Y n3/n2, D3plus = 3 - 4Y n4/n3.

    The counts (all >= 1) are those of the character 3-grams of the first 30,000 characters of Shakespeare (a
    list), of the 4-grams of the first 100,000 (an int64 array) and of the 2-grams of the first 200,000 (a torch
    int64 tensor); on them :func:`lmcourse.ngram.modified_kn_discounts` clips nothing, so its values are the
    formulas'. The answer is three numbers (a tuple, list, array or tensor; float32 fine: rtol 1e-5). The counts
    must be left as they were. The hint names the mistake: n_r as "at least r", Y = n1 / (n1 + n2), Kneser-Ney's
    single discount three times, the ratios inverted, the discounts in another order, n4 as "at least 4", Y by
    floor division (//).
    """
    import numpy as np
    import torch

    ex = "03.4 (mkn_discounts)"
    cases: list[tuple[str, Any]] = [
        ("mkn_discounts(the counts of the character 3-grams of 30,000 characters of Shakespeare, a list)",
         list(_ngram_counts(30_000, 3))),
        ("mkn_discounts(the counts of the 4-grams of 100,000 characters, an int64 array)",
         np.array(_ngram_counts(100_000, 4), dtype=np.int64)),
        ("mkn_discounts(the counts of the 2-grams of 200,000 characters, a torch int64 tensor)",
         torch.tensor(_ngram_counts(200_000, 2))),
    ]

    def same(got: Any, theirs: Any) -> bool:
        values = _numbers(got)
        return values is not None and values.shape == (3,) and bool(np.allclose(values, theirs, rtol=1e-5))

    for what, counts in cases:
        given = _copy(counts)
        with _quiet_numerics():
            got = call(ex, mkn_discounts, given)
        if not _unchanged(given, counts):
            fail(ex, f"{what} changed the counts it was given", Description("the counts as given"),
                 Description("changed counts"), "read the counts; don't modify them (np.sort makes a sorted copy).")
        plain = [int(c) for c in np.asarray(_to_numpy(counts))]
        expected = _mkn(plain)
        values = _numbers(got)
        if values is None or values.shape != (3,):
            fail(ex, f"{what} should return three discounts", Description("(D1, D2, D3plus)"), got,
                 f"return the three numbers, e.g. as a tuple (D1, D2, D3plus) (this is {_kind(got)}).")
        if np.allclose(values, expected, rtol=1e-5):
            continue
        others = ((list(_ngram_counts(30_000, 3)),), (list(_ngram_counts(200_000, 2)),))
        mistake = _match_mistake(got, (plain,), mkn_discounts, (o for o in others if o[0] != plain), _MKN_MISTAKES,
                                 same)
        n1, n2, n3, n4 = _count_of_counts(plain)
        hint = _MKN_HINTS.get(mistake or "", f"here n1 = {n1}, n2 = {n2}, n3 = {n3}, n4 = {n4} (the numbers of "
                                             "n-grams seen exactly 1, 2, 3, 4 times); Y = n1 / (n1 + 2 n2), "
                                             "D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2, D3+ = 3 - 4Y n4/n3.")
        if mistake is None and np.allclose(np.sort(values), np.sort(expected), rtol=1e-5):
            hint = "these are the right discounts in another order: return (D1, D2, D3plus)."
        if mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: these are the discounts rounded to {decimals} decimals."
        expect_close(ex, f"{what} (n1..n4 = {n1}, {n2}, {n3}, {n4})", values, expected, hint, rtol=1e-5, atol=0.0)
    passed(ex, "D1, D2, D3+ of modified Kneser-Ney from the counts of counts n1..n4")
