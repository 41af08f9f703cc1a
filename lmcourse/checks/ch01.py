"""Checkers of chapter 01 (text as data): exercises 01.1-01.5."""

from __future__ import annotations

import functools
import math
import traceback
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    _PACKAGE,
    ExerciseNotDone,
    _numbers,
    _quiet_numerics,
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
        got = call(ex, build_vocab, list(words), min_count)
        what = f"build_vocab(words, {min_count})"
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
    """Exercise 01.2: replace each occurrence of ``pair`` in ``ids``, left to right, by ``new_id``."""
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
    for ids, pair, new_id, expected in cases:
        before = list(ids)
        given = list(ids)
        got = call(ex, merge, given, pair, new_id)
        if given != before:
            fail(ex, f"merge({before}, {pair}, {new_id}) changed the list it was given", before, given,
                 "build and return a new list; leave `ids` as it was (a tokenizer reuses it).")
        try:
            got_list = [int(i) for i in got]
        except (TypeError, ValueError):
            fail(ex, f"merge({before}, {pair}, {new_id}) should return a list of ids", expected, got,
                 "return a new list.")
        if got_list == expected:
            continue
        if expected and got_list == expected[:-1]:
            hint = "the last element is never part of a pair's start: keep it (check the last position too)."
        elif before in ([11, 2, 1, 23], [256, 1, 2, 300]):
            hint = "compare whole ids, not digits or bytes: ids go past 9 and past 255 (no str or bytes tricks)."
        elif pair == (5, 5) and got_list == expected[::-1]:
            hint = "scan left to right: the first two 5s are merged, the last one stays."
        elif pair == (5, 5):
            hint = "after merging a pair, skip both of its positions: occurrences do not overlap."
        elif pair == (2, 1):
            hint = "a pair is ordered: (a, b) matches a followed by b only."
        else:
            hint = ("walk i along the list: if ids[i], ids[i+1] is the pair, emit new_id and step 2; "
                    "else emit ids[i] and step 1.")
        expect_equal(ex, f"merge({before}, {pair}, {new_id})", got_list, expected, hint)
    passed(ex, "pairs are merged left to right without overlaps")

@functools.cache
def _word_counts(name: str) -> tuple[int, ...]:
    """How often each word (a ``split_words`` token starting with a letter) occurs in the corpus ``name``,
    in order of first occurrence: real counts, thousands of types, a tail of words seen once, twice..."""
    from collections import Counter

    from lmcourse import data, tokenize

    return tuple(Counter(w for w in tokenize.split_words(data.load_text(name)) if w[0].isalpha()).values())


@checker
def ch01_zipf_slope(zipf_slope: Callable[[list[int]], Any]) -> None:
    """Exercise 01.3: the least-squares slope of log(frequency) against log(rank), ranks 1, 2, 3, ...

    The inputs are the real word counts of two books (about 7,000 and 15,000 types, half of them seen
    once), in order of first occurrence. On them each wrong method is far off (a fit over the top 1,000
    or 100 counts, swapped axes, a line through two points: 10 to 50 %), while a right answer in float32 is
    within 1e-5: the tolerance is 1e-3. A fit through log(0) is reported without numpy's or LAPACK's noise.
    """
    import numpy as np

    ex = "01.3 (zipf_slope)"
    for name, title in (("pride_and_prejudice", "Pride and Prejudice"), ("shakespeare", "the Shakespeare corpus")):
        counts = list(_word_counts(name))
        c = np.sort(np.array(counts, dtype=float))[::-1]
        log_r, log_c = np.log(np.arange(1, len(c) + 1)), np.log(c)
        expected = float(np.polyfit(log_r, log_c, 1)[0])
        with _quiet_numerics():
            got = call(ex, zipf_slope, list(counts),
                       hint="ranks start at 1: log(0) is -inf, and a fit through -inf fails.")
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
        expect_close(ex, f"the slope for the {len(counts):,} word counts of {title}", value, expected, hint,
                     rtol=1e-3, atol=0.0)
    passed(ex, "the fitted log-log slope matches the reference")


