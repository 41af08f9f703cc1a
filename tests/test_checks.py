"""lmcourse.checks: every checker accepts a right answer and rejects the typical wrong ones."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from lmcourse import checks


def stub(*args: object) -> None:
    raise NotImplementedError


def test_failure_message_has_what_expected_got_hint() -> None:
    with pytest.raises(checks.CheckFailed) as err:
        checks.expect_equal("9.9 (demo)", "the answer", 41, 42, "add one")
    assert str(err.value) == "exercise 9.9 (demo): the answer\n  expected: 42\n  got:      41\n  hint:     add one"


def test_expect_close_reports_shape_and_values() -> None:
    with pytest.raises(checks.CheckFailed, match=r"wrong shape\n  expected: 'shape \(2,\)'"):
        checks.expect_close("x", "probs", [0.5, 0.25, 0.25], [0.5, 0.5], "h")
    with pytest.raises(checks.CheckFailed, match="not a number"):
        checks.expect_close("x", "probs", ["a"], [0.5], "h")
    checks.expect_close("x", "probs", torch.tensor([0.5, 0.5]), [0.5, 0.5], "h")


def test_a_stub_is_reported_as_still_open() -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 00.1 \(normalise\): stub is still the stub"):
        checks.ch00_normalise(stub)


def test_normalise_accepts_the_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    def normalise(counts: list[float]) -> list[float]:
        total = sum(counts)
        if total == 0:
            raise ValueError("zero total")
        return [c / total for c in counts]

    checks.ch00_normalise(normalise)
    assert capsys.readouterr().out.startswith("✓ exercise 00.1")


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda c: [x / max(c) for x in c], "does not sum to 1"),  # divided by the largest count
        (lambda c: [x / len(c) for x in c], "does not sum to 1"),  # divided by how many counts
        (lambda c: list(c), "does not sum to 1"),  # not normalised at all
        (lambda c: sorted(x / sum(c) for x in c), r"normalise\(\[2, 1, 1\]\)\n"),  # order lost
        (lambda c: [x / (sum(c) or 1) for x in c], "zero counts"),  # silently returns zeros
        (lambda c: sum(c), "list or array"),  # a number, not a list
    ],
)
def test_normalise_rejects_typical_mistakes(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch00_normalise(wrong)  # type: ignore[arg-type]


def test_char_counts() -> None:
    checks.ch00_char_counts(Counter)
    with pytest.raises(checks.CheckFailed, match="char_counts"):
        checks.ch00_char_counts(lambda t: Counter(t.split()))  # words, not characters
    with pytest.raises(checks.CheckFailed, match="char_counts"):
        checks.ch00_char_counts(lambda t: Counter(t.replace(" ", "")))  # spaces forgotten
    with pytest.raises(checks.CheckFailed, match="char_counts"):
        checks.ch00_char_counts(lambda t: {c: 1 for c in t})  # presence, not counts


def test_reproducible_draw() -> None:
    checks.ch00_reproducible(lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(s)))
    with pytest.raises(checks.CheckFailed, match="different numbers on a second call"):
        checks.ch00_reproducible(lambda s: torch.randint(0, 10, (5,)))  # global generator
    with pytest.raises(checks.CheckFailed, match="draw\\(7\\) and draw\\(8\\) gave the same"):
        checks.ch00_reproducible(lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(0)))
    with pytest.raises(checks.CheckFailed, match="should return 5 numbers"):
        checks.ch00_reproducible(lambda s: torch.randint(0, 10, (6,), generator=torch.Generator().manual_seed(s)))
    with pytest.raises(checks.CheckFailed, match=r"lie in \[0, 10\)"):
        checks.ch00_reproducible(lambda s: torch.randint(10, 20, (5,), generator=torch.Generator().manual_seed(s)))
