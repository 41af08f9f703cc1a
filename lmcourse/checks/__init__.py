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

The framework lives in :mod:`lmcourse.checks.core`; each chapter's checkers in a
module of their own (``ch00``, ``ch01``, ...), named ``chNN_<what>`` and all
available from here, so a notebook writes ``checks.ch01_merge(merge)``.

The chapter modules are imported on first use, not here: a notebook then loads
only its own chapter's checkers, so the record of what its stored outputs depend
on (``tools/nbtools.py``) does not go stale when another chapter's checkers
change, and a new chapter needs no line in this file.
"""


import importlib
import re
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from lmcourse.checks.core import (
    CheckFailed,
    ExerciseNotDone,
    call,
    checker,
    expect_close,
    expect_equal,
    fail,
    forked_rng,
    number,
    passed,
)


def _find_checkers() -> dict[str, str]:
    """Each chapter checker's name -> its module, read (not imported) from the ``chNN.py`` files beside this one."""
    found = {}
    for path in sorted(Path(__file__).parent.glob("ch[0-9][0-9].py")):
        for name in re.findall(r"^def (ch[0-9]{2}_\w+)\(", path.read_text(encoding="utf-8"), flags=re.MULTILINE):
            found[name] = path.stem
    return found


_CHECKERS = _find_checkers()

__all__ = [
    "CheckFailed", "ExerciseNotDone", "call", "checker", "expect_close", "expect_equal", "fail", "forked_rng",
    "number", "passed", *_CHECKERS,
]


def __getattr__(name: str) -> Any:
    module = _CHECKERS.get(name)
    if module is None:
        close = get_close_matches(name, list(_CHECKERS), n=1)
        raise AttributeError(f"lmcourse.checks has no checker {name!r}"
                             + (f"; did you mean {close[0]!r}?" if close else "; the checkers are named chNN_<what>."))
    return getattr(importlib.import_module(f"lmcourse.checks.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_CHECKERS))
