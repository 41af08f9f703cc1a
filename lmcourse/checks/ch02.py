"""Checkers of chapter 02 (n-gram counting): exercises 02.1-02.4."""

from __future__ import annotations

import functools
import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lmcourse.checks.core import (
    Description,
    _kind,
    _match_mistake,
    _numbers,
    _quiet_numerics,
    _real,
    _rng_states,
    _rounded,
    _to_numpy,
    _touched,
    call,
    checker,
    expect_close,
    fail,
    number,
    passed,
)


@functools.cache
def _names_model() -> tuple[Any, int, int, tuple[str, ...], Any]:
    """The character bigram model of the names corpus, as chapter 02 builds it: ``(P, bos, eos, itos, seq)``.

    Each name is encoded with ``CharTokenizer`` (fitted on the names, so ``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2,
    ``<eos>`` 3, then ``a`` .. ``z``) between ``<bos>`` and ``<eos>``; ``seq`` is all of them one after the other
    (an int64 array). ``P[a, b]`` is the MLE P(next = b | current = a) from the pairs inside each
    ``<bos>`` ... ``<eos>`` record (never ``<eos>`` to the next ``<bos>``); a row never seen (``<pad>``, ``<unk>``,
    ``<eos>``) puts all its mass on ``<eos>``, so every row sums to 1.
    """
    import numpy as np

    from lmcourse import data
    from lmcourse.tokenize import CharTokenizer

    names = data.load_text("names").split()
    tok = CharTokenizer().fit("".join(names))
    V, bos, eos = tok.vocab_size, tok.token_to_id("<bos>"), tok.token_to_id("<eos>")
    table = np.zeros(128, dtype=np.int64)
    for ch in sorted(set("".join(names))):
        table[ord(ch)] = tok.token_to_id(ch)
    letters = table[np.frombuffer("".join(names).encode("ascii"), dtype=np.uint8)]
    lengths = np.array([len(n) for n in names])
    record = np.repeat(np.arange(len(names)), lengths)
    seq = np.empty(len(letters) + 2 * len(names), dtype=np.int64)
    seq[np.arange(len(letters)) + 2 * record + 1] = letters
    starts = np.cumsum(lengths) - lengths + 2 * np.arange(len(names))
    seq[starts] = bos
    seq[starts + lengths + 1] = eos
    a, b = seq[:-1], seq[1:]
    inside = a != eos
    counts = np.bincount(a[inside] * V + b[inside], minlength=V * V).reshape(V, V).astype(float)
    counts[counts.sum(axis=1) == 0, eos] = 1.0
    P = counts / counts.sum(axis=1, keepdims=True)
    itos = tuple(tok.id_to_token(i) for i in range(V))
    return P, bos, eos, itos, seq


# --- 02.1 bigram counts ---------------------------------------------------------------------------------


def _bigram_reference(ids: Any, V: int) -> Any:
    import numpy as np

    a = np.asarray(ids, dtype=np.int64)
    return np.bincount(a[:-1] * V + a[1:], minlength=V * V).reshape(V, V) if len(a) > 1 else np.zeros((V, V), int)


def _one(V: int, a: int, b: int) -> Any:
    import numpy as np

    out = np.zeros((V, V), dtype=np.int64)
    out[a, b] = 1
    return out


_BIGRAM_MISTAKES: dict[str, Callable[[Any, int], Any]] = {
    "transposed": lambda ids, V: _bigram_reference(ids, V).T,
    "both orders": lambda ids, V: _bigram_reference(ids, V) + _bigram_reference(ids, V).T,
    "wrap-around": lambda ids, V: _bigram_reference(ids, V) + _one(V, int(ids[-1]), int(ids[0])),
    "last pair": lambda ids, V: _bigram_reference(ids, V) - _one(V, int(ids[-2]), int(ids[-1])),
    "first pair": lambda ids, V: _bigram_reference(ids, V) - _one(V, int(ids[0]), int(ids[1])),
    "buffered": lambda ids, V: (_bigram_reference(ids, V) > 0).astype(int),
    "list arithmetic": lambda ids, V: _list_arithmetic(ids, V),
}


def _list_arithmetic(ids: Any, V: int) -> Any:
    """np.bincount(ids[:-1] * V + ids[1:]) on a list: ``* V`` repeats the list V times, ``+`` concatenates."""
    import numpy as np

    if not isinstance(ids, list):
        raise TypeError("only a list is repeated by * V")
    return np.bincount(ids[:-1] * V + ids[1:], minlength=V * V)[: V * V].reshape(V, V)


_BIGRAM_HINTS = {
    "transposed": "this is N transposed: N[a, b] counts a followed by b, the current id as the row, the next id as "
                  "the column (N[ids[i], ids[i+1]] += 1).",
    "both orders": "count each pair once, in its order: a followed by b adds 1 to N[a, b] only, not to N[b, a].",
    "wrap-around": "there is one pair too many, last id -> first id: np.roll wraps around. Pair ids[:-1] with "
                   "ids[1:] instead.",
    "last pair": "the last pair is missing: there are len(ids) - 1 pairs, i in range(len(ids) - 1) "
                 "(range(len(ids) - 2) stops one short).",
    "first pair": "the first pair is missing: the pairs start at i = 0, (ids[0], ids[1]).",
    "buffered": "a pair that occurs several times was counted once: N[ids[:-1], ids[1:]] += 1 writes each cell once "
                "however often it is indexed (numpy buffers it). Use np.add.at(N, (ids[:-1], ids[1:]), 1), or "
                "np.bincount(a * V + b, minlength=V * V).reshape(V, V).",
    "list arithmetic": "ids may be a list, and on a list ids[:-1] * V repeats it V times and + joins two lists: "
                       "make it an array first, ids = np.asarray(ids).",
}


