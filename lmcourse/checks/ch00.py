"""Checkers of chapter 00 (set-up): exercises 00.1-00.3."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    _first_match,
    _numbers,
    _whole,
    call,
    checker,
    expect_close,
    expect_equal,
    fail,
    passed,
)


@checker
def ch00_normalise(normalise: Callable[[list[float]], Any]) -> None:
    """Exercise 00.1: turn counts into probabilities, ``normalise([2, 1, 1]) -> [0.5, 0.25, 0.25]``.

    Any list, tuple, numpy array or torch tensor of numbers is accepted, float32 as well as float64
    (compared at a relative tolerance of 1e-5). A total of 0 must raise ValueError (ZeroDivisionError
    is accepted too); a result of nan, with or without numpy's warning, is reported as no error raised.
    """
    import warnings

    import numpy as np

    ex = "00.1 (normalise)"
    for counts in ([2, 1, 1], [5, 0, 3, 2], [7], [120, 3, 0, 41, 9, 1, 0, 26]):
        got = call(ex, normalise, list(counts))
        c = np.array(counts, dtype=float)
        expected = c / c.sum()
        values = _numbers(got)
        if values is None:
            fail(ex, f"normalise({counts}) should return a list or array of numbers",
                 [round(p, 6) for p in expected.tolist()], got,
                 "return one probability per count, in the same order: a list (or a numpy array or torch tensor) "
                 "of numbers" + (", not a generator: wrap it in list(...)." if hasattr(got, "__next__") else "."))
        if values.shape != expected.shape:
            fail(ex, f"normalise({counts}) should give one probability per count", f"shape {expected.shape}",
                 f"shape {values.shape}", "return one probability per count, in the same order, as a flat list.")
        if np.allclose(values, expected, rtol=1e-5, atol=1e-7):
            continue
        mistake = _first_match(values, {
            "you divided by the largest count: divide each count by the total of all counts, sum(counts).":
                c / c.max(),
            "you divided by how many counts there are: divide by their total, sum(counts), not len(counts).":
                c / len(c),
            "the counts came back unchanged: divide each count by the total of all counts.": c,
            "probabilities sum to 1, not 100: don't multiply by 100.": 100 * expected,
            "integer division (//) rounds each probability down to 0: divide with /.": c // c.sum(),
        })
        total = float(values.sum())
        if not math.isclose(total, 1.0, rel_tol=1e-5, abs_tol=1e-6):
            fail(ex, f"normalise({counts}) does not sum to 1", 1.0, total, mistake or
                 "divide each count by the total of all counts (not by the largest, nor by how many there are).")
        if np.allclose(np.sort(values), np.sort(expected), rtol=1e-5, atol=1e-7):
            mistake = "these are the right probabilities in another order: keep the order of the counts (don't sort)."
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
        fail(ex, f"normalise([0, 0]) raised {type(err).__name__}", "a ValueError", f"{type(err).__name__}: {err}",
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
         "a ValueError (or ZeroDivisionError)", bad, hint)


@checker
def ch00_char_counts(char_counts: Callable[[str], Any]) -> None:
    """Exercise 00.2: count how often each character occurs, ``char_counts("abca") -> {"a": 2, "b": 1, "c": 1}``.

    The answer must be a mapping (a dict, Counter, defaultdict...) from each character, as it is in the
    text, to an int count. The inputs include capitals, a ligature "ﬁ", a full-width "５" and an "e"
    followed by a combining accent, so lower-casing or Unicode normalisation shows.
    """
    import unicodedata
    from collections import Counter
    from collections.abc import Mapping

    ex = "00.2 (char_counts)"
    texts = ("abca", "to be, or not to be", "", "ааa\n\n", "To be, or NOT to be:\nthat is the Question.",
             "ﬁnd ５ ﬁsh in a cafe\u0301")
    for text in texts:
        got = call(ex, char_counts, text)
        expected = dict(Counter(text))
        if not isinstance(got, Mapping):
            pairs = isinstance(got, (list, tuple)) and len(got) > 0 and all(
                isinstance(p, tuple) and len(p) == 2 for p in got)
            fail(ex, f"char_counts({text!r}) should return a mapping from character to count (a dict or Counter)",
                 expected, got,
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
                fail(ex, f"char_counts({text!r}) has the key {key!r}, which is not one character", "one-character keys",
                     key, hint)
            if _whole(got[key]) is None:
                value = got[key]
                fail(ex, f"char_counts({text!r}): the count of {key!r} is {value!r}, a {type(value).__name__}",
                     "whole numbers (int)", value,
                     "a count is how many times a character occurs: add 1 per occurrence, as an int "
                     "(not a float, a string or a bool).")
        got_dict = {key: _whole(n) for key, n in got.items()}
        if got_dict == expected:
            continue
        forms = [f for f in ("NFKC", "NFC", "NFKD", "NFD") if unicodedata.normalize(f, text) != text]
        if got_dict in (dict(Counter(text.lower())), dict(Counter(text.casefold()))):
            hint = ("keep each character as it is: 'T' and 't' are different characters, "
                    "so don't lower-case (or casefold) the text.")
        elif any(got_dict == dict(Counter(unicodedata.normalize(f, text))) for f in forms):
            form = next(f for f in forms if got_dict == dict(Counter(unicodedata.normalize(f, text))))
            lost = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in expected if ch not in got_dict)
            hint = (f"count the characters as they are, without normalising: unicodedata.normalize({form!r}, ...) "
                    f"replaced {lost} by other characters.")
        elif got_dict == dict(Counter(ch for ch in text if not ch.isspace())) or got_dict == dict(
                Counter(text.replace(" ", ""))):
            hint = "spaces and line breaks are characters too: count them as well."
        elif set(got_dict) == set(expected) and set(got_dict.values()) == {1}:
            hint = "count every occurrence, not just whether a character occurs: add 1 each time you meet it."
        else:
            hint = "every character counts, spaces and line breaks included; each key is one character."
        expect_equal(ex, f"char_counts({text!r})", got_dict, expected, hint)
    passed(ex, "every character is counted, spaces and line breaks too")


def _rng_states() -> tuple[Any, Any, Any]:
    """The states of Python's, numpy's and torch's (CPU) global generators."""
    import numpy as np
    import torch

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _touched(before: tuple[Any, Any, Any], after: tuple[Any, Any, Any]) -> str | None:
    """Which global generator changed between two :func:`_rng_states`: "torch", "numpy", "random" or None."""
    import numpy as np
    import torch

    if not torch.equal(before[2], after[2]):
        return "torch"
    (name, keys, *rest), (name2, keys2, *rest2) = before[1], after[1]
    if name != name2 or not np.array_equal(keys, keys2) or rest != rest2:
        return "numpy"
    if before[0] != after[0]:
        return "random"
    return None


