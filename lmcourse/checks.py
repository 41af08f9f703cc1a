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


# --- Helpers for the checkers below ------------------------------------------------------


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is one whole number of an integer type (Python, numpy, a 0-d integer
    tensor); otherwise None. A float such as 3.0, a bool or a string is not a whole number here."""
    import numbers

    import numpy as np

    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        if value.shape != () or value.dtype.kind not in "iu":
            return None
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def _real(value: Any) -> float | None:
    """``value`` as a float if it is one real number (Python, numpy, a 0-d tensor); otherwise None."""
    import numbers

    import numpy as np

    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        if value.shape != () or value.dtype.kind not in "iuf":
            return None
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _numbers(value: Any, whole: bool = False) -> Any:
    """``value`` as a numpy array (float64, or int64 if ``whole``) if it is a list or tuple of numbers, a
    numpy array or a torch tensor of a numeric dtype (an integer one if ``whole``); otherwise None.
    Nothing is converted from text or bools: ``["0.5"]`` and ``[True]`` are not numbers."""
    import numpy as np

    value = _to_numpy(value)
    dtype = np.int64 if whole else np.float64
    if isinstance(value, np.ndarray):
        return value.astype(dtype) if value.dtype.kind in ("iu" if whole else "iuf") else None
    if isinstance(value, (list, tuple)):
        items = [(_whole if whole else _real)(v) for v in value]
        return None if any(v is None for v in items) else np.array(items, dtype=dtype).reshape(len(items))
    return None


def _first_match(got: Any, candidates: dict[str, Any], rtol: float = 1e-5, atol: float = 1e-7) -> str | None:
    """The first key of ``candidates`` whose value (the result of a typical mistake) ``got`` equals,
    within the tolerances; None if it matches none."""
    import numpy as np

    for hint, value in candidates.items():
        value = np.asarray(value, dtype=float)
        if np.shape(got) == value.shape and np.allclose(got, value, rtol=rtol, atol=atol):
            return hint
    return None


def _flush_c_streams() -> None:
    """Flush C's stdio buffers (LAPACK prints with C's printf, which buffers when output is not a terminal)."""
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to ask (e.g. Windows): nothing buffered to lose
        pass


@contextmanager
def _quiet_numerics() -> Iterator[None]:
    """Run a learner's numeric code without noise that the checker's hint explains better: numpy's
    floating-point warnings ("divide by zero encountered in log"), Python warnings, and LAPACK's messages
    ("On entry to DLASCL parameter number 4 had an illegal value", from a fit through log(0)), which C code
    writes to file descriptor 1 or 2 behind Python's back.

    A descriptor is pointed at the null device only while the block runs, and only if Python's own
    ``sys.stdout`` / ``sys.stderr`` does not write to it (in Jupyter and under pytest they don't; in a plain
    terminal they do, and the learner's prints matter more than LAPACK's noise).
    """
    import os
    import sys
    import warnings

    import numpy as np

    saved: dict[int, int] = {}
    _flush_c_streams()
    for fd, stream, original in ((1, sys.stdout, sys.__stdout__), (2, sys.stderr, sys.__stderr__)):
        if stream is original:
            continue
        try:
            stream.flush()
            copy = os.dup(fd)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
            saved[fd] = copy
        except (OSError, ValueError, AttributeError):  # no such descriptor (e.g. pythonw): nothing to silence
            continue
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        _flush_c_streams()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


# --- Chapter 00: set-up -------------------------------------------------------------


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

# --- Chapter 01: text as data -------------------------------------------------------


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