def _zipf_mistake(value: float, counts: Any, expected: float) -> str | None:
    """The hint for the typical wrong method whose slope ``value`` is (within 1e-3), or None."""
    import numpy as np

    def slope(x: Any, y: Any) -> float:
        return float(np.polyfit(x, y, 1)[0])

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


@checker
def ch01_oov_rate(oov_rate: Callable[[list[str], list[str]], Any]) -> None:
    """Exercise 01.4: the fraction of test *tokens* whose word never occurs in the training tokens."""
    ex = "01.4 (oov_rate)"
    cases = [
        ("a b c a".split(), "a a d d e".split(), 3 / 5),
        ("the cat".split(), "the the the dog dog".split(), 2 / 5),  # tokens, not types: 2 of 5
        ("x y".split(), "x y y".split(), 0.0),
        ("x".split(), "q".split(), 1.0),
    ]
    for train, test, expected in cases:
        got = call(ex, oov_rate, list(train), list(test))
        types_answer = len(set(test) - set(train)) / len(set(test))
        value = number(ex, f"oov_rate({train}, {test})", got, expected, "return the fraction as a float.")
        swapped = sum(w not in set(test) for w in train) / len(train)
        if math.isclose(value, 100 * expected) and expected:
            hint = "return a fraction between 0 and 1, not a percentage."
        elif math.isclose(value, swapped) and not math.isclose(value, expected):
            hint = "the first argument is the training words, the second the test words."
        elif math.isclose(value, types_answer) and not math.isclose(value, expected):
            hint = "count test tokens (every occurrence), not distinct test words; divide by the number of test tokens."
        elif math.isclose(value, 1 - expected):
            hint = "that is the in-vocabulary rate: count the test tokens NOT among the training words."
        else:
            hint = "a test token is out of vocabulary when its word is not among the training words."
        expect_close(ex, f"oov_rate({train}, {test})", value, expected, hint, rtol=1e-6, atol=1e-9)
    passed(ex, "the out-of-vocabulary rate is measured over test tokens")

def _bpe_merges(pieces: list[str], num_merges: int, count: str = "weighted", tie: str = "smallest",
                first_id: int = 256) -> list[tuple[int, int]]:
    """The textbook BPE loop over ``pieces`` (pre-tokenised chunks, repeats included), with the knobs that
    typical wrong answers turn: ``count`` "weighted" (every pair of every chunk occurrence), "types"
    (each distinct chunk once) or "presence" (a pair once per chunk); ``tie`` "smallest", "largest" or
    "first" (the first pair seen, as ``max(counts, key=counts.get)``); ``first_id`` of the new ids."""
    from collections import Counter

    from lmcourse.tokenize import _merge

    seqs = [list(p.encode("utf-8")) for p in (dict.fromkeys(pieces) if count == "types" else pieces)]
    merges: list[tuple[int, int]] = []
    for k in range(num_merges):
        pairs = [set(zip(ids, ids[1:])) if count == "presence" else zip(ids, ids[1:]) for ids in seqs]
        counts = Counter(p for chunk in pairs for p in chunk)
        if not counts:
            break
        pair = (min(counts, key=lambda p: (-counts[p], p)) if tie == "smallest" else
                max(counts, key=lambda p: (counts[p], p)) if tie == "largest" else max(counts, key=counts.__getitem__))
        merges.append(pair)
        seqs = [_merge(ids, pair, first_id + k) for ids in seqs]
    return merges


def _bpe_encode(text: str, merges: list[tuple[int, int]], mode: str = "learned order") -> list[int]:
    """Encode ``text`` with ``merges`` the right way (``mode`` "learned order": in each chunk, merge k applied
    with id 256 + k, for k = 0, 1, ...) or one of the typical wrong ways: "whole text" (no pre-tokenisation),
    "text frequency" (the learned pair most frequent in the text first), "leftmost" (the first learned pair
    found in a chunk first), "found once" (each learned pair found in the chunk, once, in the order found),
    "reversed" (the merges from last to first), "rank ids" (merge k gives id k)."""
    from collections import Counter

    from lmcourse.tokenize import _merge, pretokenize

    ranks = {p: k for k, p in enumerate(merges)}
    seqs = [list(c.encode("utf-8")) for c in ([text] if mode == "whole text" else pretokenize(text))]
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
            order = reversed(range(len(merges))) if mode == "reversed" else range(len(merges))
            for k in order:
                ids = _merge(ids, merges[k], k if mode == "rank ids" else 256 + k)
        out += ids
    return out