def _matrix(value: Any) -> Any:
    """``value`` as a float64 numpy array if it is an array or tensor of numbers or a list of equal-length lists
    of numbers (a 2-D table); otherwise None. Text and bools are not numbers."""
    import numpy as np

    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        return value.astype(float) if value.dtype.kind in "iuf" else None
    if isinstance(value, (list, tuple)):
        rows = [_numbers(row) for row in value]
        if any(r is None or r.shape != rows[0].shape for r in rows):
            return None
        return np.array(rows, dtype=float).reshape(len(rows), -1) if rows else np.zeros((0, 0))
    return None


def _bigram_shown(ids: Any, V: int) -> str:
    if len(ids) > 20:
        return f"bigram_counts(ids of the first 1,000 names, each <bos> ... <eos>, {V})"
    return f"bigram_counts({[int(i) for i in ids]}, {V})"


@checker
def ch02_bigram_counts(bigram_counts: Callable[[Any, int], Any]) -> None:
    """Exercise 02.1: ``bigram_counts(ids, V)`` returns the V x V table N, N[a, b] = the number of positions i with
    ``ids[i] == a`` and ``ids[i+1] == b``.

    ``ids`` is a list in the small cases and an int64 numpy array in the real one (the first 1,000 names, each
    ``<bos>`` ... ``<eos>``, 30 ids); V is larger than max(ids) + 1 in the small cases, so a table sized from the
    ids shows. The table may be a numpy array or torch tensor of any numeric dtype, or a list of lists; its values
    must be whole (np.zeros' 3.0 is a count, 2.5 is not). The ids must be left as they were. The hint names the
    typical mistake the table reproduces: transposed, np.roll's wrap-around pair, the last pair missed, a repeated
    pair counted once by the buffered ``N[ids[:-1], ids[1:]] += 1``.
    """
    import numpy as np

    ex = "02.1 (bigram_counts)"
    seq = _names_model()[4]
    names_ids = seq[: int(np.flatnonzero(seq == 2)[1000])]  # the first 1,000 names
    cases: list[tuple[Any, int]] = [
        ([0, 1, 1, 2, 0, 1, 1, 2, 2], 5),  # (0, 1), (1, 1) and (1, 2) twice each; ids 3 and 4 never used
        ([3, 0, 2, 3, 3, 0, 2, 2, 1], 6),
        ([2], 3),  # no pair at all: a table of zeros
        (names_ids, 30),
    ]

    def same(got: Any, theirs: Any) -> bool:
        values = _matrix(got)
        return values is not None and values.shape == np.shape(theirs) and bool(np.array_equal(values, theirs))

    for ids, V in cases:
        given = ids.copy()
        what = _bigram_shown(ids, V)
        got = call(ex, bigram_counts, given, V,
                   hint="ids may be a list or a numpy array: np.asarray(ids) makes either an array. Otherwise run "
                        "your function on this input yourself and read the traceback above.")
        if not np.array_equal(np.asarray(given), np.asarray(ids)) or len(given) != len(ids):
            fail(ex, f"{what} changed the ids it was given", Description("the ids as given"),
                 Description("changed ids"), "read the ids; don't modify them (no sort, append or in-place +=).")
        expected = _bigram_reference(ids, V)
        values = _matrix(got)
        if values is None:
            fail(ex, f"{what} should return a V x V table of counts", Description(f"a {V} x {V} array of counts"),
                 got, f"return a 2-D numpy array (or tensor), e.g. N = np.zeros(({V}, {V}), dtype=int); this is "
                      f"{_kind(got)}.")
        if values.shape != (V, V):
            top = max(int(np.max(ids)) + 1, 1)
            fail(ex, f"{what} has the wrong shape", Description(f"shape ({V}, {V})"),
                 Description(f"shape {values.shape}"),
                 f"size the table from V, np.zeros((V, V)), not from the ids: max(ids) + 1 = {top} here, but an id "
                 "never seen still needs its row and column." if values.shape == (top, top) else
                 "return the V x V table, one row and one column per id 0 .. V-1.")
        if not np.array_equal(values, np.round(values)):
            rows = values.sum(axis=1)
            fail(ex, f"{what} should be whole counts", Description("whole numbers, e.g. 3 or 3.0"),
                 values[values != np.round(values)][:3].tolist(),
                 "return the counts themselves, not probabilities: chapter 02 normalises them in a later step."
                 if np.allclose(rows[rows > 0], 1.0, rtol=1e-5) else
                 "each cell is a count, a whole number: add 1 per pair.")
        if np.array_equal(values, expected):
            continue
        table = _to_numpy(got)
        if isinstance(table, np.ndarray) and table.dtype.kind in "iu" and table.dtype.itemsize < 8:
            wrap = 2 ** (8 * table.dtype.itemsize)
            if np.array_equal(values % wrap, expected % wrap):  # the right counts, modulo the dtype's range
                a, b = (int(x) for x in np.argwhere(values != expected)[0])
                fail(ex, f"{what}: N[{a}, {b}] (how often {a} is followed by {b}) is wrong" +
                     (" (and maybe others)" if int((values != expected).sum()) > 1 else ""), int(expected[a, b]),
                     int(values[a, b]),
                     f"your table is {table.dtype}, whose counts go up to {np.iinfo(table.dtype).max} only: "
                     f"{int(expected[a, b])} wrapped around to {int(values[a, b])}. Count in int64, "
                     "np.zeros((V, V), dtype=np.int64) (or the default dtype).")
        others = ((list(o) if isinstance(o, list) else o.copy(), v) for o, v in cases[:2] if o is not ids)
        mistake = _match_mistake(got, (ids, V), bigram_counts, others, _BIGRAM_MISTAKES, same)
        total = int(values.sum())
        hint = _BIGRAM_HINTS.get(mistake or "", "for each i in range(len(ids) - 1), add 1 to N[ids[i], ids[i + 1]]" + (
            f": there are {len(ids) - 1} pairs, and your table counts {total}." if total != len(ids) - 1 else "."))
        a, b = (int(x) for x in np.argwhere(values != expected)[0])
        fail(ex, f"{what}: N[{a}, {b}] (how often {a} is followed by {b}) is wrong" +
             (" (and maybe others)" if int((values != expected).sum()) > 1 else ""),
             int(expected[a, b]), int(values[a, b]), hint)
    passed(ex, "N[a, b] counts every pair a -> b of the ids, repeated pairs included")


