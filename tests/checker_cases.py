"""What every chapter's checker tests share: a stub that is still the stub, and one expectation per answer."""

from __future__ import annotations

from typing import Any

import pytest

from lmcourse import checks


def stub(*args: object) -> None:
    """An exercise's function before the learner writes it."""
    raise NotImplementedError


def expect(check: Any, answer: Any, why: str | None) -> None:
    """``why`` None: ``answer`` is right (a control) and ``check`` accepts it; else ``check`` fails on it with a
    message matching the regular expression ``why``."""
    if why is None:
        check(answer)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        check(answer)