@functools.cache
def _bpe_texts() -> tuple[str, str, str]:
    """From the Shakespeare corpus: its first 3,000 characters (to train on), its first 20,000 (to learn the
    merges that ``encode`` is handed) and 1,500 characters from the first speech after those (to encode)."""
    from lmcourse import data

    text = data.load_text("shakespeare")
    start = text.index("\n\n", 20000) + 2
    return text[:3000], text[:20000], text[start:start + 1500]


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
    """
    from lmcourse.tokenize import BPETokenizer

    ex = "01.5 (BPE)"
    train_text, merges_text, passage = _bpe_texts()
    crash = ("stop when no pair is left (every chunk is one token): a short text has fewer pairs than "
             "num_merges. Otherwise run your train on this input yourself and read the traceback above.")
    for text, num_merges in ((train_text, 40), ("To be, or not to be: that is the question.", 30)):
        expected = BPETokenizer(num_merges).fit(text).merges
        shown = f"train({text[:20]!r}..., {num_merges})" if len(text) > 20 else f"train({text!r}, {num_merges})"
        got = _bpe_merge_list(ex, shown, _call_using(ex, train, text, num_merges, hint=crash), expected)
        if got == expected:
            continue
        k = next((j for j, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        if k == len(got):
            fail(ex, f"{shown} stopped after {len(got)} merges", f"{len(expected)} merges", f"{len(got)} merges",
                 f"keep merging until {num_merges} merges are made or no pair is left at all; "
                 "a pair seen only once is still merged.")
        if k == len(expected):
            fail(ex, f"{shown} made too many merges", f"{len(expected)} merges", f"{len(got)} merges",
                 f"make num_merges merges ({num_merges}) at most, and fewer only if no pair is left.")
        right = "merge 0 was right" if k == 1 else f"merges 0-{k - 1} were right"
        fail(ex, f"{shown}: merge {k} (id {256 + k}) differs; {right}" if k else
             f"{shown}: the first merge (id 256) differs", expected[k], got[k],
             _bpe_train_mistake(text, got, expected, k))
    tokenizer = BPETokenizer(100).fit(merges_text)
    merges = tokenizer.merges
    for text in (passage, "Thou know'st 'tis so; O'er-leap it, and thou'rt there.\n",
                 "Naïve café — 3 ﬁsh, 12 ships!", ""):
        given = list(merges)
        shown = f"encode({text[:20]!r}..., merges)" if len(text) > 20 else f"encode({text!r}, merges)"
        got = _call_using(ex, encode, text, given, hint="run your encode on this input yourself and read the "
                                                        "traceback above.")
        if given != merges:
            fail(ex, f"{shown} changed the list of merges it was given", f"{len(merges)} merges as given",
                 f"{len(given)} merges, changed", "read the merges; don't modify the list (copy it if you must).")
        expected = tokenizer.encode(text)
        ids = _numbers(got, whole=True)
        if ids is None or ids.ndim != 1:
            fail(ex, f"{shown} should return one flat list of ids", expected[:10], got,
                 "return a single list of int ids for the whole text: extend it chunk by chunk (ids += chunk_ids).")
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
        }
        hint = next((h for mode, h in modes.items() if got_ids == _bpe_encode(text, merges, mode)),
                    "in each chunk of tk.pretokenize(text), start from its UTF-8 bytes and apply merge k = 0, 1, 2, "
                    "... with your merge, giving id 256 + k.")
        at = next((j for j, (a, b) in enumerate(zip(got_ids, expected)) if a != b), min(len(got_ids), len(expected)))
        start = max(0, at - 2)
        fail(ex, f"{shown}: the ids differ from position {at} (shown from position {start})",
             expected[start: at + 6], got_ids[start: at + 6], hint)
    passed(ex, "train learns the reference merges, and encode applies them in the order learned")