# --- 02.2 maximum-likelihood probability ---------------------------------------------------------------


def _windows(tokens: list[Any], n: int) -> list[tuple[Any, ...]]:
    """Every run of ``n`` consecutive tokens, the final one included: those at i in range(len(tokens) - n + 1),
    as a learner's loop over them finds them (so n = 0 gives len(tokens) + 1 empty runs)."""
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _mle_counts(tokens: list[Any], context: tuple[Any, ...], token: Any) -> tuple[int, int]:
    """c(context + token), and c(context) counting only the occurrences followed by a token."""
    n = len(context)
    grams = [tuple(tokens[i:i + n + 1]) for i in range(len(tokens) - n)]
    return sum(g == context + (token,) for g in grams), sum(g[:n] == context for g in grams)


def _mle(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
    num, den = _mle_counts(tokens, context, token)
    if den == 0:
        raise ValueError(f"context {context} never occurs followed by a token")
    return num / den


_MLE_MISTAKES: dict[str, Callable[[list[Any], tuple[Any, ...], Any], float]] = {
    "final": lambda t, c, w: _mle_counts(t, c, w)[0] / sum(g == c for g in _windows(t, len(c))),
    "count": lambda t, c, w: _mle_counts(t, c, w)[0],
    "joint n-grams": lambda t, c, w: _mle_counts(t, c, w)[0] / (len(t) - len(c)),
    "joint tokens": lambda t, c, w: _mle_counts(t, c, w)[0] / len(t),
    "unigram len-1": lambda t, c, w: _mle_counts(t, c, w)[0] / (len(t) - 1) if not c else _mle(t, c, w),
    "reversed": lambda t, c, w: _mle(t, tuple(reversed(c)), w),
    "token first": lambda t, c, w: (sum(g == (w,) + c for g in _windows(t, len(c) + 1)) / _mle_counts(t, c, w)[1]),
    "last only": lambda t, c, w: _mle(t, c[-1:], w),
    "no context": lambda t, c, w: _mle(t, (), w),
    "inverse": lambda t, c, w: _mle_counts(t, c, w)[1] / _mle_counts(t, c, w)[0],
}

_MLE_HINTS = {
    "final": "the context's occurrence at the very end of the tokens is followed by nothing: c(context) counts only "
             "the occurrences followed by a token (the positions i < len(tokens) - len(context)), else the "
             "probabilities after it don't sum to 1.",
    "count": "that is the count c(context + token): divide it by c(context), the number of times the context "
             "occurs followed by a token.",
    "joint n-grams": "that is the joint probability of the n-gram (its count over the number of n-grams): for the "
                     "conditional P(token | context), divide by c(context) instead.",
    "joint tokens": "that divides by len(tokens), the joint frequency of the n-gram: divide by c(context), the number "
                    "of times the context occurs followed by a token.",
    "unigram len-1": "with the empty context every one of the len(tokens) positions counts: P(token) = "
                     "c(token) / len(tokens), not / (len(tokens) - 1).",
    "reversed": "keep the context in order: context[0] is the earliest token, context[-1] the one right before "
                "`token` (tuple(tokens[i:i + n - 1]) == context, then tokens[i + n - 1] == token).",
    "token first": "the context comes before the token: count the n-grams context + (token,), the context first.",
    "last only": "use the whole context, all len(context) tokens before `token`, not only the last one: an n-gram is "
                 "len(context) + 1 tokens long.",
    "no context": "the context matters: count the n-grams context + (token,) and divide by c(context); this is the "
                  "unigram probability of the token.",
    "inverse": "the fraction is upside down: c(context + token) / c(context).",
}


@functools.cache
def _pride_words() -> tuple[str, ...]:
    """The first 1,754 lower-cased words and punctuation marks of Pride and Prejudice, ending "... of the": the
    context ("of", "the") and ("the",) both end the sequence."""
    from lmcourse import data
    from lmcourse.tokenize import split_words

    words = [w.lower() for w in split_words(data.load_text("pride_and_prejudice")[:12000]) if not w.isspace()]
    return tuple(words[:1754])


@checker
def ch02_mle_prob(mle_prob: Callable[[list[Any], tuple[Any, ...], Any], Any]) -> None:
    """Exercise 02.2: ``mle_prob(tokens, context, token)`` = c(context + token) / c(context), where c(context) counts
    only the occurrences of the context that are followed by a token.

    ``tokens`` is a list of ints, then the first 1,754 lower-cased words of Pride and Prejudice (it ends "... of
    the", so ("the",) and ("of", "the") occur once more, at the very end, unfollowed). ``context`` is a tuple of any
    length, () for the unigram c(token) / len(tokens). A context never followed by a token must raise ValueError
    (a ZeroDivisionError, 0, nan or inf is wrong). The answer is one number within 1e-6. The tokens must be left
    as they were. The hint names the mistake the answers reproduce (the final occurrence counted, the joint
    probability, the count itself, the context reversed or shortened, len - 1 for the unigram), once the answers
    on the other queries confirm it; a ValueError for a context that occurs is told that a list slice never
    equals a tuple.
    """
    ex = "02.2 (mle_prob)"
    ints = [3, 1, 2, 4, 2, 1, 3, 1, 2, 3, 2, 1, 4, 1, 2, 1, 2, 3, 2, 1, 5, 1, 2]
    words = list(_pride_words())
    queries: list[tuple[list[Any], tuple[Any, ...], Any]] = [
        (ints, (1,), 2),
        (ints, (1, 2), 3),
        (ints, (2, 1), 3),
        (ints, (), 2),
        (ints, (3, 1, 2), 4),
        (words, ("the",), "girls"),
        (words, ("of", "the"), "girls"),
        (words, (), "the"),
        (words, (".", '"'), "i"),
    ]

    def shown(tokens: list[Any], context: tuple[Any, ...], token: Any) -> str:
        name = "words" if tokens is words else str(tokens)
        return f"mle_prob({name}, {context!r}, {token!r})"

    def same(got: Any, theirs: float) -> bool:
        value = _real(got)
        return value is not None and math.isclose(value, theirs, rel_tol=1e-6, abs_tol=1e-12)

    for tokens, context, token in queries:
        what = shown(tokens, context, token)
        given = list(tokens)
        num, den = _mle_counts(tokens, context, token)

        def raised(err: Exception, den: int = den) -> str:
            return (f"your function raised ValueError, but c(context) = {den} here: the context occurs, followed by a "
                    "token. Note that a list slice never equals a tuple ([1, 2] == (1, 2) is False): compare "
                    "tuple(tokens[i:i + n]) == context." if isinstance(err, ValueError) else
                    "call your function on this input yourself and read the traceback above.")

        got = call(ex, mle_prob, given, context, token, hint=raised)
        if given != tokens:
            fail(ex, f"{what} changed the list of tokens it was given",
                 Description(f"the {len(tokens):,} tokens as given"), Description(f"{len(given):,} tokens, changed"),
                 "read the tokens; don't modify them.")
        expected = _mle(tokens, context, token)
        value = number(ex, f"{what}'s result", got, round(expected, 6),
                       "return the probability as a float: c(context + token) / c(context).")
        if math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-12):
            continue
        others = ((list(t), c, w) for t, c, w in queries if (t, c, w) != (tokens, context, token))
        mistake = _match_mistake(got, (list(tokens), context, token), mle_prob, others, _MLE_MISTAKES, same,
                                 confirm=True)
        decimals = _rounded(value, expected)
        hint = (_MLE_HINTS[mistake] if mistake else
                f"don't round: this is the probability rounded to {decimals} decimals." if decimals is not None else
                "count the n-grams context + (token,) and the occurrences of the context followed by a token "
                "(positions i with i + len(context) < len(tokens)); divide the first by the second.")
        expect_close(ex, f"{what} (c(context + token) = {num}, c(context) = {den})", value, expected, hint,
                     rtol=1e-6, atol=1e-12)
    for tokens, context, token in ((words, ("the", "unicorn"), "of"), (ints, (5, 1, 2), 3), (ints, (2, 5), 1)):
        what = shown(tokens, context, token)
        at_end = tokens[-len(context):] == list(context)
        end = " (it occurs only at the very end, followed by nothing)" if at_end else ""
        try:
            with _quiet_numerics():
                bad = mle_prob(list(tokens), context, token)
        except ValueError:
            continue
        except ZeroDivisionError:
            fail(ex, f"{what}: the context {context!r} is never followed by a token{end}",
                 Description("a ValueError"), Description("ZeroDivisionError"),
                 "check c(context) first and raise ValueError(f\"context {context} never occurs followed by a "
                 "token\"): a ZeroDivisionError says what went wrong in your arithmetic, not in the input.")
        except Exception as err:  # noqa: BLE001 - any other exception is a wrong answer, reported as such
            fail(ex, f"{what} raised {type(err).__name__}: the context {context!r} is never followed by a token{end}",
                 Description("a ValueError"), Description(f"{type(err).__name__}: {err}"),
                 "when c(context) is 0, raise ValueError(...) naming the context" +
                 (" (an assert is skipped when Python runs with -O)." if isinstance(err, AssertionError) else "."))
        value = _real(bad)
        fail(ex, f"{what}: the context {context!r} is never followed by a token{end}",
             Description("a ValueError (the probability is undefined)"), bad,
             "the final occurrence of a context has no next token and does not count: c(context) is 0 here, so "
             "raise ValueError naming the context." if end and value == 0 else
             f"P(token | context) is 0 / 0 here, undefined, not {bad!r}: when c(context) is 0, raise "
             "ValueError(...) naming the context.")
    passed(ex, "P(token | context) = c(context + token) / c(context), for contexts of length 0 to 3")


