"""Exercise checkers: each says what was expected, what was got, and a hint why.

A chapter's exercise gives the learner a stub that raises ``NotImplementedError``
and a check call such as ``checks.ch00_normalise(normalise)``. The checker calls
the learner's function on inputs of its own, compares with an independent
reference, and either prints one line starting with ``✓`` or raises
:class:`CheckFailed`, whose message reads::

    exercise 00.1 (normalise): the result does not sum to 1
      expected: 1.0
      got:      4.0
      hint:     divide each count by the total of all counts

The framework is the first half of this module; the checkers of each chapter
follow, in chapter order, named ``chNN_<what>``.
"""

from __future__ import annotations

import functools
import math
import random
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_PACKAGE = str(Path(__file__).resolve().parent)


class CheckFailed(AssertionError):
    """An exercise answer is wrong; the message says what, expected, got, and a hint.

    In a notebook it is shown as that message alone (``_render_traceback_`` is
    IPython's hook): no frames of this package, whose source would only distract
    (and could show the answer). If the learner's own code crashed, the frames of
    their code come first, then the message.
    """

    def _render_traceback_(self) -> list[str]:
        lines: list[str] = []
        cause = self.__cause__
        if cause is not None:
            frames = [f for f in traceback.extract_tb(cause.__traceback__) if not f.filename.startswith(_PACKAGE)]
            lines.append("Your code raised an exception (most recent call last):")
            lines += [entry.rstrip("\n") for entry in traceback.format_list(frames)]
            lines += [entry.rstrip("\n") for entry in traceback.format_exception_only(type(cause), cause)]
            lines.append("")
        lines.append(f"{type(self).__name__}: {self}")
        return lines


