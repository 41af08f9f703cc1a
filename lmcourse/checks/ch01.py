"""Checkers of chapter 01 (text as data): exercises 01.1-01.5."""

from __future__ import annotations

import functools
import math
import traceback
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    _PACKAGE,
    Description,
    ExerciseNotDone,
    _kind,
    _match_mistake,
    _numbers,
    _quiet_numerics,
    _real,
    _rounded,
    _to_numpy,
    _whole,
    call,
    checker,
    expect_close,
    expect_equal,
    fail,
    number,
    passed,
)


@checker
def ch01_vocab_cutoff(build_vocab: Callable[[list[str], int], Any]) -> None:
    """Exercise 01.1: the words occurring at least ``min_count`` times, most frequent first, ties alphabetical.

    The words include 'The' and 'the' (different words), ties at every count, and an order of first
    occurrence that is not the sorted one, so each typical mistake (> for >=, lower-casing, no cut-off,
    ascending counts, ties by first occurrence, reversed or case-insensitive ties) shows differently.
    """
    from collections import Counter

    ex = "01.1 (build_vocab)"
    words = "the cat sat on the mat The cat ran to the mat a dog sat on a log The End".split()
    counts = Counter(words)

    def answer(kept: Any, key: Callable[[str], Any], reverse: bool = False) -> list[str]:
        return sorted(kept, key=key, reverse=reverse)

    for min_count in (1, 2, 3):
        kept = [w for w in counts if counts[w] >= min_count]  # in order of first occurrence
        expected = answer(kept, lambda w: (-counts[w], w))
        given = list(words)
        got = call(ex, build_vocab, given, min_count)
        what = f"build_vocab(words, {min_count})"
        if given != words:
            fail(ex, f"{what} changed the list of words it was given", words, given,
                 "build and return a new list; leave `words` as it was: sorted(...) makes a sorted copy, "
                 "words.sort() sorts the caller's list." if sorted(given) == sorted(words) else
                 "build and return a new list; leave `words` as it was (the caller still needs it).")
        if isinstance(got, list) and got and all(isinstance(p, tuple) and len(p) == 2 for p in got):
            fail(ex, f"{what} should return a list of words", expected, got,
                 "return the words only, not (word, count) pairs: [w for w, c in ...] or sorted(kept, key=...).")
        if not isinstance(got, list) or not all(isinstance(w, str) for w in got):
            fail(ex, f"{what} should return a list of words", expected, got,
                 "return a list of strings (sorted(...) returns one).")
        if len(got) != len(set(got)):
            fail(ex, f"{what} lists a word twice", expected, got,
                 "each distinct word appears once: count first (collections.Counter), then keep and sort.")
        if set(got) != set(expected):
            lower = Counter(w.lower() for w in words)
            wrong_sets = {
                "keep the words as they are: 'The' and 'the' are different words here, so don't lower-case them.":
                    [{w for w, c in lower.items() if c >= min_count}, {w for w, c in lower.items() if c > min_count}],
                "a word occurring exactly min_count times is kept: compare with >=, not >.":
                    [{w for w in counts if counts[w] > min_count}],
                "drop every word that occurs fewer than min_count times (count >= min_count).": [set(counts)],
            }
            hint = next((h for h, sets in wrong_sets.items() if set(got) in sets),
                        "keep exactly the words whose count is at least min_count, each word as it is written.")
            fail(ex, f"{what} keeps the wrong words", expected, got, hint)
        wrong_orders = {
            "most frequent first: sort by -count (key=lambda w: (-counts[w], w)), not by the count upwards.":
                [answer(kept, lambda w: (counts[w], w))],
            "sort by count first, most frequent first, then by the word: key=lambda w: (-counts[w], w).":
                [sorted(kept), kept],
            "ties keep their order of first occurrence (as most_common() does): break them by the word, "
            "key=lambda w: (-counts[w], w).": [[w for w, _ in counts.most_common() if counts[w] >= min_count]],
            "ties go in sorted() order of the words (capitals first, then a to z), not reversed: "
            "key=lambda w: (-counts[w], w) with no reverse=True.": [answer(kept, lambda w: (counts[w], w), True)],
            "capitals sort before lower case: break ties with the word itself, not w.lower().":
                [answer(kept, lambda w: (-counts[w], w.lower())), answer(kept, lambda w: (-counts[w], w.casefold()))],
        }
        hint = next((h for h, orders in wrong_orders.items() if got in orders),
                    "sort by count, most frequent first, and break ties in Python's sorted() order of the words "
                    "(key=lambda w: (-count, w)); capitals sort before lower case.")
        expect_equal(ex, f"{what} has the right words in the wrong order", got, expected, hint)
    passed(ex, "the cut-off keeps exactly the words seen at least min_count times, in a stable order")


