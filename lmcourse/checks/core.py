"""The core of the exercise checkers: the framework every chapter's checkers share.

- :func:`checker` makes a function a checker: it runs in :func:`forked_rng` (a check cell never
  changes the learner's random numbers) and its frames are hidden from the traceback;
- :class:`CheckFailed` is a wrong answer, shown as its message alone: what was checked, expected,
  got, and a hint naming the mistake; :class:`ExerciseNotDone` is a stub still in place;
- :func:`call` runs the learner's function, :func:`fail`, :func:`expect_equal`,
  :func:`expect_close` and :func:`number` compare and report, :func:`passed` prints the ✓ line;
- :class:`Description` marks an expected or got value that describes ("a ValueError") rather than is;
- the helpers below them read numbers out of whatever container a learner returns, say what it is
  (:func:`_kind`), and find the typical mistake an answer makes (:func:`_match_mistake`, :func:`_rounded`).
"""

from __future__ import annotations

import functools
import random
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_PACKAGE = str(Path(__file__).resolve().parent.parent)  # the whole lmcourse package


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


class Description(str):
    """Text that describes an expected or got value ("a ValueError", "shape (5,)") rather than being one:
    :func:`fail` shows it as it is, without the quotes that would make it look like a string the learner
    should return. Real values, strings included, are shown by their ``repr``."""

    def __repr__(self) -> str:
        return str.__str__(self)


def _show(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(exercise: str, what: str, expected: Any, got: Any, hint: str) -> NoReturn:
    """Raise :class:`CheckFailed` with the four parts a learner needs. ``expected`` and ``got`` are shown by
    their ``repr``; wrap a description of a value (not the value itself) in :class:`Description`."""
    raise CheckFailed(
        f"exercise {exercise}: {what}\n  expected: {_show(expected)}\n  got:      {_show(got)}\n  hint:     {hint}"
    )


def passed(exercise: str, what: str) -> None:
    """Print the one line that says an exercise is solved."""
    print(f"✓ exercise {exercise} passed: {what}")


def call(exercise: str, fn: Callable[..., Any], *args: Any,
         hint: str | Callable[[Exception], str] = "call your function on this input yourself and read the traceback "
                                                  "above.") -> Any:
    """Call the learner's ``fn`` on ``args``.

    A stub gets a plain "still the stub" message; any other exception becomes a
    :class:`CheckFailed` that names the input and keeps the original traceback
    (chained above it), with ``hint`` for the likely cause: a text, or a function of the
    exception that gives one (when the likely cause depends on what was raised).
    """
    name = getattr(fn, "__name__", "your function")
    if not callable(fn):
        fail(exercise, "the answer should be a function", Description("a callable, e.g. the function you defined"), fn,
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
                          f"  hint:     {hint if isinstance(hint, str) else hint(err)}") from err


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
        fail(exercise, f"{what}: wrong shape", Description(f"shape {e.shape}"), Description(f"shape {g.shape}"), hint)
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=False):
        fail(exercise, what, np.round(e, 6).tolist(), np.round(g, 6).tolist(), hint)


def number(exercise: str, what: str, got: Any, expected: Any, hint: str) -> float:
    """``got`` as a float if it is one real number (Python, numpy or a one-element torch tensor);
    otherwise fail. A string such as ``"0.6"`` or a bool is not a number: it is rejected, not converted."""
    value = _real(got)
    if value is None:
        fail(exercise, f"{what} should be one number (int or float), not {type(got).__name__}",
             expected, got, hint)
    return value


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
    """``value`` as a float if it is one real number (Python, numpy, a 0-d or one-element array or
    tensor); otherwise None. A string such as ``"0.6"`` or a bool is not a number: it is not converted."""
    import numbers

    import numpy as np

    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        if value.shape not in ((), (1,)) or value.dtype.kind not in "iuf":
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


def _kind(value: Any) -> str:
    """What ``value`` is, in a few words a hint can use: "a torch.float32 tensor", "a numpy float16 array",
    "a list of str", "a list of float and int"."""
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "dtype"):
        return f"a {value.dtype} tensor"
    if isinstance(value, np.ndarray):
        return f"a numpy {value.dtype} array"
    if isinstance(value, (list, tuple)):
        kinds = " and ".join(dict.fromkeys(type(v).__name__ for v in value)) or "nothing"
        return f"a {type(value).__name__} of {kinds}"
    return f"a {type(value).__name__}"


def _rounded(value: Any, expected: Any) -> int | None:
    """The number of decimals (0-6) that ``value`` (a number or array) was rounded to, if it is ``expected``
    rounded that way (by any rounding rule: half up, half to even, of a float32...); otherwise None."""
    import numpy as np

    v, e = np.asarray(value, dtype=float), np.asarray(expected, dtype=float)
    if v.shape != e.shape or np.allclose(v, e, rtol=1e-5, atol=1e-9):
        return None
    for decimals in range(7):
        step = 10.0 ** -decimals
        if (np.allclose(v / step, np.round(v / step), rtol=0, atol=1e-6)
                and np.all(np.abs(v - e) <= step / 2 * (1 + 1e-6) + 1e-12)):
            return decimals
    return None