# --- 02.3 perplexity ----------------------------------------------------------------------------------------


def _logs(p: Any, base: float) -> Any:
    import numpy as np

    return np.log(np.asarray(p, dtype=float)) / math.log(base)


_E = math.e

_PERPLEXITY_MISTAKES: dict[str, Callable[[Any], float]] = {
    "arithmetic": lambda p: 1 / float(sum(p) / len(p)),
    "nats": lambda p: float(-_logs(p, _E).mean()),
    "bits": lambda p: float(-_logs(p, 2).mean()),
    "decibans": lambda p: float(-_logs(p, 10).mean()),
    "sign": lambda p: math.exp(float(_logs(p, _E).mean())),
    "sum": lambda p: math.exp(float(-_logs(p, _E).sum())),
    "n-1": lambda p: math.exp(float(-_logs(p, _E).sum()) / (len(p) - 1)),
    "mixed 2 e": lambda p: 2 ** float(-_logs(p, _E).mean()),
    "mixed e 2": lambda p: math.exp(float(-_logs(p, 2).mean())),
    "mixed 10 e": lambda p: 10 ** float(-_logs(p, _E).mean()),
    "mixed e 10": lambda p: math.exp(float(-_logs(p, 10).mean())),
    "mixed 2 10": lambda p: 2 ** float(-_logs(p, 10).mean()),
    "mixed 10 2": lambda p: 10 ** float(-_logs(p, 2).mean()),
    "float16": lambda p: _in_float16(p),
}