@checker
def ch01_merge(merge: Callable[[list[int], tuple[int, int], int], Any]) -> None:
    """Exercise 01.2: replace each occurrence of ``pair`` in ``ids``, left to right, by ``new_id``.

    The ids must come back as ints: a list (or a 1-d integer numpy array or torch tensor); strings, floats
    (even 9.0) and bools are rejected, not converted. The input list must be left as it was. The hint names
    the typical mistake (overlapping matches, a lost last element, an unordered pair, digits of a string,
    right to left, the first occurrence only) whose output the answer gives on all the inputs.
    """
    ex = "01.2 (merge)"
    cases = [
        ([1, 2, 3, 1, 2], (1, 2), 9, [9, 3, 9]),
        ([11, 2, 1, 23], (1, 2), 9, [11, 2, 1, 23]),  # ids are numbers, not digits of a string
        ([256, 1, 2, 300], (1, 2), 301, [256, 301, 300]),  # merged ids go past 255
        ([5, 5, 5], (5, 5), 7, [7, 5]),  # non-overlapping, left to right
        ([5, 5, 5, 5], (5, 5), 7, [7, 7]),
        ([1, 2], (2, 1), 9, [1, 2]),  # order matters: (2, 1) is not (1, 2)
        ([3, 1, 2], (1, 2), 9, [3, 9]),  # the pair at the very end
        ([], (1, 2), 9, []),
    ]
    hints = {
        "overlap": "after merging a pair, skip both of its positions: occurrences do not overlap "
                   "([5, 5, 5] with (5, 5) gives [7, 5]: the middle 5 belongs to the first pair only).",
        "missing last": "the last element is never part of a pair's start: keep it (check the last position too).",
        "either order": "a pair is ordered: (a, b) matches a followed by b only, not b followed by a.",
        "digits": "compare whole ids, not digits or bytes: ids go past 9 and past 255 (no str or bytes tricks).",
        "right to left": "scan left to right: in [5, 5, 5] the first two 5s are merged, the last one stays.",
        "first only": "replace every occurrence of the pair, not only the first.",
    }

    def as_ids(got: Any) -> list[int] | None:
        ids = _numbers(got, whole=True)
        return ids.tolist() if ids is not None and ids.ndim == 1 else None

    for ids, pair, new_id, expected in cases:
        before = list(ids)
        given = list(ids)
        what = f"merge({before}, {pair}, {new_id})"
        got = call(ex, merge, given, pair, new_id)
        if given != before:
            fail(ex, f"{what} changed the list it was given", before, given,
                 "build and return a new list; leave `ids` as it was (a tokenizer reuses it).")
        got_list = as_ids(got)
        if got_list is None and _empty_array(got):
            got_list = []  # numpy's np.array([]) is float64: no ids, so no float ids either
        if got_list is None:
            fail(ex, f"{what} should return a list of int ids", expected, got, _ids_type_hint(got))
        if got_list == expected:
            continue
        others = ((list(i), p, n) for i, p, n, _ in cases if (i, p, n) != (ids, pair, new_id))
        mistake = _match_mistake(got, (list(ids), pair, new_id), merge, others, _merge_mistakes(),
                                 lambda got, theirs: as_ids(got) == theirs)
        hint = hints.get((mistake or "").split("/")[0],
                         "walk i along the list: if ids[i], ids[i+1] is the pair, emit new_id and step 2; "
                         "else emit ids[i] and step 1.")
        expect_equal(ex, what, got_list, expected, hint)
    passed(ex, "pairs are merged left to right without overlaps")

def _empty_array(got: Any) -> bool:
    """Whether ``got`` is an empty 1-d numpy array or tensor, of any dtype (``np.array([])`` is float64)."""
    import numpy as np

    value = _to_numpy(got)
    return isinstance(value, np.ndarray) and value.shape == (0,)


def _ids_type_hint(got: Any) -> str:
    """The hint for an answer that should be a flat sequence of int ids but is not: it names what it is."""
    import numpy as np

    value = _to_numpy(got)
    kind = _kind(got)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple, np.ndarray)) or
                                                          hasattr(v, "detach") for v in value):
        return ("return a single flat list of int ids, not a list of lists: extend it chunk by chunk "
                "(ids += chunk_ids, or ids.extend(chunk_ids)).")
    if isinstance(value, np.ndarray) and value.ndim != 1 and value.dtype.kind in "iu":
        return f"return a flat list of ids (one dimension), not an array of shape {value.shape}."
    if _numbers(got) is not None:
        return (f"ids are whole numbers of an integer type, and this is {kind}: a float such as 9.0, or 9.4, is "
                "not an id. Keep the ids as ints (a tensor or array of ids: dtype torch.long or np.int64).")
    if isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
        return (f"ids are ints, and this is {kind}: return the ids as numbers, not as text "
                "(no str(...) or joining and splitting).")
    if isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value):
        return f"ids are ints, and this is {kind}: True and False are not ids."
    return (f"return a new list of int ids (this is {kind})" +
            (": a generator is used up once read; wrap it in list(...)." if hasattr(got, "__next__") else "."))