def _match_mistake(got: Any, args: tuple[Any, ...], fn: Callable[..., Any], others: Iterable[tuple[Any, ...]],
                   mistakes: dict[str, Callable[..., Any]], same: Callable[[Any, Any], bool],
                   confirm: bool = False) -> str | None:
    """The key of the typical mistake the learner's ``fn`` makes: the first in ``mistakes`` (each a function
    of the inputs giving that mistake's result) whose result on ``args`` is ``got``, by ``same(got, theirs)``.

    Where several mistakes give ``got`` on these inputs (say dividing by len(counts) and by sum(counts) - 1
    on [2, 1, 1]), ``fn`` is run on the ``others`` (silently: what it raises or warns is ignored) and only
    the mistakes that agree with it there too are kept. The hint then names the mistake made, not the one
    that happens to look the same on one input.

    With ``confirm``, a mistake is named only if ``fn`` agrees with it on every one of the ``others`` where
    both give a result, and there is at least one such: one match alone is not enough where an answer wrong in
    some other way can land on a mistake's value by chance (a loose tolerance, a probability that is a simple
    fraction). A mistake that shows on one input only agrees with ``fn`` trivially elsewhere (both are right
    there), so it is still named. Without a confirmation the result is None: the checker's generic hint.
    """
    import warnings

    import numpy as np

    def agrees(key: str, result: Any, inputs: tuple[Any, ...]) -> bool:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return bool(same(result, mistakes[key](*inputs)))
        except Exception:  # noqa: BLE001 - a mistake (or a comparison) that cannot be made here does not match
            return False

    def computes(key: str, inputs: tuple[Any, ...]) -> bool:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                mistakes[key](*inputs)
            return True
        except Exception:  # noqa: BLE001 - a mistake undefined on these inputs neither confirms nor refutes
            return False

    hits = [key for key in mistakes if agrees(key, got, args)]
    confirmed: set[str] = set()
    for other in others:
        if len(hits) < (1 if confirm else 2):
            break
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                theirs = fn(*other)
        except Exception:  # noqa: BLE001 - the learner's code failing elsewhere tells nothing here
            continue
        if confirm:
            tried = [key for key in hits if computes(key, other)]
            hits = [key for key in hits if key not in tried or agrees(key, theirs, other)]
            confirmed |= {key for key in tried if key in hits}
        else:
            hits = [key for key in hits if agrees(key, theirs, other)] or hits
    if confirm:
        hits = [key for key in hits if key in confirmed]
    return hits[0] if hits else None


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


def _copy(value: Any) -> Any:
    """A copy of a list (of lists), numpy array or torch tensor, to see afterwards whether the learner changed it."""
    import copy

    return value.clone() if hasattr(value, "clone") else copy.deepcopy(value)


def _changed_hint(names: list[str], example: str,
                  writes: str = "x[...] = ..., x /= ..., .sort() or any torch method ending in _ writes into the "
                                "caller's.") -> str:
    """The hint for an answer that wrote into its inputs (a checker compares each input with a copy it kept):
    ``names`` are the inputs that changed, ``example`` an expression of the exercise's that makes a new value instead,
    ``writes`` the ways of writing in place that the exercise's answers fall into, as a sentence."""
    return f"read the inputs; don't modify them ({', '.join(names)} changed): make new ones, e.g. {example}. {writes}"


def _unchanged(given: Any, original: Any) -> bool:
    import numpy as np

    a, b = np.asarray(_to_numpy(given)), np.asarray(_to_numpy(original))
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))


def _f64(value: Any) -> Any:
    """A numpy float64 copy of an array, tensor or list of lists (the references and mistakes compute in float64)."""
    import numpy as np

    return np.array(_to_numpy(value), dtype=np.float64)


def _floats(value: Any) -> Any:
    """``value`` as a float64 numpy array if it is an array or tensor of numbers, or a (nested) list or tuple of
    numbers, arrays or tensors, all of one shape; otherwise None. Text and bools are not numbers: not converted."""
    import numpy as np

    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind in "iuf" else None
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            nested = hasattr(item, "detach") or isinstance(item, (np.ndarray, list, tuple))
            items.append(_floats(item) if nested else _real(item))
            if items[-1] is None:
                return None
        shapes = {np.shape(item) for item in items}
        if len(shapes) > 1:
            return None
        return np.array(items, dtype=np.float64).reshape(len(items), *(shapes.pop() if shapes else ()))
    return None


def _close(rtol: float, atol: float) -> Callable[[Any, Any], bool]:
    """A ``same`` for :func:`_match_mistake`: ``got`` is an array of numbers close to ``theirs``, of its shape (nan
    where ``theirs`` has nan, infinities where it has them); or, where ``theirs`` is a tuple, a tuple or list of as
    many such arrays (an LSTM's (h, c), attention's (weights, out))."""
    import numpy as np

    def one(got: Any, theirs: Any) -> bool:
        values = _floats(got)
        return values is not None and values.shape == np.shape(theirs) and bool(
            np.allclose(values, theirs, rtol=rtol, atol=atol, equal_nan=True))

    def same(got: Any, theirs: Any) -> bool:
        if isinstance(theirs, tuple):
            return isinstance(got, (tuple, list)) and len(got) == len(theirs) and all(map(one, got, theirs))
        return one(got, theirs)

    return same
