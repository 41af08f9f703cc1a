"""Checkers of chapter 00 (set-up): exercises 00.1-00.3."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    Description,
    _match_mistake,
    _numbers,
    _rng_states,
    _rounded,
    _touched,
    _whole,
    call,
    checker,
    expect_close,
    fail,
    passed,
)


@checker
def ch00_normalise(normalise: Callable[[list[float]], Any]) -> None:
    """Exercise 00.1: turn counts into probabilities, ``normalise([2, 1, 1]) -> [0.5, 0.25, 0.25]``.

    Any list, tuple, numpy array or torch tensor of numbers is accepted, float32 as well as float64
    (compared at a relative tolerance of 1e-5). A total of 0 must raise ValueError (ZeroDivisionError
    is accepted too); a result of nan, with or without numpy's warning, is reported as no error raised.
    The counts must be left as they were. A wrong answer's hint names the typical mistake (dividing by the
    largest count, by len(counts), by sum - 1, rounding, //, ...) whose output it gives on every input.
    """
    import warnings

    import numpy as np

    ex = "00.1 (normalise)"
    cases = ([2, 1, 1], [5, 0, 3, 2], [7], [120, 3, 0, 41, 9, 1, 0, 27])  # the last total, 201: no short decimals

    def arr(counts: list[int]) -> Any:
        return np.array(counts, dtype=float)

    mistakes: dict[str, Callable[[list[int]], Any]] = {
        "you divided by the largest count: divide each count by the total of all counts, sum(counts).":
            lambda c: arr(c) / arr(c).max(),
        "you divided by how many counts there are: divide by their total, sum(counts), not len(counts).":
            lambda c: arr(c) / len(c),
        "you divided by sum(counts) - 1: divide by the total itself, sum(counts).": lambda c: arr(c) / (sum(c) - 1),
        "you divided by sum(counts) + 1: divide by the total itself, sum(counts).": lambda c: arr(c) / (sum(c) + 1),
        "the counts came back unchanged: divide each count by the total of all counts.": arr,
        "probabilities sum to 1, not 100: don't multiply by 100.": lambda c: 100 * arr(c) / sum(c),
        "integer division (//) rounds each probability down to 0: divide with /.": lambda c: arr(c) // sum(c),
    }

    def same(got: Any, theirs: Any) -> bool:
        values = _numbers(got)
        return values is not None and values.shape == np.shape(theirs) and bool(
            np.allclose(values, theirs, rtol=1e-5, atol=1e-7))

    for counts in cases:
        given = list(counts)
        got = call(ex, normalise, given)
        if given != counts:
            fail(ex, f"normalise({counts}) changed the list it was given", counts, given,
                 "build and return a new list; leave `counts` as it was (the caller may still need its counts).")
        c = arr(counts)
        expected = c / c.sum()
        values = _numbers(got)
        if values is None:
            fail(ex, f"normalise({counts}) should return a list or array of numbers",
                 [round(p, 6) for p in expected.tolist()], got,
                 "return one probability per count, in the same order: a list (or a numpy array or torch tensor) "
                 "of numbers" + (", not a generator: wrap it in list(...)." if hasattr(got, "__next__") else "."))
        if values.shape != expected.shape:
            fail(ex, f"normalise({counts}) should give one probability per count",
                 Description(f"shape {expected.shape}"), Description(f"shape {values.shape}"),
                 "return one probability per count, in the same order, as a flat list.")
        if np.allclose(values, expected, rtol=1e-5, atol=1e-7):
            continue
        others = ((list(other),) for other in cases if other != counts)
        mistake = _match_mistake(values, (list(counts),), normalise, others, mistakes, same)
        decimals = _rounded(values, expected)
        if mistake is None and decimals is not None:
            mistake = (f"don't round: these are the probabilities rounded to {decimals} decimals. Return them at "
                       "full precision, and round only where you print them.")
        if mistake is None and np.allclose(np.sort(values), np.sort(expected), rtol=1e-5, atol=1e-7):
            mistake = "these are the right probabilities in another order: keep the order of the counts (don't sort)."
        total = float(values.sum())
        if not math.isclose(total, 1.0, rel_tol=1e-5, abs_tol=1e-6):
            fail(ex, f"normalise({counts}) does not sum to 1", 1.0, total, mistake or
                 "divide each count by the total of all counts (not by the largest, nor by how many there are).")
        expect_close(ex, f"normalise({counts})", values, expected, mistake or
                     "each probability is its count divided by the total, in the same order as the counts.",
                     rtol=1e-5, atol=1e-7)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # 0 / 0 in numpy: nan and a RuntimeWarning
            warnings.simplefilter("ignore")
            bad = normalise([0, 0])
    except (ValueError, ZeroDivisionError):
        passed(ex, "counts become probabilities that sum to 1")
        return
    except Exception as err:  # noqa: BLE001 - an error of another kind is a wrong answer, reported as such
        fail(ex, f"normalise([0, 0]) raised {type(err).__name__}", Description("a ValueError"),
             Description(f"{type(err).__name__}: {err}"),
             "raise ValueError(...) when the total is 0: the input is a bad value" +
             (" (an assert is skipped when Python runs with -O)." if isinstance(err, AssertionError) else "."))
    values = _numbers(bad)
    if values is not None and np.isnan(values).any():
        hint = ("dividing by a total of 0 gave nan: numpy and torch return nan (with at most a warning) instead of "
                "raising, so test the total first: if total == 0: raise ValueError(...).")
    else:
        hint = ("test the total first: if total == 0: raise ValueError(...). Returning zeros, None or an empty "
                "list hides the problem from the caller.")
    fail(ex, "normalise([0, 0]) has no answer: zero counts in total cannot be made into probabilities",
         Description("a ValueError (or ZeroDivisionError)"), bad, hint)


@checker
def ch00_char_counts(char_counts: Callable[[str], Any]) -> None:
    """Exercise 00.2: count how often each character occurs, ``char_counts("abca") -> {"a": 2, "b": 1, "c": 1}``.

    The answer must be a mapping (a dict, Counter, defaultdict...) from each character, as it is in the
    text, to an int count. The inputs include capitals, a ligature "ﬁ", a full-width "５", an "e"
    followed by a combining accent and a precomposed "é" (U+00E9), so lower-casing or any Unicode
    normalisation (NFC, NFD, NFKC, NFKD) shows. The hint names the mistake whose counts the answer gives.
    """
    import unicodedata
    from collections import Counter
    from collections.abc import Mapping

    ex = "00.2 (char_counts)"
    texts = ("abca", "to be, or not to be", "", "a b\n\nb a\n", "To be, or NOT to be:\nthat is the Question.",
             "ﬁnd ５ ﬁsh in a cafe\u0301 or a caf\u00e9")
    forms = ("NFKC", "NFC", "NFKD", "NFD")

    def shifted(text: str, by: int) -> dict[str, int]:
        return {ch: n + by for ch, n in Counter(text).items()}

    mistakes: dict[str, Callable[[str], dict[str, int]]] = {
        "lower": lambda t: dict(Counter(t.lower())),
        "casefold": lambda t: dict(Counter(t.casefold())),
        **{form: functools.partial(lambda t, f: dict(Counter(unicodedata.normalize(f, t))), f=form) for form in forms},
        "no whitespace": lambda t: dict(Counter(ch for ch in t if not ch.isspace())),
        "no spaces": lambda t: dict(Counter(t.replace(" ", ""))),
        "presence": lambda t: dict.fromkeys(t, 1),
        "from 0": lambda t: shifted(t, -1),
        "from 2": lambda t: shifted(t, +1),
        "not the last": lambda t: dict(Counter(t[:-1])),
        "not the first": lambda t: dict(Counter(t[1:])),
    }
    hints = {
        "lower": "keep each character as it is: 'T' and 't' are different characters, "
                 "so don't lower-case (or casefold) the text.",
        "casefold": "keep each character as it is: 'T' and 't' are different characters, "
                    "so don't lower-case (or casefold) the text.",
        "no whitespace": "spaces and line breaks are characters too: count them as well.",
        "no spaces": "spaces and line breaks are characters too: count them as well.",
        "presence": "count every occurrence, not just whether a character occurs: add 1 each time you meet it.",
        "from 0": "each count is one short: the first occurrence counts too, so a new character starts at 1 "
                  "(counts[ch] = counts.get(ch, 0) + 1), not at 0.",
        "from 2": "each count is one too many: a new character starts at 1, not 2 "
                  "(counts[ch] = counts.get(ch, 0) + 1).",
        "not the last": "the last character is missing: iterate over the whole text (for ch in text), "
                        "not text[:-1] or range(len(text) - 1).",
        "not the first": "the first character is missing: iterate over the whole text (for ch in text), "
                         "not text[1:] or a range starting at 1.",
    }

    def as_counts(got: Any) -> dict[str, int | None] | None:
        return {key: _whole(n) for key, n in got.items()} if isinstance(got, Mapping) else None

    for text in texts:
        got = call(ex, char_counts, text)
        expected = dict(Counter(text))
        if not isinstance(got, Mapping):
            pairs = isinstance(got, (list, tuple)) and len(got) > 0 and all(
                isinstance(p, tuple) and len(p) == 2 for p in got)
            fail(ex, f"char_counts({text!r}) should return a mapping from character to count (a dict or Counter)",
                 _counts_shown(expected), got,
                 "most_common() gives a list of (character, count) pairs: return the Counter (or dict) itself, "
                 "which maps each character to its count." if pairs else
                 "build a dict (or collections.Counter) whose keys are the characters and whose values their counts.")
        for key in got:
            if not (isinstance(key, str) and len(key) == 1):
                hint = ("count the characters of the string, not the bytes of text.encode(): iterate over text itself."
                        if _whole(key) is not None else
                        f"each key is one character; {key!r} is several: iterate over the string itself "
                        "(for ch in text), without splitting it into words." if isinstance(key, str) else
                        "each key is one character of the text (a str of length 1).")
                fail(ex, f"char_counts({text!r}) has the key {key!r}, which is not one character",
                     Description("one-character keys"), key, hint)
            if _whole(got[key]) is None:
                value = got[key]
                fail(ex, f"char_counts({text!r}): the count of {key!r} is {value!r}, a {type(value).__name__}",
                     Description("whole numbers (int)"), value,
                     "a count is how many times a character occurs: add 1 per occurrence, as an int "
                     "(not a float, a string or a bool).")
        got_dict = as_counts(got)
        if got_dict == expected:
            continue
        others = ((other,) for other in texts if other != text)
        mistake = _match_mistake(got, (text,), char_counts, others, mistakes,
                                 lambda got, theirs: as_counts(got) == theirs)
        if mistake in forms:
            lost = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in expected if got_dict.get(ch, 0) < expected[ch])
            hint = (f"count the characters as they are, without normalising: unicodedata.normalize({mistake!r}, ...) "
                    f"replaced {lost} by other characters.")
        else:
            hint = hints.get(mistake or "", "count every character of the text as it is, each occurrence once: "
                                            "for ch in text: counts[ch] = counts.get(ch, 0) + 1.")
        fail(ex, f"char_counts({text!r})", _counts_shown(expected), _counts_shown(got_dict), hint)
    passed(ex, "every character is counted, spaces and line breaks too")


def _counts_shown(counts: dict[str, Any]) -> Any:
    """``counts`` as a failure message shows them: as they are if every key is ASCII; otherwise with each
    non-ASCII key followed by its code point, so that look-alikes ('a' and Cyrillic 'а' (U+0430)) and
    combining marks can be told apart."""
    if all(key.isascii() for key in counts):
        return counts
    return Description("{" + ", ".join(f"{key!r}{'' if key.isascii() else f' (U+{ord(key):04X})'}: {n!r}"
                                       for key, n in counts.items()) + "}")


@checker
def ch00_reproducible(draw: Callable[[int], Any]) -> None:
    """Exercise 00.3: ``draw(seed)`` returns 5 random integers in [0, 10) that depend only on ``seed``.

    Right: a private generator of torch (``torch.Generator().manual_seed(seed)``), numpy
    (``np.random.default_rng(seed)``) or Python (``random.Random(seed)``); the numbers as a tensor, array,
    list or tuple of integers. Wrong: touching any global generator (seeding or drawing from it), numbers
    outside 0..9, a range that never reaches 9 (over 200 seeds, every number 0..9 must come up), or numbers
    that are not random: five equal, or evenly spaced, for most of the 200 seeds.
    """
    import numpy as np
    import torch

    ex = "00.3 (draw)"

    def numbers(seed: int, got: Any) -> list[int]:
        values = _numbers(got, whole=True)
        if values is None:
            if _numbers(got) is not None:
                fail(ex, f"draw({seed}) should return integers",
                     Description("integers, e.g. a tensor of dtype torch.int64"),
                     got, "draw integers (torch.randint, rng.integers or random.randrange), not floats (rand).")
            fail(ex, f"draw({seed}) should return 5 integers", Description("a tensor, array or list of 5 integers"),
                 got,
                 "return the numbers, e.g. torch.randint(0, 10, (5,), generator=g).")
        if values.shape != (5,):
            fail(ex, f"draw({seed}) should return 5 numbers", Description("shape (5,)"),
                 Description(f"shape {values.shape}"),
                 "draw 5 integers in one flat sequence, e.g. torch.randint(0, 10, (5,), generator=g).")
        return values.tolist()

    # Put every global generator in a known state, then in another: a right draw neither changes nor reads them.
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    before = _rng_states()
    first = call(ex, draw, 7)
    touched = _touched(before, _rng_states())
    a = numbers(7, first)  # the type and shape first: a float answer is told so
    hints = {
        "torch": ("seed a private generator, g = torch.Generator().manual_seed(seed), and draw with generator=g: "
                  "torch.manual_seed(seed), or drawing without generator=, changes the generator every other "
                  "cell uses."),
        "numpy": ("use a private generator, rng = np.random.default_rng(seed), and rng.integers(0, 10, 5): "
                  "np.random.seed(seed), or np.random.randint, changes the generator every other cell uses."),
        "random": ("use a private generator, rng = random.Random(seed), and rng.randrange(10): "
                   "random.seed(seed), or random.randint, changes the generator every other cell uses."),
    }
    if touched:
        fail(ex, f"draw(7) changed {'Python' if touched == 'random' else touched}'s global generator",
             Description("the global generator left as it was"),
             Description("a re-seeded or advanced global generator"), hints[touched])
    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    b = numbers(7, call(ex, draw, 7))
    if a != b:
        fail(ex, "draw(7) gave different numbers on a second call", a, b,
             "seed a private generator with `seed` inside draw, e.g. g = torch.Generator().manual_seed(seed).")
    if numbers(8, call(ex, draw, 8)) == a:
        fail(ex, "draw(7) and draw(8) gave the same numbers", Description("different numbers for a different seed"), a,
             "seed the generator with the argument `seed`, not a constant.")
    seen: set[int] = set()
    draws = [numbers(seed, call(ex, draw, seed)) for seed in range(200)]
    for values in draws:
        seen.update(values)
    python = isinstance(first, (list, tuple))
    outside = sorted(v for v in seen if not 0 <= v <= 9)
    if outside:
        fail(ex, "the numbers should lie in [0, 10)", Description("integers 0..9"), outside,
             "Python's random.randint(a, b) includes b: random.randint(0, 10) can give 10; "
             "use random.randint(0, 9) or random.randrange(10)." if python and outside == [10] else
             "draw from 0 to 9: torch.randint(0, 10, ...) and rng.integers(0, 10, ...) exclude their high end, 10.")
    missing = [v for v in range(10) if v not in seen]
    if missing:
        if 9 in missing:
            hint = ("torch.randint's high end is exclusive: torch.randint(0, 10, (5,), generator=g) gives 0..9, "
                    "torch.randint(0, 9, ...) never gives 9." if isinstance(first, torch.Tensor) else
                    "numpy's integers (and randint) exclude the high end: rng.integers(0, 10, 5) gives 0..9, "
                    "rng.integers(0, 9, 5) never gives 9." if isinstance(first, np.ndarray) else
                    "random.randrange excludes its high end, as torch.randint and numpy's integers do: randrange(10) "
                    "gives 0..9; random.randint(a, b) is the one that includes b: randint(0, 9) gives 0..9 too.")
        elif 0 in missing:
            hint = "the numbers start at 0: draw from 0 to 9, e.g. torch.randint(0, 10, (5,), generator=g)."
        else:
            hint = "draw every integer from 0 to 9 with equal chance, e.g. torch.randint(0, 10, (5,), generator=g)."
        fail(ex, f"over 200 seeds (1,000 numbers) draw never gave {missing}", Description("every integer 0..9"),
             sorted(seen), hint)
    # Five independent draws are all equal, or evenly spaced (mod 10), for about 1 seed in 1,000 (1 in 10,000
    # for equal): for half of the 200 seeds it means the five numbers are not five random draws.
    equal = [seed for seed, values in enumerate(draws) if len(set(values)) == 1]
    spaced = [seed for seed, values in enumerate(draws)
              if len({(y - x) % 10 for x, y in zip(values, values[1:])}) == 1]
    if len(equal) >= 100:
        fail(ex, f"for {len(equal)} of 200 seeds the five numbers are all the same",
             Description("five independent draws, e.g. [5, 2, 1, 6, 3]"),
             Description(f"draw({equal[0]}) = {draws[equal[0]]}"),
             "draw five numbers, e.g. torch.randint(0, 10, (5,), generator=g), not one number repeated ([v] * 5).")
    if len(spaced) >= 100:
        fail(ex, f"for {len(spaced)} of 200 seeds the five numbers are evenly spaced",
             Description("five independent draws, e.g. [5, 2, 1, 6, 3]"),
             Description(f"draw({spaced[0]}) = {draws[spaced[0]]}"),
             "these numbers follow from the seed by arithmetic (such as (seed + i) % 10), they are not random: "
             "draw them from a private generator seeded with `seed`, e.g. "
             "torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(seed)).")
    passed(ex, "the same seed gives the same draw, whatever else used the global generator")