class ExerciseNotDone(NotImplementedError):
    """The exercise's function is still the stub; shown as its one-line message in a notebook."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@contextmanager
def forked_rng() -> Iterator[None]:
    """Run a block without touching anyone's random numbers: Python's ``random``, numpy's global
    generator and torch's (CPU and every CUDA device) are put back as they were afterwards,
    whether the block returned, failed or raised."""
    import numpy as np
    import torch

    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def checker(fn: F) -> F:
    """Make ``fn`` an exercise checker: it runs inside :func:`forked_rng`, so a check cell never
    changes the draws of the cells after it (solved or not, passed or failed), and its frames are
    hidden from IPython's traceback (``__tracebackhide__``)."""

    @functools.wraps(fn)
    def check(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841 - read by IPython and pytest
        with forked_rng():
            return fn(*args, **kwargs)

    check.forks_rng = True  # type: ignore[attr-defined]
    return check  # type: ignore[return-value]


def _show(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(exercise: str, what: str, expected: Any, got: Any, hint: str) -> NoReturn:
    """Raise :class:`CheckFailed` with the four parts a learner needs."""
    raise CheckFailed(
        f"exercise {exercise}: {what}\n  expected: {_show(expected)}\n  got:      {_show(got)}\n  hint:     {hint}"
    )


def passed(exercise: str, what: str) -> None:
    """Print the one line that says an exercise is solved."""
    print(f"✓ exercise {exercise} passed: {what}")


def call(exercise: str, fn: Callable[..., Any], *args: Any,
         hint: str = "call your function on this input yourself and read the traceback above.") -> Any:
    """Call the learner's ``fn`` on ``args``.

    A stub gets a plain "still the stub" message; any other exception becomes a
    :class:`CheckFailed` that names the input and keeps the original traceback
    (chained above it), with ``hint`` for the likely cause.
    """
    name = getattr(fn, "__name__", "your function")
    if not callable(fn):
        fail(exercise, "the answer should be a function", "a callable, e.g. the function you defined", fn,
             "pass the function itself (its name, without parentheses).")
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseNotDone(
            f"exercise {exercise}: {name} is still the stub. Replace its `raise NotImplementedError` "
            "with your code, run that cell, then run this check again."
        ) from None
    except Exception as err:  # noqa: BLE001 - any crash of the learner's code is reported the same way
        shown = ", ".join(_show(a, 60) for a in args)
        raise CheckFailed(f"exercise {exercise}: {name}({shown}) raised {type(err).__name__}: {err}\n"
                          f"  hint:     {hint}") from err


def expect_equal(exercise: str, what: str, got: Any, expected: Any, hint: str) -> None:
    """Fail unless ``got == expected`` exactly."""
    if got != expected:
        fail(exercise, what, expected, got, hint)


def expect_close(exercise: str, what: str, got: Any, expected: Any, hint: str,
                 rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Fail unless ``got`` matches ``expected`` elementwise within the tolerances (same shape too)."""
    import numpy as np

    try:
        g = np.asarray(_to_numpy(got), dtype=float)
    except (TypeError, ValueError):
        fail(exercise, what + " (the answer is not a number or an array of numbers)", expected, got, hint)
    e = np.asarray(_to_numpy(expected), dtype=float)
    if g.shape != e.shape:
        fail(exercise, f"{what}: wrong shape", f"shape {e.shape}", f"shape {g.shape}", hint)
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=False):
        fail(exercise, what, np.round(e, 6).tolist(), np.round(g, 6).tolist(), hint)


def number(exercise: str, what: str, got: Any, expected: Any, hint: str) -> float:
    """``got`` as a float if it is one real number (Python, numpy or a one-element torch tensor);
    otherwise fail. A string such as ``"0.6"`` or a bool is not a number: it is rejected, not converted."""
    import numbers

    value = _to_numpy(got)
    if hasattr(value, "shape") and getattr(value, "shape", None) in ((), (1,)) and hasattr(value, "item"):
        value = value.item()  # a 0-d (or one-element) numpy array or tensor
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(exercise, f"{what} should be one number (int or float), not {type(got).__name__}",
             expected, got, hint)
    return float(value)


def _to_numpy(value: Any) -> Any:
    """Tensors become numpy arrays (moved to the CPU); everything else passes through."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


# --- Chapter 00: set-up -------------------------------------------------------------


@checker
def ch00_normalise(normalise: Callable[[list[float]], Any]) -> None:
    """Exercise 00.1: turn counts into probabilities, ``normalise([2, 1, 1]) -> [0.5, 0.25, 0.25]``."""
    ex = "00.1 (normalise)"
    for counts in ([2, 1, 1], [5, 0, 3, 2], [7]):
        got = call(ex, normalise, list(counts))
        g = _to_numpy(got)
        try:
            total = float(sum(float(v) for v in g))
        except TypeError:
            fail(ex, f"normalise({counts}) should return a list or array of numbers", "a sequence", got,
                 "return one probability per count, in the same order.")
        if not math.isclose(total, 1.0, rel_tol=1e-9, abs_tol=1e-9):
            fail(ex, f"normalise({counts}) does not sum to 1", 1.0, total,
                 "divide each count by the total of all counts (not by the largest, nor by how many there are).")
        expected = [c / sum(counts) for c in counts]
        expect_close(ex, f"normalise({counts})", got, expected,
                     "each probability is its count divided by the total, in the same order as the counts.")
    try:
        bad = normalise([0, 0])
    except (ValueError, ZeroDivisionError):
        bad = "raised"
    if bad != "raised":
        fail(ex, "normalise([0, 0]) has no answer: zero counts in total cannot be made into probabilities",
             "a ValueError (or ZeroDivisionError)", bad, "raise ValueError when the total is 0.")
    passed(ex, "counts become probabilities that sum to 1")


@checker
def ch00_char_counts(char_counts: Callable[[str], Any]) -> None:
    """Exercise 00.2: count how often each character occurs, ``char_counts("abca") -> {"a": 2, "b": 1, "c": 1}``."""
    import numbers

    ex = "00.2 (char_counts)"
    for text in ("abca", "to be, or not to be", "", "ааa\n\n"):
        got = call(ex, char_counts, text)
        expected: dict[str, int] = {}
        for ch in text:
            expected[ch] = expected.get(ch, 0) + 1
        try:
            got_dict = dict(got)
        except (TypeError, ValueError):
            fail(ex, f"char_counts({text!r}) should return a mapping from character to count", expected, got,
                 "build a dict (or collections.Counter) whose keys are the characters.")
        bad = {k: v for k, v in got_dict.items() if isinstance(v, bool) or not isinstance(v, numbers.Integral)}
        if bad:
            key, value = next(iter(bad.items()))
            fail(ex, f"char_counts({text!r}): the count of {key!r} is {value!r}, a {type(value).__name__}",
                 "whole numbers (int)", value,
                 "a count is how many times a character occurs: add 1 per occurrence, as an int "
                 "(not a float, a string or a bool).")
        expect_equal(ex, f"char_counts({text!r})", got_dict, expected,
                     "every character counts, spaces and line breaks included; each key is one character.")
    passed(ex, "every character is counted, spaces and line breaks too")


@checker
def ch00_reproducible(draw: Callable[[int], Any]) -> None:
    """Exercise 00.3: ``draw(seed)`` returns 5 random integers in [0, 10) that depend only on ``seed``."""
    import torch

    ex = "00.3 (draw)"
    # Put the global generator in two different states: a correct draw must not care.
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = call(ex, draw, 7)
    touched = not torch.equal(state, torch.get_rng_state())
    torch.manual_seed(2)
    second = call(ex, draw, 7)
    other = call(ex, draw, 8)
    try:
        a, b, c = (torch.as_tensor(_to_numpy(x)) for x in (first, second, other))
    except (TypeError, ValueError, RuntimeError):
        fail(ex, "draw(7) should return 5 integers", "a tensor (or list) of 5 integers", first,
             "return the numbers, e.g. torch.randint(0, 10, (5,), generator=g).")
    if a.is_floating_point() or a.dtype == torch.bool:
        fail(ex, "draw(7) should return integers", "an integer tensor, e.g. dtype torch.int64", a.dtype,
             "use torch.randint(0, 10, (5,), generator=g), not torch.rand.")
    if touched:
        fail(ex, "draw(7) changed torch's global generator", "the global generator left as it was",
             "a re-seeded or advanced global generator",
             "seed a private generator (g = torch.Generator().manual_seed(seed)), not torch.manual_seed(seed).")
    expect_equal(ex, "draw(7) should return 5 numbers", tuple(a.shape), (5,),
                 "draw 5 integers, e.g. torch.randint(0, 10, (5,), generator=g).")
    if a.min() < 0 or a.max() > 9:
        fail(ex, "the numbers should lie in [0, 10)", "integers 0..9", a.tolist(), "torch.randint's high end is exclusive.")
    if not torch.equal(a, b):
        fail(ex, "draw(7) gave different numbers on a second call", a.tolist(), b.tolist(),
             "use a torch.Generator seeded with `seed` (g = torch.Generator().manual_seed(seed)), not the global one.")
    if torch.equal(a, c):
        fail(ex, "draw(7) and draw(8) gave the same numbers", "different numbers for a different seed", c.tolist(),
             "seed the generator with the argument `seed`, not a constant.")
    passed(ex, "the same seed gives the same draw, whatever else used the global generator")


# --- Chapter 01: text as data -------------------------------------------------------


@checker
def ch01_vocab_cutoff(build_vocab: Callable[[list[str], int], Any]) -> None:
    """Exercise 01.1: the words occurring at least ``min_count`` times, most frequent first, ties alphabetical."""
    from collections import Counter

    ex = "01.1 (build_vocab)"
    words = "the cat sat on the mat the cat ran a a b The The".split()  # 'The' sorts before 'a
    for min_count in (1, 2, 3, 4):
        counts = Counter(words)
        expected = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        got = call(ex, build_vocab, list(words), min_count)
        if not isinstance(got, list) or not all(isinstance(w, str) for w in got):
            fail(ex, f"build_vocab(words, {min_count}) should return a list of words", expected, got,
                 "return a list of strings (sorted(...) returns one).")
        got_list = got
        if len(got_list) != len(set(got_list)):
            fail(ex, f"build_vocab(words, {min_count}) lists a word twice", expected, got_list,
                 "each distinct word appears once: count first (collections.Counter), then keep and sort.")
        if set(got_list) != set(expected):
            kept_rare = set(got_list) - set(expected)
            hint = ("a word occurring exactly min_count times is kept: compare with >=, not >."
                    if not kept_rare else "drop every word that occurs fewer than min_count times.")
            fail(ex, f"build_vocab(words, {min_count}) keeps the wrong words", expected, got_list, hint)
        expect_equal(ex, f"build_vocab(words, {min_count}) has the right words in the wrong order", got_list, expected,
                     "sort by count, most frequent first, and break ties in Python's sorted() order of the words "
                     "(key=lambda w: (-count, w)); capitals sort before lower case.")
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
            fail(ex, f"merge({before}, {pair}, {new_id}) should return a list of ids", expected, got, "return a new list.")
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


@checker
def ch01_zipf_slope(zipf_slope: Callable[[list[int]], Any]) -> None:
    """Exercise 01.3: the least-squares slope of log(frequency) against log(rank), ranks 1, 2, 3, ..."""
    import numpy as np

    ex = "01.3 (zipf_slope)"
    rng = np.random.default_rng(0)
    for exponent in (1.0, 1.5):
        freqs = np.round(1e5 / np.arange(1, 301) ** exponent * np.exp(rng.normal(0, 0.05, 300))).astype(int)
        shuffled = rng.permutation(freqs).tolist()  # the counts come in no particular order
        ranks = np.arange(1, 301)
        expected = float(np.polyfit(np.log(ranks), np.log(np.sort(freqs)[::-1]), 1)[0])
        got = call(ex, zipf_slope, list(shuffled),
                   hint="ranks start at 1: log(0) is -inf, and a fit through -inf fails.")
        value = number(ex, "zipf_slope's result", got, round(expected, 4), "return the slope only, as a float.")
        if not math.isfinite(value):
            hint = "ranks start at 1 and counts are positive: log(0) is -inf."
        elif math.isclose(value, -expected, rel_tol=0.01):
            hint = "return the slope itself, about -s (negative), not the exponent s."
        elif value > 0:
            hint = "sort the counts from the most frequent down before you give them ranks."
        else:
            hint = ("ranks start at 1 (log 1 = 0), counts sorted from the most frequent down; fit a straight line "
                    "to (log rank, log count), in that order: np.polyfit(np.log(ranks), np.log(counts), 1)[0].")
        expect_close(ex, f"the slope for counts that fall like 1/rank^{exponent}", value, expected, hint,
                     rtol=1e-3, atol=1e-6)
    passed(ex, "the fitted log-log slope matches the reference")


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