@checker
def ch00_reproducible(draw: Callable[[int], Any]) -> None:
    """Exercise 00.3: ``draw(seed)`` returns 5 random integers in [0, 10) that depend only on ``seed``.

    Right: a private generator of torch (``torch.Generator().manual_seed(seed)``), numpy
    (``np.random.default_rng(seed)``) or Python (``random.Random(seed)``); the numbers as a tensor, array,
    list or tuple of integers. Wrong: touching any global generator (seeding or drawing from it), numbers
    outside 0..9, or a range that never reaches 9 (over 200 seeds, every number 0..9 must come up).
    """
    import numpy as np
    import torch

    ex = "00.3 (draw)"

    def numbers(seed: int, got: Any) -> list[int]:
        values = _numbers(got, whole=True)
        if values is None:
            if _numbers(got) is not None:
                fail(ex, f"draw({seed}) should return integers", "integers, e.g. a tensor of dtype torch.int64",
                     got, "draw integers (torch.randint, rng.integers or random.randrange), not floats (rand).")
            fail(ex, f"draw({seed}) should return 5 integers", "a tensor, array or list of 5 integers", got,
                 "return the numbers, e.g. torch.randint(0, 10, (5,), generator=g).")
        if values.shape != (5,):
            fail(ex, f"draw({seed}) should return 5 numbers", "shape (5,)", f"shape {values.shape}",
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
             "the global generator left as it was", "a re-seeded or advanced global generator", hints[touched])
    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    b = numbers(7, call(ex, draw, 7))
    if a != b:
        fail(ex, "draw(7) gave different numbers on a second call", a, b,
             "seed a private generator with `seed` inside draw, e.g. g = torch.Generator().manual_seed(seed).")
    if numbers(8, call(ex, draw, 8)) == a:
        fail(ex, "draw(7) and draw(8) gave the same numbers", "different numbers for a different seed", a,
             "seed the generator with the argument `seed`, not a constant.")
    seen: set[int] = set()
    for seed in range(200):
        seen.update(numbers(seed, call(ex, draw, seed)))
    python = isinstance(first, (list, tuple))
    outside = sorted(v for v in seen if not 0 <= v <= 9)
    if outside:
        fail(ex, "the numbers should lie in [0, 10)", "integers 0..9", outside,
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
        fail(ex, f"over 200 seeds (1,000 numbers) draw never gave {missing}", "every integer 0..9", sorted(seen), hint)
    passed(ex, "the same seed gives the same draw, whatever else used the global generator")