def _in_float16(p: Any) -> float:
    """exp(-mean(ln p)) computed in float16, as np.asarray(probs, dtype=np.float16) or a torch.float16 tensor do."""
    import numpy as np

    with np.errstate(divide="ignore"):
        return float(np.exp(-np.mean(np.log(np.asarray(p, dtype=np.float16)))))

_PERPLEXITY_HINTS = {
    "arithmetic": "that is 1 / (the arithmetic mean of the probabilities): perplexity is 1 / their geometric mean, "
                  "exp(-mean(log p)).",
    "nats": "that is the cross-entropy in nats, -mean(ln p): perplexity is its exponential, exp(-mean(ln p)).",
    "bits": "that is the cross-entropy in bits, -mean(log2 p): perplexity is 2 ** (-mean(log2 p)).",
    "decibans": "that is the cross-entropy in base 10, -mean(log10 p): perplexity is 10 ** (-mean(log10 p)).",
    "sign": "the sign is lost: exp(+mean(ln p)) is 1 / perplexity (below 1). Perplexity is exp(-mean(ln p)), "
            "at least 1.",
    "sum": "average the log-probabilities, don't add them: exp(-sum(ln p)) grows with the length of the text; "
           "perplexity is exp(-mean(ln p)).",
    "n-1": "average over all N probabilities: divide the sum of the logs by N = len(probs), not N - 1.",
    "float16": "compute in float64 (or float32), not float16: float16 keeps about 3 significant digits, so its "
               "logarithms and exp are 1e-3 off. np.asarray(probs, dtype=float) or torch.float64.",
}


@checker
def ch02_perplexity(perplexity: Callable[[Any], Any]) -> None:
    """Exercise 02.3: ``perplexity(probs)`` = exp(-mean(ln p)) of the probabilities a model gave each token.

    ``probs`` is a list, a float64 numpy array (the names bigram model's probabilities of the last 2,000
    characters of the corpus), the same as a torch float32 tensor, then 5,000 probabilities near 0.05 (their
    product, about 1e-6500, underflows to 0.0, as the 2,000's does, so prod(p) ** (-1/N) gives inf or raises),
    then a list holding a 0 (the answer must be inf: math.inf, np.inf or a torch inf, not an exception). Any base
    used consistently is right; the tolerance is 1e-4 (float32). The input must be left as it was. The hint
    names the mistake (the arithmetic mean, the cross-entropy itself, the sign lost, sum for mean, mixed bases,
    the underflowing product).
    """
    import numpy as np
    import torch

    ex = "02.3 (perplexity)"
    P, _, eos, _, seq = _names_model()
    tail = seq[-2400:]
    real = P[tail[:-1], tail[1:]][tail[:-1] != eos][:2000]  # the probability of each next character
    rng = np.random.default_rng(2)
    long = rng.uniform(0.03, 0.07, 5000)
    cases: list[tuple[str, Any]] = [
        ("perplexity([0.5, 0.25, 0.125, 0.125])", [0.5, 0.25, 0.125, 0.125]),
        (f"perplexity of the names bigram model on the last {len(real):,} characters of the corpus "
         "(a float64 array)", real),
        (f"perplexity of the same {len(real):,} probabilities as a torch.float32 tensor",
         torch.tensor(real, dtype=torch.float32)),
        ("perplexity of 5,000 probabilities near 0.05 (a float64 array)", long),
        ("perplexity([0.5, 0.0, 0.25])", [0.5, 0.0, 0.25]),
    ]
    for what, probs in cases:
        given = probs.clone() if isinstance(probs, torch.Tensor) else probs.copy()
        p = np.asarray(_to_numpy(probs), dtype=float)
        zero = bool((p == 0).any())
        exponent = float(np.log10(p[p > 0]).sum())
        underflow = (f"multiplying {len(p):,} probabilities underflows: their product is about 1e{exponent:.0f}, far "
                     "below the smallest float (about 1e-308), so it becomes 0.0 (and 0.0 ** (-1/N) is inf, or an "
                     "error). Add logarithms instead: exp(-mean(log p)).") if exponent < -320 else None
        hint = ("math.log(0) raises ValueError: a probability of 0 makes the perplexity infinite, so return "
                "math.inf when some p is 0 (numpy's and torch's log(0) give -inf, and exp(inf) is inf)." if zero else
                underflow or "run your function on this input yourself and read the traceback above.")
        with _quiet_numerics():
            got = call(ex, perplexity, given, hint=hint)
        if not np.array_equal(np.asarray(_to_numpy(given), dtype=float), np.asarray(_to_numpy(probs), dtype=float)):
            fail(ex, f"{what}: the probabilities it was given were changed", Description("the probabilities as given"),
                 Description("changed probabilities"),
                 "read the probabilities; don't modify them (np.log(p) makes a new array, p.log_() overwrites p).")
        expected = math.inf if zero else float(np.exp(-np.mean(np.log(p))))
        value = number(ex, f"{what}: the result", got, expected, "return one number, the perplexity (a float).")
        if zero:
            if value == math.inf:
                continue
            fail(ex, f"{what}: a probability of 0 makes the perplexity infinite", math.inf, value,
                 "the log of 0 is -inf and nan appears where inf and -inf meet: test for a zero probability and "
                 "return math.inf." if math.isnan(value) else
                 "don't skip or clip the zero probabilities: a model that gives the true token probability 0 is "
                 "infinitely perplexed, so return math.inf (exp(-mean(log p)) gives it with numpy or torch).")
        if math.isclose(value, expected, rel_tol=1e-4):
            continue
        if underflow and (value in (0.0, math.inf) or math.isnan(value)):
            fail(ex, what, round(expected, 4), value, underflow)
        args = (p,)
        others = ((np.asarray(c, dtype=float),) for w, c in cases if w != what and isinstance(c, (list, np.ndarray))
                  and 0.0 not in list(c))
        mistake = _match_mistake(got, args, perplexity, others, _PERPLEXITY_MISTAKES,
                                 lambda got, theirs: (v := _real(got)) is not None and math.isclose(v, theirs,
                                                                                                     rel_tol=1e-4))
        power, log = {"2": "2 **", "e": "exp", "10": "10 **"}, {"2": "log2", "e": "ln", "10": "log10"}
        bases = (mistake or "").split()[1:]
        hint = (f"mix no bases: you took {power[bases[0]]} of a mean {log[bases[1]]}. Use one base for both: "
                "exp(-mean(ln p)), 2 ** (-mean(log2 p)) or 10 ** (-mean(log10 p)), which are equal."
                if (mistake or "").startswith("mixed") else
                _PERPLEXITY_HINTS.get(mistake or "", "perplexity is the exponential of the mean negative "
                                                     "log-probability, exp(-mean(ln p)), over all N probabilities."))
        if mistake is None and (decimals := _rounded(value, expected)) is not None:
            hint = f"don't round: this is the perplexity rounded to {decimals} decimals."
        expect_close(ex, what, value, expected, hint, rtol=1e-4, atol=0.0)
    passed(ex, "perplexity = exp(-mean(log p)): no underflow on 5,000 tokens, inf for a zero probability")