def _merge_overlapping(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Every position where the pair starts becomes ``new_id``, and every position right after one is dropped,
    as a vectorised merge does if it lets matches overlap: [5, 5, 5] with (5, 5) gives [7]."""
    starts = {i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair}
    return [new_id if i in starts else x for i, x in enumerate(ids) if i - 1 not in starts]


def _merge_overlapping_kept(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Each pair start becomes ``new_id``; an element is dropped only if it ends a pair and starts none:
    [5, 5, 5] gives [7, 7]."""
    starts = {i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair}
    return [new_id if i in starts else x for i, x in enumerate(ids) if i in starts or i - 1 not in starts]


def _merge_step_one(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Emit ``new_id`` for a pair but step 1, not 2, past it: [5, 5, 5] gives [7, 7, 5], [1, 2] gives [9, 2]."""
    out, i = [], 0
    while i < len(ids):
        out.append(new_id if (ids[i], ids[i + 1] if i + 1 < len(ids) else None) == pair else ids[i])
        i += 1
    return out


def _merge_by_digits(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Merge in the decimal text of the ids: "11 2" contains "1 2"."""
    text = " ".join(map(str, ids)).replace(f"{pair[0]} {pair[1]}", str(new_id))
    return [int(t) for t in text.split()]


def _merge_first_only(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Only the first occurrence of the pair is replaced."""
    at = next((i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair), None)
    return list(ids) if at is None else ids[:at] + [new_id] + ids[at + 2:]


def _merge_missing_last(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """The scan stops before the last element, which is lost unless it ends a pair."""
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_mistakes() -> dict[str, Callable[[list[int], tuple[int, int], int], list[int]]]:
    """Typical wrong merges, by the name of their mistake (``/n`` tells apart two ways to make one mistake)."""
    from lmcourse.tokenize import _merge

    return {
        "overlap/1": _merge_overlapping,
        "overlap/2": _merge_overlapping_kept,
        "overlap/3": _merge_step_one,
        "missing last": _merge_missing_last,
        "either order/1": lambda ids, pair, new_id: _merge(_merge(ids, pair, new_id), pair[::-1], new_id),
        "either order/2": lambda ids, pair, new_id: _merge(ids, (min(pair), max(pair)), new_id),
        "digits": _merge_by_digits,
        "right to left": lambda ids, pair, new_id: _merge(ids[::-1], pair[::-1], new_id)[::-1],
        "first only": _merge_first_only,
    }


@functools.cache
def _word_counts(name: str) -> tuple[int, ...]:
    """How often each lower-cased word (a ``split_words`` token starting with a letter) occurs in the whole
    corpus ``name``, in order of first occurrence: the counts behind ``freqs`` in chapter 01, section 4. Real
    counts, thousands of types, a tail of words seen once, twice..."""
    from collections import Counter

    from lmcourse import data, tokenize

    return tuple(Counter(w.lower() for w in tokenize.split_words(data.load_text(name)) if w[0].isalpha()).values())


@checker
def ch01_zipf_slope(zipf_slope: Callable[[list[int]], Any]) -> None:
    """Exercise 01.3: the least-squares slope of log(frequency) against log(rank), ranks 1, 2, 3, ...

    The inputs are the lower-cased word counts of two books that chapter 01 fits (``freqs`` of section 4:
    6,460 and 13,383 types, 39 and 49 % of them seen once), in order of first occurrence. On them each wrong
    method is far off (a fit over the top 1,000 or 100 counts, swapped axes, a line through two points:
    10 to 50 %), while a right answer in float32 is within 1e-5: the tolerance is 1e-3. A slope rounded
    (to 2 decimals, say) is told so. A fit through log(0) is reported without numpy's or LAPACK's noise.
    """
    import numpy as np

    ex = "01.3 (zipf_slope)"
    for name, title in (("pride_and_prejudice", "Pride and Prejudice"), ("shakespeare", "Shakespeare")):
        counts = list(_word_counts(name))
        c = np.sort(np.array(counts, dtype=float))[::-1]
        log_r, log_c = np.log(np.arange(1, len(c) + 1)), np.log(c)
        expected = float(np.polyfit(log_r, log_c, 1)[0])
        given = list(counts)
        with _quiet_numerics():
            got = call(ex, zipf_slope, given, hint="ranks start at 1: log(0) is -inf, and a fit through -inf fails.")
        if given != counts:
            fail(ex, f"zipf_slope changed the list of {len(counts):,} word counts of {title} it was given",
                 Description("the counts as given, in order of first occurrence"),
                 Description("the counts sorted" if sorted(given) == sorted(counts) else "other counts"),
                 "build and return the slope; leave `counts` as it was: sorted(counts, reverse=True) or np.sort "
                 "make a sorted copy, counts.sort() sorts the caller's list.")
        value = number(ex, "zipf_slope's result", got, round(expected, 4), "return the slope only, as a float.")
        if math.isclose(value, expected, rel_tol=1e-3):
            continue
        if not math.isfinite(value):
            hint = "ranks start at 1 and counts are positive: log(0) is -inf, and a fit through it gives nan."
        else:
            hint = _zipf_mistake(value, np.array(counts, dtype=float), expected) or (
                "ranks start at 1 (log 1 = 0), counts sorted from the most frequent down; fit a straight line to "
                "(log rank, log count), in that order, over all the counts: "
                "np.polyfit(np.log(ranks), np.log(counts), 1)[0].")
        expect_close(ex, f"the slope for the {len(counts):,} lower-cased word counts of {title} "
                         f'(freqs["{title}"] in section 4)', value, expected, hint,
                     rtol=1e-3, atol=0.0)
    passed(ex, "the fitted log-log slope matches the reference")


def _zipf_mistake(value: float, counts: Any, expected: float) -> str | None:
    """The hint for the typical wrong method whose slope ``value`` is (within 1e-3), or None."""
    import numpy as np

    def slope(x: Any, y: Any) -> float:
        return float(np.polyfit(x, y, 1)[0])

    decimals = _rounded(value, expected)
    if decimals is not None:
        return (f"don't round: this is the slope rounded to {decimals} decimals. Return it at full precision, "
                "and round only where you print it.")
    c = np.sort(counts)[::-1]
    n = len(c)
    ranks = np.arange(1, n + 1)
    log_r, log_c = np.log(ranks), np.log(c)
    swapped = slope(log_c, log_r)
    candidates = [
        (-expected, "return the slope itself (negative, near -1), not the exponent s = -slope."),
        (slope(log_r, np.log(counts)),
         "sort the counts from the most frequent down before you give them ranks 1, 2, 3."),
        (slope(log_r, log_c[::-1]), "sort the counts from the most frequent down (descending), then give them ranks."),
        (swapped, "fit log(count) against log(rank): np.polyfit(x, y, 1) takes x first, and x is log(rank); "
                  "you fitted log(rank) against log(count)."),
        (1 / swapped, "fit log(count) against log(rank) directly: the fit of log(rank) against log(count), "
                      "inverted, is another line."),
        ((log_c[-1] - log_c[0]) / (log_r[-1] - log_r[0]),
         "fit a least-squares line through all the points (np.polyfit); the slope between the first and the "
         "last point is not it."),
        (slope(np.log(ranks + 1), log_c), "ranks start at 1 (log 1 = 0): the most frequent word has rank 1, not 2."),
        (slope(log_r / np.log(10), log_c), "use the same logarithm on both axes (np.log, or np.log10, for both)."),
        (slope(log_r, log_c / np.log(10)), "use the same logarithm on both axes (np.log, or np.log10, for both)."),
        (slope(ranks, c), "fit the logarithms, log(count) against log(rank), not the counts against the ranks."),
    ]
    u = np.unique(c)[::-1]
    candidates.append((slope(np.log(np.arange(1, len(u) + 1)), np.log(u)),
                       "keep every count, repeated ones too: set() or np.unique() drops the many words seen once "
                       "or twice, which are most of the points."))
    for top in (10, 50, 100, 200, 500, 1000, 2000, 5000):
        if top < n:
            candidates.append((slope(log_r[:top], log_c[:top]),
                               f"fit over all {n:,} counts, not only the top {top:,}: the tail of rare words is "
                               "part of the law, and it pulls the line down."))
    close = [(abs(v - value), hint) for v, hint in candidates if math.isclose(v, value, rel_tol=1e-3)]
    return min(close)[1] if close else None


@functools.cache
def _oov_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The training and validation words of Pride and Prejudice as chapter 01 makes them (section 4):
    lower-cased ``split_words`` tokens that are not whitespace, punctuation included."""
    from lmcourse import data, tokenize

    parts = data.splits("pride_and_prejudice")
    train, valid = (tuple(w for w in tokenize.split_words(text.lower()) if not w.isspace())
                    for text in (parts.train, parts.valid))
    # The start of each part: real-shaped, yet quick even for an answer that rebuilds set(train) for
    # every test word (a common first attempt, which on all 129,474 x 7,108 words takes half a minute).
    return train[:20_000], valid[:997]  # 81 of 997: a rate, 0.08124..., with no short decimal form


def _oov_count(train: list[str], test: list[str]) -> int:
    known = set(train)
    return sum(w not in known for w in test)


def _oov(train: list[str], test: list[str]) -> float:
    return _oov_count(train, test) / len(test)


_OOV_MISTAKES: dict[str, Callable[[list[str], list[str]], float]] = {
    "percentage": lambda train, test: 100 * _oov(train, test),
    "swapped": lambda train, test: _oov(test, train),
    "types": lambda train, test: len(set(test) - set(train)) / len(set(test)),
    "distinct oov": lambda train, test: len(set(test) - set(train)) / len(test),
    "oov per type": lambda train, test: _oov_count(train, test) / len(set(test)),
    "in vocabulary": lambda train, test: 1 - _oov(train, test),
    "count": lambda train, test: _oov_count(train, test),
    "floor": lambda train, test: _oov_count(train, test) // len(test),
    "by train": lambda train, test: _oov_count(train, test) / len(train),
    "lower": lambda train, test: _oov([w.lower() for w in train], [w.lower() for w in test]),
}

_OOV_HINTS = {
    "percentage": "return a fraction between 0 and 1, not a percentage.",
    "swapped": "the first argument is the training words, the second the test words.",
    "types": "count test tokens (every occurrence), not distinct test words; divide by the number of test tokens.",
    "distinct oov": "count every out-of-vocabulary test token, each occurrence: a word missing from training that "
                    "occurs twice in the test words counts twice (not len(set(test) - set(train))).",
    "oov per type": "divide by the number of test tokens, len(test_words), not by the number of distinct test words.",
    "in vocabulary": "that is the in-vocabulary rate: count the test tokens NOT among the training words.",
    "count": "that is the number of out-of-vocabulary tokens: divide it by the number of test tokens, len(test_words).",
    "floor": "integer division (//) rounds the fraction down to 0: divide with /.",
    "by train": "divide by the number of test tokens, len(test_words), not by the number of training words.",
    "lower": "keep the words as they are: 'The' and 'the' are different words here, so don't lower-case them.",
}


@checker
def ch01_oov_rate(oov_rate: Callable[[list[str], list[str]], Any]) -> None:
    """Exercise 01.4: the fraction of test *tokens* whose word never occurs in the training tokens.

    Small cases (repeated out-of-vocabulary words, capitals: 'The' is not 'the'), then a real one: the
    first 20,000 training and 997 validation words of Pride and Prejudice, as chapter 01 makes them. The
    word lists must be left as they were. The hint names the typical mistake (types for tokens, the count
    itself, //, the wrong denominator, lower-casing, rounding...) the answer reproduces.
    """
    ex = "01.4 (oov_rate)"
    train_words, valid_words = _oov_words()
    cases = [
        ("a b c a".split(), "a a d d e".split()),  # d occurs twice: tokens, not types
        ("the cat".split(), "the the the dog dog".split()),  # 2 of 5 tokens
        ("x y".split(), "x y y".split()),
        ("x".split(), "q".split()),
        ("The cat sat on the mat".split(), "the Cat sat on THE mat The end".split()),  # 'Cat', 'THE', 'end'
        (list(train_words), list(valid_words)),
    ]

    def same(got: Any, theirs: float) -> bool:
        value = _real(got)
        return value is not None and math.isclose(value, theirs, rel_tol=1e-6, abs_tol=1e-9)

    for train, test in cases:
        expected = _oov(train, test)
        real = len(train) > 100
        what = (f"oov_rate on the first {len(train):,} training and {len(test):,} validation words of Pride and "
                "Prejudice (as in section 4)" if real else f"oov_rate({train}, {test})")
        given_train, given_test = list(train), list(test)
        got = call(ex, oov_rate, given_train, given_test)
        if given_train != train or given_test != test:
            changed = "training" if given_train != train else "test"
            fail(ex, f"{what} changed the list of {changed} words it was given",
                 Description(f"the {len(train if changed == 'training' else test):,} {changed} words as given"),
                 Description(f"{len(given_train if changed == 'training' else given_test):,} words, changed"),
                 "read the word lists; don't modify them (sort, pop or remove on a copy, or better, use a set: "
                 "known = set(train_words)).")
        value = number(ex, f"{what}'s result" if real else what, got, round(expected, 6),
                       "return the fraction as a float.")
        if math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        others = ((list(tr), list(te)) for tr, te in cases if (tr, te) != (train, test) and len(tr) <= 100)
        mistake = _match_mistake(got, (list(train), list(test)), oov_rate, others, _OOV_MISTAKES, same)
        decimals = _rounded(value, expected)
        if mistake is not None:
            hint = _OOV_HINTS[mistake]
        elif decimals is not None:
            hint = (f"don't round: this is the rate rounded to {decimals} decimals. Return it at full precision, "
                    "and round only where you print it.")
        else:
            hint = ("a test token is out of vocabulary when its word, exactly as written, is not among the training "
                    "words: count those tokens and divide by the number of test tokens.")
        expect_close(ex, what, value, expected, hint, rtol=1e-6, atol=1e-9)
    passed(ex, "the out-of-vocabulary rate is measured over test tokens")


def _merge_first(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace only the first occurrence of ``pair`` in ``ids`` by ``new_id`` (a typical wrong merge step)."""
    at = next((i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair), None)
    return list(ids) if at is None else ids[:at] + [new_id] + ids[at + 2:]


def _bpe_merges(pieces: list[str], num_merges: int, count: str = "weighted", tie: str = "smallest",
                first_id: int = 256, units: str = "bytes", replace: str = "all") -> list[tuple[int, int]]:
    """The textbook BPE loop over ``pieces`` (pre-tokenised chunks, repeats included), with the knobs that
    typical wrong answers turn: ``count`` "weighted" (every pair of every chunk occurrence), "types"
    (each distinct chunk once) or "presence" (a pair once per chunk); ``tie`` "smallest", "largest" or
    "first" (the first pair seen, as ``max(counts, key=counts.get)``); ``first_id`` of the new ids; ``units``
    "bytes" or "code points" (``ord(ch)``, not UTF-8 bytes); ``replace`` "all" or "first" (each merge replaces
    only the first occurrence of its pair in each chunk)."""
    from collections import Counter

    from lmcourse.tokenize import _merge

    seqs = [list(p.encode("utf-8")) if units == "bytes" else [ord(ch) for ch in p]
            for p in (dict.fromkeys(pieces) if count == "types" else pieces)]
    step = _merge if replace == "all" else _merge_first
    merges: list[tuple[int, int]] = []
    for k in range(num_merges):
        pairs = [set(zip(ids, ids[1:])) if count == "presence" else zip(ids, ids[1:]) for ids in seqs]
        counts = Counter(p for chunk in pairs for p in chunk)
        if not counts:
            break
        pair = (min(counts, key=lambda p: (-counts[p], p)) if tie == "smallest" else
                max(counts, key=lambda p: (counts[p], p)) if tie == "largest" else max(counts, key=counts.__getitem__))
        merges.append(pair)
        seqs = [step(ids, pair, first_id + k) for ids in seqs]
    return merges


def _bpe_encode(text: str, merges: list[tuple[int, int]], mode: str = "learned order") -> list[int]:
    """Encode ``text`` with ``merges`` the right way (``mode`` "learned order": in each chunk, merge k applied
    with id 256 + k, for k = 0, 1, ...) or one of the typical wrong ways: "whole text" (no pre-tokenisation),
    "text frequency" (the learned pair most frequent in the text first), "leftmost" (the first learned pair
    found in a chunk first), "found once" (each learned pair found in the chunk, once, in the order found),
    "reversed" (the merges from last to first), "rank ids" (merge k gives id k), "all but last" (the last merge
    skipped, as ``range(len(merges) - 1)`` does), "code points" (``ord(ch)`` for the UTF-8 bytes)."""
    from collections import Counter

    from lmcourse.tokenize import _merge, pretokenize

    ranks = {p: k for k, p in enumerate(merges)}
    seqs = [list(c.encode("utf-8")) if mode != "code points" else [ord(ch) for ch in c]
            for c in ([text] if mode == "whole text" else pretokenize(text))]
    if mode == "text frequency":
        while True:
            counts = Counter(p for ids in seqs for p in zip(ids, ids[1:]) if p in ranks)
            if not counts:
                return [i for ids in seqs for i in ids]
            pair = max(counts, key=counts.__getitem__)
            seqs = [_merge(ids, pair, 256 + ranks[pair]) for ids in seqs]
    out: list[int] = []
    for ids in seqs:
        if mode == "leftmost":
            while (pair := next((p for p in zip(ids, ids[1:]) if p in ranks), None)) is not None:
                ids = _merge(ids, pair, 256 + ranks[pair])
        elif mode == "found once":
            for pair in [p for p in dict.fromkeys(zip(ids, ids[1:])) if p in ranks]:
                ids = _merge(ids, pair, 256 + ranks[pair])
        else:
            order = (reversed(range(len(merges))) if mode == "reversed" else
                     range(len(merges) - 1) if mode == "all but last" else range(len(merges)))
            for k in order:
                ids = _merge(ids, merges[k], k if mode == "rank ids" else 256 + k)
        out += ids
    return out


@functools.cache
def _bpe_texts() -> tuple[str, str, str]:
    """From the Shakespeare corpus: its first 3,000 characters (to train on), its first 8,000 (to learn the
    merges that ``encode`` is handed, and to encode: every merge occurs in it, the last one too) and 1,500
    characters from the first speech after those (to encode)."""
    from lmcourse import data

    text = data.load_text("shakespeare")
    start = text.index("\n\n", 8000) + 2
    return text[:3000], text[:8000], text[start:start + 1500]


# Non-ASCII text, to train on: a Tang poem (three UTF-8 bytes a character) and accented Latin letters (two).
_BPE_UNICODE = "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。 Naïve café, naïve cafés: déjà vu."


def _bpe_merge_list(ex: str, what: str, got: Any, expected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The learner's merges as a list of (int, int) tuples, or a failure that says what they returned instead."""
    if isinstance(got, dict):
        fail(ex, f"{what} should return a list of merges", expected[:5], got,
             "return the merges as a list of pairs in the order learned, [(a, b), ...]: merge k is the pair "
             "that became id 256 + k (list(d) of a dict {pair: id} gives that list).")
    pairs = [tuple(p) for p in got if isinstance(p, (tuple, list))] if isinstance(got, (list, tuple)) else None
    if pairs is None or len(pairs) != len(got) or any(len(p) != 2 or _whole(p[0]) is None or _whole(p[1]) is None
                                                       for p in pairs):
        fail(ex, f"{what} should return a list of merges, pairs of ids", expected[:5], got,
             "return a list of (a, b) tuples of int ids, in the order they were learned.")
    return [(_whole(a), _whole(b)) for a, b in pairs]  # type: ignore[misc]


def _bpe_train_mistake(text: str, got: list[tuple[int, int]], expected: list[tuple[int, int]], k: int) -> str:
    """The hint for a train answer that first differs from ``expected`` at merge ``k``."""
    from collections import Counter

    from lmcourse.tokenize import _merge, pretokenize

    pieces = pretokenize(text)
    variants = {
        "pre-tokenise first (tk.pretokenize(text)) and count pairs inside each chunk only: merges never cross "
        "a chunk boundary, such as the one between a word and the space before the next.": [text],
        "pre-tokenise with tk.pretokenize(text), not text.split(): the space before a word belongs to it "
        "(' the'), and punctuation is a chunk of its own.": text.split(),
    }
    for hint, alt in variants.items():
        if _bpe_merges(alt, k + 1) == got[: k + 1]:
            return hint
    knobs = {
        "start from the UTF-8 bytes of each chunk, list(chunk.encode('utf-8')), not its code points (ord(ch)): "
        "'é' is two bytes (195, 169) and '明' three, so ids 0-255 are the bytes and no character is out of range.":
            {"units": "code points"},
        "replace every occurrence of the merged pair in each chunk (your merge from 01.2 does), not only the "
        "first: otherwise the pair is still there to be counted, and the later merges differ.": {"replace": "first"},
        "count each pair once per occurrence of its chunk: ' the' occurring 30 times counts 30 times, "
        "not once per distinct chunk.": {"count": "types"},
        "count every occurrence of a pair, twice if it occurs twice in a chunk (zip(ids, ids[1:]), "
        "not a set of pairs).": {"count": "presence"},
        "ties go to the smallest pair (compared as tuples): min(counts, key=lambda p: (-counts[p], p)); "
        "you took the largest.": {"tie": "largest"},
        "ties go to the smallest pair (compared as tuples): min(counts, key=lambda p: (-counts[p], p)); "
        "max(counts, key=counts.get) and most_common() take the first pair seen.": {"tie": "first"},
        "merge k creates id 256 + k: the first merge is 256, the second 257, and so on (0-255 are the bytes).":
            {"first_id": 257},
        "merge k creates id 256 + k: the first merge is 256, not 255 (0-255 are the bytes).": {"first_id": 255},
    }
    for hint, knob in knobs.items():
        if _bpe_merges(pieces, k + 1, **knob) == got[: k + 1]:  # type: ignore[arg-type]
            return hint
    pair = got[k]
    if any(i >= 256 + k for i in pair):
        return (f"merge {k} can only use ids made so far (0-{255 + k}): merge k creates id 256 + k, "
                "the first merge 256, the second 257, ...")
    if pair in got[:k]:
        return ("that pair was merged before: after each merge, replace the pair in every chunk (with your merge) "
                "before counting again.")
    seqs = [list(p.encode("utf-8")) for p in pieces]
    for j, p in enumerate(expected[:k]):
        seqs = [_merge(ids, p, 256 + j) for ids in seqs]
    counts = Counter(p for ids in seqs for p in zip(ids, ids[1:]))
    best = expected[k]
    if counts[pair] == counts[best]:
        return (f"{pair} and {best} both occur {counts[best]} times here: ties go to the smallest pair "
                "(compared as tuples), min(counts, key=lambda p: (-counts[p], p)).")
    absent = [i for i in pair if i < 256 and i not in text.encode("utf-8")]
    if counts[pair] == 0 and absent:
        return (f"byte {absent[0]} does not occur in this text: ids 0-255 are the bytes, and merge k creates "
                "id 256 + k (the first merge 256, the second 257, ...).")
    if counts[pair] == 0:
        return (f"{pair} does not occur inside any chunk after the first {k} merges: each merge must replace its "
                "pair in every chunk, with id 256 + k, and pairs are counted inside chunks only.")
    return (f"after {k} merges the most frequent pair inside the chunks (each chunk counted as often as it occurs) "
            f"is {best}, {counts[best]} times; {pair} occurs {counts[pair]} times. Recount all pairs after each merge.")


def _call_using(ex: str, fn: Callable[..., Any], *args: Any, hint: str) -> Any:
    """:func:`call`, but a stub reached *inside* ``fn`` (say the learner's ``merge`` of an earlier exercise,
    still unsolved) is named as such, not mistaken for ``fn`` itself being the stub."""
    try:
        return call(ex, fn, *args, hint=hint)
    except ExerciseNotDone as stub:
        original = stub.__context__  # the NotImplementedError itself (``from None`` only hides it)
        frames = traceback.extract_tb(original.__traceback__) if original is not None else []
        inner = frames[-1].name if frames else None
        name = getattr(fn, "__name__", None)
        if inner is None or inner == name or name is None or frames[-1].filename.startswith(_PACKAGE):
            raise
        raise ExerciseNotDone(f"exercise {ex}: {name} calls {inner}, which is still a stub (from an earlier "
                              f"exercise?). Solve {inner} first, run its cell, then run this check again.") from None


@checker
def ch01_bpe_train(train: Callable[[str, int], Any], encode: Callable[[str, list[tuple[int, int]]], Any]) -> None:
    """Exercise 01.5: ``train(text, num_merges)`` learns BPE merges, ``encode(text, merges)`` applies them.

    ``train`` must give the merges of :class:`lmcourse.tokenize.BPETokenizer` (byte-level, text pre-tokenised
    with ``pretokenize``, the most frequent pair counted over every chunk occurrence, ties to the smallest
    pair, merge k creating id 256 + k, stopping early only when no pair is left), as a list of pairs.
    ``encode`` must give the package's ids for the merges it is handed: in each chunk, the merges in the
    order learned. It is checked with the package's merges, so each function is judged on its own.

    ``train`` is run on Shakespeare, on one line, and on a Tang poem line with accented Latin words (so code
    points instead of UTF-8 bytes show); ``encode`` on new text and on the text the merges were learned from
    (where every merge occurs, so skipping the last one shows). Its ids must be ints (a list, or an integer
    array or tensor), one flat sequence.
    """
    from lmcourse.tokenize import BPETokenizer

    ex = "01.5 (BPE)"
    train_text, merges_text, passage = _bpe_texts()
    crash = ("stop when no pair is left (every chunk is one token): a short text has fewer pairs than "
             "num_merges. Otherwise run your train on this input yourself and read the traceback above.")
    for text, num_merges in ((train_text, 40), ("To be, or not to be: that is the question.", 30), (_BPE_UNICODE, 30)):
        expected = BPETokenizer(num_merges).fit(text).merges
        shown = f"train({text[:20]!r}..., {num_merges})" if len(text) > 20 else f"train({text!r}, {num_merges})"
        got = _bpe_merge_list(ex, shown, _call_using(ex, train, text, num_merges, hint=crash), expected)
        if got == expected:
            continue
        k = next((j for j, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        if k == len(got):
            fail(ex, f"{shown} stopped after {len(got)} merges", Description(f"{len(expected)} merges"),
                 Description(f"{len(got)} merges"),
                 f"keep merging until {num_merges} merges are made or no pair is left at all; "
                 "a pair seen only once is still merged.")
        if k == len(expected):
            fail(ex, f"{shown} made too many merges", Description(f"{len(expected)} merges"),
                 Description(f"{len(got)} merges"),
                 f"make num_merges merges ({num_merges}) at most, and fewer only if no pair is left.")
        right = "merge 0 was right" if k == 1 else f"merges 0-{k - 1} were right"
        fail(ex, f"{shown}: merge {k} (id {256 + k}) differs; {right}" if k else
             f"{shown}: the first merge (id 256) differs", expected[k], got[k],
             _bpe_train_mistake(text, got, expected, k))
    tokenizer = BPETokenizer(100).fit(merges_text)
    merges = tokenizer.merges
    for text in (passage, "Thou know'st 'tis so; O'er-leap it, and thou'rt there.\n",
                 "Naïve café — 3 ﬁsh, 12 ships!", "", merges_text):
        given = list(merges)
        shown = f"encode({text[:20]!r}..., merges)" if len(text) > 20 else f"encode({text!r}, merges)"
        got = _call_using(ex, encode, text, given, hint="run your encode on this input yourself and read the "
                                                        "traceback above.")
        if given != merges:
            fail(ex, f"{shown} changed the list of merges it was given",
                 Description(f"{len(merges)} merges as given"), Description(f"{len(given)} merges, changed"),
                 "read the merges; don't modify the list (copy it if you must).")
        expected = tokenizer.encode(text)
        ids = _numbers(got, whole=True)
        if ids is None and _empty_array(got):
            ids = _numbers([], whole=True)  # np.array([]) for the empty text is float64: no ids, so no float ids
        if ids is None or ids.ndim != 1:
            fail(ex, f"{shown} should return one flat list of int ids", expected[:10], got, _ids_type_hint(got))
        got_ids = ids.tolist()
        if got_ids == expected:
            continue
        modes = {
            "whole text": "pre-tokenise in encode too, and merge inside each chunk: merges never cross a chunk "
                          "boundary.",
            "text frequency": "apply the merges in the order they were learned (merge 0 first), not by how often "
                              "their pairs occur in the text being encoded.",
            "leftmost": "apply the merges in the order they were learned (the lowest-ranked pair present first), "
                        "not the first learned pair found from the left.",
            "found once": "apply every merge in the order learned (merge 0, then 1, ...): looking once at the pairs "
                          "found in the text misses the pairs that merging creates, and takes them in the wrong order.",
            "reversed": "apply the merges from the first learned to the last: a later merge builds on earlier ones.",
            "rank ids": "merge k gives id 256 + k, not k (ids 0-255 are the bytes).",
            "all but last": "apply every merge, the last one too: for k in range(len(merges)), not len(merges) - 1.",
            "code points": "start from the UTF-8 bytes of each chunk, list(chunk.encode('utf-8')), not its code "
                           "points (ord(ch)): 'é' is two bytes, 195 and 169, and ids 0-255 are the bytes.",
        }
        hint = next((h for mode, h in modes.items() if got_ids == _bpe_encode(text, merges, mode)),
                    "in each chunk of tk.pretokenize(text), start from its UTF-8 bytes and apply merge k = 0, 1, 2, "
                    "... with your merge, giving id 256 + k.")
        at = next((j for j, (a, b) in enumerate(zip(got_ids, expected)) if a != b), min(len(got_ids), len(expected)))
        start = max(0, at - 2)
        fail(ex, f"{shown}: the ids differ from position {at} (shown from position {start})",
             expected[start: at + 6], got_ids[start: at + 6], hint)
    passed(ex, "train learns the reference merges, and encode applies them in the order learned")
