"""lmcourse.checks: every checker accepts a right answer and rejects the typical wrong ones."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from lmcourse import checks

# A right answer to exercise 01.2 is the package's own merge step: one copy, not a second one here
# (tests/test_tokenize.py checks it against an independent reference). The checker must accept it.
from lmcourse.tokenize import _merge as merge


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
        (lambda c: [x / sum(c) for x in c] if sum(c) else None, "zero counts"),  # returns None
        (lambda c: [x / sum(c) for x in c] if sum(c) else [], "zero counts"),  # returns nothing
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
    with pytest.raises(checks.CheckFailed, match="changed torch's global generator"):
        checks.ch00_reproducible(lambda s: torch.randint(0, 10, (5,)))  # global generator

    def reseeds_global(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)  # reproducible, but clobbers everyone else's random numbers
        return torch.randint(0, 10, (5,))

    with pytest.raises(checks.CheckFailed, match="changed torch's global generator"):
        checks.ch00_reproducible(reseeds_global)
    with pytest.raises(checks.CheckFailed, match="should return integers"):
        checks.ch00_reproducible(lambda s: torch.rand(5, generator=torch.Generator().manual_seed(s)) * 9)
    with pytest.raises(checks.CheckFailed, match="draw\\(7\\) and draw\\(8\\) gave the same"):
        checks.ch00_reproducible(lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(0)))
    with pytest.raises(checks.CheckFailed, match="should return 5 numbers"):
        checks.ch00_reproducible(lambda s: torch.randint(0, 10, (6,), generator=torch.Generator().manual_seed(s)))
    with pytest.raises(checks.CheckFailed, match=r"lie in \[0, 10\)"):
        checks.ch00_reproducible(lambda s: torch.randint(10, 20, (5,), generator=torch.Generator().manual_seed(s)))


# --- chapter 01 ---------------------------------------------------------------------------


def build_vocab(words: list[str], min_count: int) -> list[str]:
    counts = Counter(words)
    return sorted((w for w in counts if counts[w] >= min_count), key=lambda w: (-counts[w], w))


def zipf_slope(counts: list[int]) -> float:
    import numpy as np

    c = np.sort(np.asarray(counts, dtype=float))[::-1]
    return float(np.polyfit(np.log(np.arange(1, len(c) + 1)), np.log(c), 1)[0])


def test_ch01_right_answers_pass(capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch01_vocab_cutoff(build_vocab)
    checks.ch01_merge(merge)
    checks.ch01_zipf_slope(zipf_slope)
    checks.ch01_oov_rate(lambda train, test: sum(w not in set(train) for w in test) / len(test))
    assert capsys.readouterr().out.count("✓ exercise 01.") == 4


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda w, m: [x for x, c in Counter(w).items() if c > m], "compare with >=, not >"),  # off by one
        (lambda w, m: [x for x, c in Counter(w).items() if c >= m], "wrong order"),  # unsorted
        (lambda w, m: sorted({x for x, c in Counter(w).items() if c >= m}), "wrong order"),  # alphabetical only
        (lambda w, m: sorted(Counter(w), key=lambda x: (-Counter(w)[x], x)), "keeps the wrong words"),  # no cut-off
        (lambda w, m: sorted((x for x in w if Counter(w)[x] >= m), key=lambda x: (-Counter(w)[x], x)), "twice"),
        (lambda w, m: sorted((x for x, c in Counter(w).items() if c >= m), key=lambda x: (-Counter(w)[x], x.lower())),
         "capitals sort before lower case"),  # case-insensitive ties
        (lambda w, m: {x: c for x, c in Counter(w).items() if c >= m}, "should return a list"),  # a dict
    ],
)
def test_ch01_vocab_cutoff_rejects(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_vocab_cutoff(wrong)  # type: ignore[arg-type]


def merge_overlapping(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)  # forgets to skip the pair's second element
        elif not (i > 0 and (ids[i - 1], ids[i]) == pair):
            out.append(ids[i])
    return out


def merge_missing_last(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids) - 1:  # never looks at the last element on its own
        if (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_by_string(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    text = " ".join(map(str, ids)).replace(f"{pair[0]} {pair[1]}", str(new_id))
    return [int(t) for t in text.split()]


def merge_right_to_left(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    return merge(ids[::-1], (pair[1], pair[0]), new_id)[::-1]


def merge_in_place(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    i = 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            ids[i : i + 2] = [new_id]
        i += 1
    return ids


@pytest.mark.parametrize(
    "wrong,why",
    [
        (merge_overlapping, "occurrences do not overlap"),
        (merge_missing_last, "check the last position"),
        (lambda ids, pair, new: merge(ids, tuple(sorted(pair)), new), "a pair is ordered"),  # type: ignore[arg-type]
        (merge_by_string, "no str or bytes tricks"),
        (merge_right_to_left, "scan left to right"),
        (merge_in_place, "changed the list it was given"),
    ],
)
def test_ch01_merge_rejects(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_merge(wrong)  # type: ignore[arg-type]


def test_ch01_zipf_slope_rejects() -> None:
    import numpy as np

    unsorted = lambda c: float(np.polyfit(np.log(np.arange(1, len(c) + 1)), np.log(c), 1)[0])  # noqa: E731
    with pytest.raises(checks.CheckFailed, match="most frequent down"):
        checks.ch01_zipf_slope(unsorted)
    from_zero = lambda c: float(np.polyfit(np.log(np.arange(1, len(c) + 1) + 1), np.log(sorted(c)[::-1]), 1)[0])  # noqa: E731
    with pytest.raises(checks.CheckFailed, match="ranks start at 1"):
        checks.ch01_zipf_slope(from_zero)  # ranks 2, 3, ... (an index shifted by one)
    ranks_from_zero = lambda c: float(np.polyfit(np.log(np.arange(len(c))), np.log(sorted(c)[::-1]), 1)[0])  # noqa: E731
    with pytest.raises(checks.CheckFailed, match="log\\(0\\) is -inf"), np.errstate(all="ignore"):
        checks.ch01_zipf_slope(ranks_from_zero)
    with pytest.raises(checks.CheckFailed, match="not the exponent s"):
        checks.ch01_zipf_slope(lambda c: -zipf_slope(c))
    with pytest.raises(checks.CheckFailed, match="should be one number"):
        checks.ch01_zipf_slope(lambda c: np.polyfit(np.log(np.arange(1, len(c) + 1)), np.log(sorted(c)[::-1]), 1))


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda train, test: len(set(test) - set(train)) / len(set(test)), "count test tokens"),  # types, not tokens
        (lambda train, test: sum(w not in set(train) for w in test) / len(train), r"oov_rate\("),  # wrong denominator
        (lambda train, test: sum(w in set(train) for w in test) / len(test), "in-vocabulary rate"),
        (lambda train, test: 100 * sum(w not in set(train) for w in test) / len(test), "not a percentage"),
        (lambda train, test: sum(w not in set(test) for w in train) / len(train), "the first argument is the training"),
    ],
)
def test_ch01_oov_rate_rejects(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_oov_rate(wrong)  # type: ignore[arg-type]


# --- the framework: type checks, random streams, what a learner sees -----------------------------


def test_counts_must_be_whole_numbers_not_floats_or_strings() -> None:
    with pytest.raises(checks.CheckFailed, match="a float"):
        checks.ch00_char_counts(lambda t: {c: n + 0.99 for c, n in Counter(t).items()})
    with pytest.raises(checks.CheckFailed, match="a str"):
        checks.ch00_char_counts(lambda t: {c: str(n) for c, n in Counter(t).items()})
    import numpy as np

    checks.ch00_char_counts(lambda t: {c: np.int64(n) for c, n in Counter(t).items()})  # numpy ints are whole


def test_a_number_as_a_string_is_not_a_number() -> None:
    with pytest.raises(checks.CheckFailed, match="one number .* not str"):
        checks.ch01_oov_rate(lambda train, test: str(sum(w not in set(train) for w in test) / len(test)))
    checks.ch01_oov_rate(lambda train, test: torch.tensor(sum(w not in set(train) for w in test) / len(test)))


def draws() -> tuple[float, float, float]:
    import random

    import numpy as np

    return random.random(), float(np.random.rand()), float(torch.rand(()))


def seeded_draws_after(run: object) -> tuple[float, float, float]:
    """Seed every generator, run ``run`` (swallowing what it raises), then draw from each."""
    import random

    import numpy as np

    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    try:
        run()  # type: ignore[operator]
    except (checks.CheckFailed, NotImplementedError):
        pass
    return draws()


def consumes_randomness(*args: object) -> object:
    """A wrong answer that uses (and re-seeds) every global generator before it fails the check."""
    import random

    import numpy as np

    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    draws()
    return None


RIGHT = {
    "ch00_normalise": lambda c: [x / sum(c) for x in c] if sum(c) else 1 / 0,
    "ch00_char_counts": Counter,
    "ch00_reproducible": lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(s)),
    "ch01_vocab_cutoff": build_vocab,
    "ch01_merge": merge,
    "ch01_zipf_slope": zipf_slope,
    "ch01_oov_rate": lambda train, test: sum(w not in set(train) for w in test) / len(test),
}


def all_checkers() -> list[str]:
    return sorted(name for name in vars(checks) if name.startswith("ch") and name[2:4].isdigit())


def test_every_checker_has_a_right_answer_here() -> None:
    assert all_checkers() == sorted(RIGHT), "add the new checker's right answer to RIGHT"


@pytest.mark.parametrize("name", all_checkers())
def test_a_checker_never_changes_the_learners_random_streams(name: str) -> None:
    check = getattr(checks, name)
    assert getattr(check, "forks_rng", False), f"{name} is not decorated with @checker"
    untouched = seeded_draws_after(lambda: None)
    assert seeded_draws_after(lambda: check(RIGHT[name])) == untouched  # passed
    assert seeded_draws_after(lambda: check(consumes_randomness)) == untouched  # failed
    assert seeded_draws_after(lambda: check(stub)) == untouched  # still the stub: raised


def test_a_failed_check_shows_the_message_not_the_checkers_source() -> None:
    with pytest.raises(checks.CheckFailed) as err:
        checks.ch00_normalise(lambda c: list(c))
    shown = "\n".join(err.value._render_traceback_())
    assert shown.startswith("CheckFailed: exercise 00.1 (normalise)") and "hint:" in shown
    assert "checks.py" not in shown and "sum(counts)" not in shown

    def crashes(counts: list[int]) -> list[float]:
        return [c / undefined_total for c in counts]  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(checks.CheckFailed) as err:
        checks.ch00_normalise(crashes)
    shown = "\n".join(err.value._render_traceback_())
    assert "undefined_total" in shown and "NameError" in shown  # the learner's own line and error
    assert "lmcourse" not in shown.replace("lmcourse.checks", "")  # no frame of the package

    with pytest.raises(checks.ExerciseNotDone) as stub_err:
        checks.ch00_normalise(stub)
    assert stub_err.value._render_traceback_() == [f"ExerciseNotDone: {stub_err.value}"]