# --- 02.4 sampling a name -----------------------------------------------------------------------------------


#: Seconds the learner's sample_name may take for one batch of names (1,500 take about 0.3 s) before it is stopped.
SAMPLE_TIME_LIMIT = 10.0
#: How many names the statistical check of exercise 02.4 draws.
SAMPLES = 1500


class _TookTooLong(BaseException):
    """Raised inside the learner's code by :func:`_time_limit`'s alarm (a BaseException, so that ``call`` and
    the learner's ``except Exception`` let it through)."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Stop the block with :class:`_TookTooLong` after ``seconds``, where a timer signal can do it (Unix, the main
    thread: where a notebook runs); elsewhere run it without a limit."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _TookTooLong

    previous = signal.signal(signal.SIGALRM, alarm)
    other_timer = signal.setitimer(signal.ITIMER_REAL, seconds)  # (delay, interval) of a timer already set, if any
    try:
        yield
    finally:
        left = signal.setitimer(signal.ITIMER_REAL, 0)[0]
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if other_timer[0] > 0:  # put back whoever else's timer was running, less the time spent here
            signal.setitimer(signal.ITIMER_REAL, max(other_timer[0] - (seconds - left), 1e-3), other_timer[1])


def _name_stats(names: list[list[int]], P: Any, bos: int, eos: int) -> tuple[float, float, float, Any]:
    """How well ``names`` (each without ``<bos>``/``<eos>``) fit the chain P: (z of the mean length, the mean
    length expected, the p-value of a chi-square test of the first ids, the first ids' counts).

    The length of a name is the number of steps to absorption in ``<eos>`` minus 1; its mean and variance come
    from the fundamental matrix (I - Q)^-1 of the absorbing chain. First ids whose expected count is under 10
    are pooled into one cell, so the chi-square approximation holds; its tail comes from torch's regularised
    incomplete gamma function.
    """
    import numpy as np
    import torch

    n = len(names)
    keep = [i for i in range(len(P)) if i != eos]
    Q = P[np.ix_(keep, keep)]
    fundamental = np.linalg.inv(np.eye(len(keep)) - Q)
    steps = fundamental.sum(axis=1)
    variance = (2 * fundamental - np.eye(len(keep))) @ steps - steps ** 2
    b = keep.index(bos)
    mean_length = steps[b] - 1
    z = (np.mean([len(x) for x in names]) - mean_length) / math.sqrt(variance[b] / n)
    first = np.bincount([x[0] if len(x) else eos for x in names], minlength=len(P))[: len(P)]
    expected = n * P[bos]
    big = expected >= 10
    observed = np.append(first[big], first[~big].sum())
    wanted = np.append(expected[big], expected[~big].sum())
    used = wanted > 0
    chi2 = float((((observed - wanted) ** 2)[used] / wanted[used]).sum()) + (
        math.inf if (observed[~used] > 0).any() else 0.0)
    dof = int(used.sum()) - 1
    p = (0.0 if math.isinf(chi2) else
         float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64),
                                       torch.tensor(chi2 / 2, dtype=torch.float64))))
    return float(z), float(mean_length), p, first


#: The lengths L at which exercise 02.4 counts the names of L letters or more: a name cut at a maximum length (a
#: loop ``for _ in range(20)`` instead of one until eos) has none of 21, where the chain gives about 38 in 1,500.
LONG_NAMES = (14, 21)


def _long_names(names: list[list[int]], P: Any, bos: int, eos: int, at_least: int) -> tuple[int, float, float]:
    """How many of ``names`` have ``at_least`` letters or more, and the mean and standard deviation of that count
    under the chain P: the count is binomial, with p the probability that the chain, started at bos, has not drawn
    eos in its first ``at_least`` steps (the sum of the row bos of Q^at_least, Q being P without eos)."""
    import numpy as np

    keep = [i for i in range(len(P)) if i != eos]
    Q = P[np.ix_(keep, keep)]
    alive = np.linalg.matrix_power(Q, at_least)[keep.index(bos)].sum()
    n = len(names)
    return sum(len(x) >= at_least for x in names), float(n * alive), math.sqrt(n * alive * (1 - alive))


@checker
def ch02_sample_name(sample_name: Callable[[Any, int, int, Any], Any]) -> None:
    """Exercise 02.4: ``sample_name(P, bos, eos, generator)`` draws a name from the bigram chain P.

    P is the names corpus's MLE character bigram matrix (30 x 30, rows summing to 1, ``<bos>`` 2, ``<eos>`` 3);
    starting at bos, each next id is drawn from the row P[current] with ``generator`` (an np.random.Generator)
    until eos is drawn; the ids drawn, without bos and eos, are returned (a list, array or tensor of ints).
    Checked: the type; no bos or eos in the name; the same seed gives the same names; no global generator
    (numpy's, Python's, torch's) is used and the generator is; not every name the same (argmax); every step has
    probability > 0 under P; no name is empty; and over ``SAMPLES`` (1,500) names from one generator, the number of
    names of at least 14 and 21 letters (``LONG_NAMES``) no more than 5 standard deviations below the chain's
    exact expectation (a name cut at a maximum length has none), the mean length and the distribution of the
    first id within 5 standard errors (a chi-square p-value above 1e-6) of the chain's exact values: a right
    answer fails about once in a million seeds. A batch of calls that runs over
    ``SAMPLE_TIME_LIMIT`` seconds is stopped (it never drew eos?) where a timer signal can stop it (Unix, the
    main thread: where a notebook's code runs).
    """
    import numpy as np

    ex = "02.4 (sample_name)"
    P, bos, eos, itos, _ = _names_model()
    V = len(P)
    show = "sample_name(P, bos, eos, generator)"

    def spelled(ids: list[int]) -> str:
        return "".join(itos[i] if i not in (bos, eos) else f"<{'bos' if i == bos else 'eos'}>" for i in ids)

    def as_ids(got: Any) -> list[int]:
        if type(got) is list and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in got):
            return [int(i) for i in got]  # the usual answer, read quickly: 1,500 of them are checked
        ids = _numbers(got, whole=True)
        if ids is None and isinstance(_to_numpy(got), np.ndarray) and _to_numpy(got).shape == (0,):
            ids = np.zeros(0, dtype=np.int64)
        if ids is None or ids.ndim != 1:
            fail(ex, f"{show} should return the ids drawn, a list of ints", Description("e.g. [9, 17, 17, 5]"), got,
                 "append each id drawn (an int, or numpy's int: generator.choice returns one) to a list and return "
                 f"the list; this is {_kind(got)}.")
        return [int(i) for i in ids.tolist()]

    def draw(generator: Any, k: int) -> list[list[int]]:
        """``k`` names from ``generator``, one call each."""
        given = P.copy()
        try:
            with _time_limit(SAMPLE_TIME_LIMIT), _quiet_numerics():
                got = [call(ex, sample_name, given, bos, eos, generator,
                            hint="draw from the row P[current], which sums to 1: np.random.Generator.choice checks "
                                 "that p sums to 1, and a column P[:, current] does not. Otherwise run your "
                                 "function yourself and read the traceback above.") for _ in range(k)]
        except _TookTooLong:
            fail(ex, f"{show} ran for over {SAMPLE_TIME_LIMIT:g} seconds and was stopped",
                 Description(f"{k:,} names in well under a second"), Description("not done yet"),
                 "stop the loop as soon as eos is drawn (if nxt == eos: break): a name ends there. Draw each next id "
                 "from P[current], the row of the id just drawn.")
        if not np.array_equal(given, P):
            fail(ex, f"{show} changed the matrix P it was given", Description("P as given"), Description("changed P"),
                 "read P; don't modify it (the next name needs it as it was).")
        names = [as_ids(x) for x in got]
        for out in names:
            if any(not 0 <= i < V for i in out):
                fail(ex, f"{show} returned ids outside 0 .. {V - 1}", Description(f"ids 0 .. {V - 1}"), out,
                     "draw an id, generator.choice(V, p=P[current]), not a probability or a character.")
        return names

    def states(generator: Any) -> Any:
        return generator.bit_generator.state

    # Reproducible, and with the generator it is given, only.
    np.random.seed(1)
    before = _rng_states()
    g = np.random.default_rng(7)
    start = states(g)
    first = draw(g, 5)
    touched = _touched(before, _rng_states())
    greedy = [int(np.argmax(P[bos]))]
    while greedy[-1] != eos and len(greedy) < 50:
        greedy.append(int(np.argmax(P[greedy[-1]])))
    if all(name == greedy[:-1] for name in first):
        fail(ex, f"{show}: every name is {spelled(first[0])!r}", Description("different names"),
             Description(f"{first[0]} = {spelled(first[0])!r} every time"),
             "you took the most likely id each time (argmax): draw it at random from P[current] instead, "
             "generator.choice(V, p=P[current]).")
    for name in first:
        if bos in name:
            fail(ex, f"{show}: the name {'starts with' if name[0] == bos else 'holds'} <bos>",
                 Description("the ids drawn, without bos and eos"), Description(f"{name} = {spelled(name)}"),
                 "leave bos out: it is where you start, not a drawn id.")
        if eos in name:
            once = name.index(eos) == len(name) - 1
            fail(ex, f"{show}: the name {'ends with' if once else 'holds'} <eos>" +
                 ("" if once else f" {name.count(eos)} times"),
                 Description("the ids drawn, without bos and eos"), Description(f"{name} = {spelled(name)}"),
                 "leave eos out: when it is drawn, stop without appending it." if once else
                 "stop when eos is drawn (if nxt == eos: break): after eos the name is over.")
    if touched:
        fail(ex, f"{show} used {'Python' if touched == 'random' else touched}'s global generator",
             Description("only the generator passed in"), Description(f"{touched}'s global generator drawn from"),
             "draw with the generator you are given, generator.choice(V, p=P[current]), not np.random.choice, "
             "random.choices or torch.multinomial: then a seed makes the name reproducible.")
    if states(g) == start:
        fail(ex, f"{show} never drew from the generator it was given", Description("draws from `generator`"),
             Description("the generator unused"),
             "draw each id with the generator you are given: generator.choice(V, p=P[current]), not a generator of "
             "your own (np.random.default_rng() inside the function).")
    g = np.random.default_rng(7)
    again = draw(g, 5)
    if again != first:
        fail(ex, f"{show}: two generators seeded with 7 gave different names", [spelled(x) for x in first],
             [spelled(x) for x in again],
             "draw only with the generator passed in, so that its seed decides the name.")
    g = np.random.default_rng(2024)
    names = draw(g, SAMPLES)
    if all(name == names[0] for name in names):
        fail(ex, f"{show}: every one of {SAMPLES:,} names is {spelled(names[0])!r}", Description("different names"),
             Description(f"{names[0]} = {spelled(names[0])!r} every time"),
             "you took the most likely id each time (argmax): draw it at random from P[current] instead, "
             "generator.choice(V, p=P[current])." if names[0] == greedy[:-1] else
             "draw each id at random from P[current] with the generator: generator.choice(V, p=P[current]).")
    for name in names:
        path = [bos, *name]
        impossible = next(((a, b) for a, b in zip(path, path[1:]) if P[a, b] == 0), None)
        if impossible is not None:
            a, b = impossible
            fail(ex, f"{show} drew the name {spelled(name)!r}, whose step {spelled([a])!r} -> {spelled([b])!r} has "
                     "probability 0", Description(f"P[{a}, {b}] > 0 for every step"), Description(f"P[{a}, {b}] = 0"),
                 "every step must be one P allows: draw the next id from the row P[current] (P[current, :], the "
                 "current id first) with its probabilities, not from the column P[:, current], nor uniformly.")
    empty = sum(not name for name in names)
    if empty:
        fail(ex, f"{show}: {empty} of {SAMPLES:,} names are empty", Description("at least one letter: P[bos, eos] = 0"),
             Description(f"{empty} names []"),
             "a name has at least one letter (no name goes straight from bos to eos). Are your names one id short? "
             "Append each id as you draw it, unless it is eos, not the id before it.")
    longest = max(len(x) for x in names)
    for at_least in LONG_NAMES:
        many, expected_many, sd = _long_names(names, P, bos, eos, at_least)
        if many < expected_many - 5 * sd:  # a right answer fails here about once in 30 million seeds (L = 14)
            fail(ex, f"{show}: only {many} of {SAMPLES:,} names have {at_least} letters or more",
                 Description(f"about {expected_many:.0f}"), many,
                 f"a name ends only when <eos> is drawn: don't cap the length. Your longest name has {longest} "
                 f"letters, where the chain makes about {expected_many:.0f} names of {at_least} letters or more in "
                 f"{SAMPLES:,}: loop until eos is drawn (while True: ... if nxt == eos: break), not "
                 "for _ in range(some maximum)."
                 if longest < at_least else
                 "draw the next id from P[current], where current is the id just drawn, and stop exactly when eos "
                 "is drawn (whatever the length so far): the chain makes long names now and then.")
    z, mean_length, p, counts = _name_stats(names, P, bos, eos)
    got_length = float(np.mean([len(x) for x in names]))
    if abs(z) > 5:
        off = got_length - mean_length
        ones, expected_ones = sum(len(x) == 1 for x in names), SAMPLES * float(P[bos] @ P[:, eos])
        hint = (f"your names are one id too long: not one has a single letter, where the chain gives about "
                f"{expected_ones:.0f} in {SAMPLES:,}. Return exactly the ids drawn after bos and before eos."
                if abs(off - 1) < 0.5 and ones == 0 else
                "draw the next id from P[current], where current is the id just drawn, and stop exactly when eos is "
                "drawn (whatever the length so far).")
        fail(ex, f"{show}: the mean length of {SAMPLES:,} names is {z:+.1f} standard errors off",
             round(mean_length, 2), round(got_length, 2), hint)
    if p < 1e-6:
        top = np.argsort(-np.abs(counts - SAMPLES * P[bos]))[:3]
        fail(ex, f"{show}: the first letters of {SAMPLES:,} names don't follow P[bos] (chi-square p = {p:.1e})",
             {itos[i]: round(SAMPLES * float(P[bos, i])) for i in top}, {itos[i]: int(counts[i]) for i in top},
             "draw the first id from the row P[bos], with the generator: generator.choice(V, p=P[bos]).")
    for name in names:
        if name and P[name[-1], eos] == 0:
            fail(ex, f"{show} drew {spelled(name)!r}, which no name in the corpus ends with",
                 Description(f"P[{name[-1]}, <eos>] > 0"), Description(f"P[{name[-1]}, <eos>] = 0"),
                 "return every id drawn before eos, in order, and stop exactly when eos is drawn.")
    passed(ex, f"{SAMPLES:,} names from P: first letters and mean length ({got_length:.2f}, expected "
               f"{mean_length:.2f}) as the chain gives them, and a seed gives the same names")

