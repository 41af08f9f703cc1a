"""lmcourse.checks: every checker accepts a right answer and rejects the typical wrong ones."""

from __future__ import annotations

import math
import random
import unicodedata
import warnings
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from test_checks_ch13 import KerasLike, block_to_gpt2, from_keras  # chapter 13's right answers, written there
from test_checks_ch13 import greedy as hf_greedy

from lmcourse import checks
from lmcourse import tokenize as tk
from lmcourse.checks import ch01 as ch01_checks

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
    with pytest.raises(checks.CheckFailed, match=r"wrong shape\n  expected: shape \(2,\)\n  got:      shape \(3,\)"):
        checks.expect_close("x", "probs", [0.5, 0.25, 0.25], [0.5, 0.5], "h")
    with pytest.raises(checks.CheckFailed, match="not a number"):
        checks.expect_close("x", "probs", ["a"], [0.5], "h")
    checks.expect_close("x", "probs", torch.tensor([0.5, 0.5]), [0.5, 0.5], "h")


def test_a_stub_is_reported_as_still_open() -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 00.1 \(normalise\): stub is still the stub"):
        checks.ch00_normalise(stub)


def normalise(counts: list[float]) -> list[float]:
    total = sum(counts)
    if total == 0:
        raise ValueError("zero total")
    return [c / total for c in counts]


def normalise_np(dtype: object) -> object:
    def normalise(counts: list[int]) -> np.ndarray:
        c = np.asarray(counts, dtype=dtype)
        if c.sum() == 0:
            raise ValueError("zero total")
        return c / c.sum()

    return normalise


def normalise_torch(dtype: torch.dtype) -> object:
    def normalise(counts: list[int]) -> torch.Tensor:
        c = torch.tensor(counts, dtype=dtype)
        if c.sum() == 0:
            raise ValueError("zero total")
        return c / c.sum()

    return normalise


def normalise_np_float32_no_zero_check(counts: list[int]) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float32)
    return c / c.sum()  # [0, 0] gives [nan, nan] and a RuntimeWarning


@pytest.mark.parametrize(
    "right",
    [
        normalise,
        lambda c: tuple(x / sum(c) for x in c) if sum(c) else 1 / 0,  # a tuple; ZeroDivisionError is fine
        normalise_np(np.float64),
        normalise_np(np.float32),
        normalise_torch(torch.float32),
        normalise_torch(torch.float64),
        lambda c: torch.tensor(c) / sum(c) if sum(c) else 1 / 0,  # int64 tensor / int: float32
        lambda c: [np.float32(x) / np.float32(sum(c)) for x in c] if sum(c) else 1 / 0,  # numpy scalars
    ],
)
def test_normalise_accepts_right_answers_in_python_numpy_torch(right: object,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch00_normalise(right)  # type: ignore[arg-type]
    assert capsys.readouterr().out.startswith("✓ exercise 00.1")


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda c: [x / max(c) for x in c], "does not sum to 1(.|\n)*divided by the largest count"),
        (lambda c: [x / len(c) for x in c], "does not sum to 1(.|\n)*divided by how many counts"),
        (lambda c: list(c), "does not sum to 1(.|\n)*came back unchanged"),  # not normalised at all
        (lambda c: [100 * x / sum(c) for x in c], "not 100"),  # percentages
        (lambda c: [x // sum(c) for x in c], r"integer division \(//\)"),
        (lambda c: np.asarray(c) // np.sum(c), r"integer division \(//\)"),
        (lambda c: sorted(x / sum(c) for x in c), r"normalise\(\[2, 1, 1\]\)\n(.|\n)*keep the order"),  # order lost
        (lambda c: (x / sum(c) for x in c), "list or array(.|\n)*not a generator"),
        (lambda c: [x / (sum(c) or 1) for x in c], "zero counts(.|\n)*Returning zeros"),  # silently returns zeros
        (lambda c: [x / sum(c) for x in c] if sum(c) else None, "zero counts"),  # returns None
        (lambda c: [x / sum(c) for x in c] if sum(c) else [], "zero counts"),  # returns nothing
        (lambda c: sum(c), "list or array"),  # a number, not a list
        (lambda c: [str(x / sum(c)) for x in c], "list or array"),  # strings are not numbers
        (lambda c: [x / sum(c) for x in c][:-1], "one probability per count"),
        (normalise_np_float32_no_zero_check, r"zero counts(.|\n)*gave nan"),  # numpy: nan and a warning, no error
        (lambda c: torch.tensor(c) / torch.tensor(c).sum(), r"zero counts(.|\n)*gave nan"),  # torch: nan, silently
    ],
)
def test_normalise_rejects_typical_mistakes(wrong: object, why: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker neither crashes on an array nor lets numpy's warning out
        with pytest.raises(checks.CheckFailed, match=why):
            checks.ch00_normalise(wrong)  # type: ignore[arg-type]


def test_normalise_names_a_wrong_exception() -> None:
    def asserts(counts: list[int]) -> list[float]:
        assert sum(counts) > 0
        return [c / sum(counts) for c in counts]

    with pytest.raises(checks.CheckFailed, match=r"raised AssertionError(.|\n)*raise ValueError"):
        checks.ch00_normalise(asserts)


def normalise_in_place(counts: list[float]) -> list[float]:
    total = sum(counts)
    for i in range(len(counts)):
        counts[i] /= total  # right values, but the caller's counts are gone
    return counts


@pytest.mark.parametrize(
    "wrong,why",
    [
        (normalise_in_place, r"normalise\(\[2, 1, 1\]\) changed the list it was given(.|\n)*leave `counts` as it was"),
        (lambda c: [round(x / sum(c), 2) for x in c], r"don't round(.|\n)*rounded to 2 decimals"),
        (lambda c: np.round(np.asarray(c) / np.sum(c), 3), r"don't round(.|\n)*rounded to 3 decimals"),
        # on [2, 1, 1] sum - 1 == len: the hint follows the mistake made, seen on the other inputs
        (lambda c: [x / (sum(c) - 1) for x in c],
         r"\[2, 1, 1\]\) does not sum to 1(.|\n)*divided by sum\(counts\) - 1"),
        (lambda c: [x / len(c) for x in c], r"\[2, 1, 1\]\) does not sum to 1(.|\n)*divided by how many counts"),
    ],
)
def test_normalise_names_the_mistake_made(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch00_normalise(wrong)  # type: ignore[arg-type]


def test_normalise_message_shown_in_chapter_00_is_unchanged() -> None:
    """chapters/00_setup.ipynb stores this message (its normalise_wrong divides by the largest count)."""
    with pytest.raises(checks.CheckFailed) as err:
        checks.ch00_normalise(lambda counts: [c / max(counts) for c in counts])
    assert str(err.value) == (
        "exercise 00.1 (normalise): normalise([2, 1, 1]) does not sum to 1\n  expected: 1.0\n  got:      2.0\n"
        "  hint:     you divided by the largest count: divide each count by the total of all counts, sum(counts).")


def test_descriptions_are_shown_without_quotes_values_with_them() -> None:
    with pytest.raises(checks.CheckFailed,
                       match=r"\n  expected: a ValueError \(or ZeroDivisionError\)\n  got:      None"):
        checks.ch00_normalise(lambda c: [x / sum(c) for x in c] if sum(c) else None)
    with pytest.raises(checks.CheckFailed, match=r"\n  expected: 'shape \(3,\)'"):
        checks.fail("x", "a string value", "shape (3,)", "b", "h")  # a real string is still repr'd
    with pytest.raises(checks.CheckFailed, match=r"\n  expected: \[shape \(3,\)\]\n  got:      'b'"):
        checks.fail("x", "described", [checks.core.Description("shape (3,)")], "b", "h")


def char_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return counts


@pytest.mark.parametrize("right", [Counter, char_counts, lambda t: defaultdict(int, Counter(t)),
                                   lambda t: {c: np.int64(n) for c, n in Counter(t).items()},
                                   lambda t: {c: torch.tensor(n) for c, n in Counter(t).items()}])
def test_char_counts_accepts_any_mapping_of_whole_numbers(right: object) -> None:
    checks.ch00_char_counts(right)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda t: Counter(t.split()), "not one character(.|\n)*several"),  # words, not characters
        (lambda t: Counter(t.replace(" ", "")), "spaces and line breaks are characters too"),
        (lambda t: Counter(c for c in t if not c.isspace()), "spaces and line breaks are characters too"),
        (lambda t: {c: 1 for c in t}, "count every occurrence"),  # presence, not counts
        (lambda t: Counter(t.lower()), "'T' and 't' are different characters"),
        (lambda t: Counter(t.casefold()), "'T' and 't' are different characters"),
        (lambda t: Counter(unicodedata.normalize("NFKC", t)), r"normalize\('NFKC'(.|\n)*'ﬁ'"),
        (lambda t: Counter(unicodedata.normalize("NFC", t)), r"normalize\('NFC'(.|\n)*U\+0301"),
        (lambda t: Counter(t).most_common(), r"most_common\(\) gives a list of \(character, count\) pairs"),
        (lambda t: sorted(Counter(t).items()), r"most_common\(\) gives a list of \(character, count\) pairs"),
        (lambda t: list(Counter(t)), "build a dict"),
        (lambda t: Counter(t.encode()), "not the bytes"),
        (lambda t: {c: float(n) for c, n in Counter(t).items()}, "a float"),
    ],
)
def test_char_counts_rejects_typical_mistakes(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch00_char_counts(wrong)  # type: ignore[arg-type]


def char_counts_from_zero(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in text:
        if ch in counts:
            counts[ch] += 1
        else:
            counts[ch] = 0  # the first occurrence is not counted
    return counts


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda t: Counter(unicodedata.normalize("NFD", t)), r"normalize\('NFD'(.|\n)*'é' \(U\+00E9\)"),
        (lambda t: Counter(unicodedata.normalize("NFKD", t)), r"normalize\('NFKD'"),
        (char_counts_from_zero, r"char_counts\('abca'\)(.|\n)*one short(.|\n)*starts at 1"),
        (lambda t: Counter(t[:-1]), r"the last character is missing"),  # on 'abca' it looks like presence
        (lambda t: Counter(t[1:]), r"the first character is missing"),
        (lambda t: {c: n + 1 for c, n in Counter(t).items()}, r"one too many"),
    ],
)
def test_char_counts_names_the_mistake_made(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch00_char_counts(wrong)  # type: ignore[arg-type]


def test_char_counts_shows_code_points_of_non_ascii_keys_and_ascii_ones_as_they_are() -> None:
    with pytest.raises(checks.CheckFailed) as err:
        checks.ch00_char_counts(lambda t: Counter(unicodedata.normalize("NFD", t)))
    assert "\n  expected: {'ﬁ' (U+FB01): 2, 'n': 2," in str(err.value)
    assert "(U+0301)" in str(err.value) and "'n' (U+" not in str(err.value)
    with pytest.raises(checks.CheckFailed) as err:
        checks.ch00_char_counts(lambda t: Counter(t.replace("\n", "")))  # first fails on the ASCII 'a b\n\nb a\n'
    assert "expected: {'a': 2, ' ': 2, 'b': 2, '\\n': 3}" in str(err.value)


def draw_numpy_private(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, 5)


def draw_numpy_global(seed: int) -> np.ndarray:
    np.random.seed(seed)  # reproducible, but clobbers numpy's global generator
    return np.random.randint(0, 10, 5)


def draw_random_global(seed: int) -> list[int]:
    random.seed(seed)  # reproducible, but clobbers Python's global generator
    return [random.randint(0, 9) for _ in range(5)]


@pytest.mark.parametrize(
    "right",
    [
        lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(s)),
        lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(s), dtype=torch.int32),
        draw_numpy_private,
        lambda s: np.random.RandomState(s).randint(0, 10, 5),  # numpy's legacy generator, private
        lambda s: (lambda r: [r.randrange(10) for _ in range(5)])(random.Random(s)),
        lambda s: (lambda r: tuple(r.randint(0, 9) for _ in range(5)))(random.Random(s)),  # inclusive high end
        lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(s)).tolist(),
    ],
)
def test_reproducible_draw_accepts_private_generators_of_torch_numpy_and_python(right: object) -> None:
    checks.ch00_reproducible(right)  # type: ignore[arg-type]


def reseeds_torch(seed: int) -> torch.Tensor:
    torch.manual_seed(seed)  # reproducible, but clobbers everyone else's random numbers
    return torch.randint(0, 10, (5,))


SHARED = torch.Generator().manual_seed(0)


def private(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda s: torch.randint(0, 10, (5,)), "changed torch's global generator"),  # global generator
        (reseeds_torch, "changed torch's global generator"),
        (draw_numpy_global, r"changed numpy's global generator(.|\n)*default_rng"),
        (lambda s: np.random.randint(0, 10, 5), "changed numpy's global generator"),
        (draw_random_global, r"changed Python's global generator(.|\n)*random.Random\(seed\)"),
        (lambda s: torch.rand(5, generator=private(s)) * 9, "should return integers"),
        (lambda s: torch.randint(0, 10, (5,), generator=private(0)), r"draw\(7\) and draw\(8\) gave the same"),
        (lambda s: torch.randint(0, 10, (6,), generator=private(s)), "should return 5 numbers"),
        (lambda s: torch.randint(0, 10, (1, 5), generator=private(s)), "should return 5 numbers"),
        (lambda s: torch.randint(10, 20, (5,), generator=private(s)), r"lie in \[0, 10\)"),
        (lambda s: torch.randint(0, 9, (5,), generator=private(s)), r"never gave \[9\](.|\n)*torch.randint's high end"),
        (lambda s: np.random.default_rng(s).integers(0, 9, 5), r"never gave \[9\](.|\n)*numpy's integers"),
        (lambda s: (lambda r: [r.randrange(9) for _ in range(5)])(random.Random(s)),
         r"never gave \[9\](.|\n)*random.randrange excludes its high end"),
        (lambda s: (lambda r: [r.randint(0, 10) for _ in range(5)])(random.Random(s)),
         r"lie in \[0, 10\)(.|\n)*random.randint\(a, b\) includes b"),
        (lambda s: torch.randint(1, 10, (5,), generator=private(s)), r"never gave \[0\](.|\n)*start at 0"),
        (lambda s: torch.randint(0, 10, (5,), generator=torch.Generator()), r"draw\(7\) and draw\(8\) gave the same"),
        (lambda s: torch.randint(0, 10, (5,), generator=SHARED), "different numbers on a second call"),  # not re-seeded
        (lambda s: [str(v) for v in range(5)], "should return 5 integers"),
        (lambda s: [random.Random(s).randrange(10)] * 5, r"all the same(.|\n)*not one number repeated"),
        (lambda s: torch.full((5,), s % 10), r"all the same(.|\n)*expected: five independent draws"),
        (lambda s: [(s + i) % 10 for i in range(5)], r"evenly spaced(.|\n)*got:      draw\(0\) = \[0, 1, 2, 3, 4\]"),
        (lambda s: np.array([(3 * s + 7 * i) % 10 for i in range(5)]), r"evenly spaced(.|\n)*\(seed \+ i\) % 10"),
    ],
)
def test_reproducible_draw_rejects_typical_mistakes(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch00_reproducible(wrong)  # type: ignore[arg-type]


# --- chapter 01 ---------------------------------------------------------------------------


def build_vocab(words: list[str], min_count: int) -> list[str]:
    """A right answer written unlike the checker's reference: sort by word, then (stably) by count."""
    counts = Counter(words)
    return sorted(sorted(w for w in counts if counts[w] >= min_count), key=counts.__getitem__, reverse=True)


def zipf_slope(counts: list[int]) -> float:
    import numpy as np

    c = np.sort(np.asarray(counts, dtype=float))[::-1]
    return float(np.polyfit(np.log(np.arange(1, len(c) + 1)), np.log(c), 1)[0])


def oov_count(train: list[str], test: list[str]) -> int:
    known = set(train)  # once, as a careful learner does
    return sum(w not in known for w in test)


def test_ch01_right_answers_pass(capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch01_vocab_cutoff(build_vocab)
    checks.ch01_merge(merge)
    checks.ch01_zipf_slope(zipf_python)  # the closed-form least-squares slope, not the checker's polyfit
    checks.ch01_oov_rate(lambda train, test: oov_count(train, test) / len(test))
    assert capsys.readouterr().out.count("✓ exercise 01.") == 4


def build_vocab_sorting_its_input(words: list[str], min_count: int) -> list[str]:
    words.sort()  # the right vocabulary in the end, but the caller's list is now sorted
    return build_vocab(words, min_count)


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
        (lambda w, m: build_vocab([x.lower() for x in w], m), "'The' and 'the' are different words here"),
        (lambda w, m: [x for x, c in Counter(w).most_common() if c >= m], "order of first occurrence"),
        (lambda w, m: sorted((x for x, c in Counter(w).items() if c >= m), key=lambda x: (Counter(w)[x], x),
                             reverse=True), "not reversed"),
        (lambda w, m: sorted((x for x, c in Counter(w).items() if c >= m), key=lambda x: (Counter(w)[x], x)),
         "not by the count upwards"),
        (lambda w, m: [(x, c) for x, c in Counter(w).most_common() if c >= m], r"not \(word, count\) pairs"),
        (build_vocab_sorting_its_input,
         r"changed the list of words it was given(.|\n)*words.sort\(\) sorts the caller's"),
        (lambda w, m: build_vocab([w.pop() for _ in range(len(w))], m), r"changed the list of words"),  # emptied
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


def merge_numpy_overlapping(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Vectorised, but matches may overlap: [5, 5, 5] gives [7]."""
    a = np.asarray(ids, dtype=np.int64)
    if len(a) < 2:
        return a.tolist()
    start = np.append((a[:-1] == pair[0]) & (a[1:] == pair[1]), False)
    a = np.where(start, new_id, a)
    return a[~np.concatenate([[False], start[:-1]])].tolist()


@pytest.mark.parametrize("right", [
    lambda ids, pair, new: np.array(merge(ids, pair, new), dtype=np.int64),  # np.array([]) for [] is float64: fine
    lambda ids, pair, new: np.array(merge(ids, pair, new)),
    lambda ids, pair, new: torch.tensor(merge(ids, pair, new), dtype=torch.long),
    lambda ids, pair, new: tuple(np.int32(i) for i in merge(ids, pair, new)),
])
def test_ch01_merge_accepts_ids_as_python_numpy_or_torch_integers(right: object) -> None:
    checks.ch01_merge(right)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "wrong,why",
    [
        (merge_overlapping, "occurrences do not overlap"),
        (merge_missing_last, "check the last position"),
        (lambda ids, pair, new: merge(ids, tuple(sorted(pair)), new), "a pair is ordered"),  # type: ignore[arg-type]
        (merge_by_string, "no str or bytes tricks"),
        (merge_right_to_left, "scan left to right"),
        (merge_in_place, "changed the list it was given"),
        (lambda ids, pair, new: merge(merge(ids, pair, new), pair[::-1], new),
         r"\[11, 2, 1, 23\](.|\n)*a pair is ordered"),
        (merge_numpy_overlapping, r"occurrences do not overlap"),
        (lambda ids, pair, new: [str(i) for i in merge(ids, pair, new)], r"list of int ids(.|\n)*not as text"),
        (lambda ids, pair, new: [i + 0.4 for i in merge(ids, pair, new)], r"ids are whole numbers(.|\n)*list of float"),
        (lambda ids, pair, new: torch.tensor(merge(ids, pair, new), dtype=torch.float32), r"a torch.float32 tensor"),
        (lambda ids, pair, new: np.array(merge(ids, pair, new), dtype=np.float16), r"a numpy float16 array"),
        (lambda ids, pair, new: [[i] for i in merge(ids, pair, new)], r"not a list of lists"),
        (lambda ids, pair, new: (i for i in merge(ids, pair, new)), r"wrap it in list"),
        (lambda ids, pair, new: merge(ids, pair, new)[:1] + ids[2:] if tuple(ids[:2]) == pair else list(ids),
         r"not only the first"),
    ],
)
def test_ch01_merge_rejects(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_merge(wrong)  # type: ignore[arg-type]


def zipf_torch(dtype: torch.dtype) -> object:
    def zipf_slope(counts: list[int]) -> torch.Tensor:
        c = torch.sort(torch.tensor(counts, dtype=dtype), descending=True).values
        x = torch.log(torch.arange(1, len(c) + 1, dtype=dtype))
        a = torch.stack([x, torch.ones_like(x)], dim=1)
        return torch.linalg.lstsq(a, torch.log(c)[:, None]).solution[0, 0]  # a 0-d tensor

    return zipf_slope


def zipf_float32_formula(counts: list[int]) -> np.float32:
    """The slope by its formula, n Σxy - Σx Σy over n Σx² - (Σx)², all in float32: the least accurate right answer."""
    y = np.log(np.sort(np.asarray(counts, dtype=np.float32))[::-1])
    x = np.log(np.arange(1, len(y) + 1, dtype=np.float32))
    n = np.float32(len(y))
    return (n * (x * y).sum() - x.sum() * y.sum()) / (n * (x * x).sum() - x.sum() ** 2)


def zipf_python(counts: list[int]) -> float:
    import math

    ys = [math.log(c) for c in sorted(counts, reverse=True)]
    xs = [math.log(r) for r in range(1, len(ys) + 1)]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


@pytest.mark.parametrize("right", [zipf_slope, zipf_torch(torch.float32), zipf_torch(torch.float64),
                                   zipf_float32_formula, zipf_python,
                                   lambda c: np.polyfit(np.log10(np.arange(1, len(c) + 1)),
                                                        np.log10(sorted(c, reverse=True)), 1)[0]])  # any one base
def test_ch01_zipf_slope_accepts_numpy_torch_python_float32_float64(right: object) -> None:
    checks.ch01_zipf_slope(right)  # type: ignore[arg-type]


def fit(x: object, y: object) -> float:
    return float(np.polyfit(x, y, 1)[0])


def ranked(c: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """log rank (1, 2, ...) and log count, the counts sorted from the most frequent down."""
    counts = np.sort(np.asarray(c, dtype=float))[::-1]
    return np.log(np.arange(1, len(counts) + 1)), np.log(counts)


def zipf_sorting_its_input(counts: list[int]) -> float:
    counts.sort(reverse=True)  # the right slope, but the caller's counts are now sorted
    return zipf_slope(counts)


ZIPF_MISTAKES = {
    "top 1,000": lambda c: fit(ranked(c)[0][:1000], ranked(c)[1][:1000]),
    "top 100": lambda c: fit(ranked(c)[0][:100], ranked(c)[1][:100]),
    "swapped axes": lambda c: fit(ranked(c)[1], ranked(c)[0]),
    "two points": lambda c: (ranked(c)[1][-1] - ranked(c)[1][0]) / ranked(c)[0][-1],
    "log10 ranks, ln counts": lambda c: fit(ranked(c)[0] / np.log(10), ranked(c)[1]),
    "no logarithms": lambda c: fit(np.arange(1, len(c) + 1), np.sort(c)[::-1]),
}


@pytest.mark.parametrize("name", sorted(ZIPF_MISTAKES))
def test_ch01_zipf_each_wrong_method_is_far_from_the_right_slope(name: str) -> None:
    """On the checker's inputs (real word counts) a wrong method is more than 5 % off, not within a hair."""
    for corpus in ("pride_and_prejudice", "shakespeare"):
        counts = list(ch01_checks._word_counts(corpus))
        assert len(counts) > 5000 and counts.count(1) > len(counts) / 3  # thousands of types, a tail of hapaxes
        right = zipf_slope(counts)
        assert abs(ZIPF_MISTAKES[name](counts) - right) > 0.05 * abs(right), (name, corpus)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (ZIPF_MISTAKES["top 1,000"], "not only the top 1,000"),
        (ZIPF_MISTAKES["top 100"], "not only the top 100"),
        (ZIPF_MISTAKES["swapped axes"], "you fitted log\\(rank\\) against log\\(count\\)"),
        (lambda c: 1 / fit(ranked(c)[1], ranked(c)[0]), "inverted, is another line"),  # 2-3 % off: named
        (ZIPF_MISTAKES["two points"], "the first and the last point is not it"),
        (lambda c: zipf_slope(sorted(set(c))), "keep every count, repeated ones too"),  # 1-5 % off: named
        (ZIPF_MISTAKES["log10 ranks, ln counts"], "the same logarithm on both axes"),
        (ZIPF_MISTAKES["no logarithms"], "fit the logarithms"),
        (lambda c: fit(np.log(np.arange(1, len(c) + 1)), np.log(c)), "most frequent down"),  # unsorted
        (lambda c: fit(np.log(np.arange(1, len(c) + 1)), np.log(sorted(c))), "most frequent down"),  # ascending
        (lambda c: fit(np.log(np.arange(2, len(c) + 2)), np.log(sorted(c)[::-1])), "ranks start at 1"),  # 2, 3, ...
        (lambda c: -zipf_slope(c), "not the exponent s"),
        (lambda c: np.polyfit(np.log(np.arange(1, len(c) + 1)), np.log(sorted(c)[::-1]), 1), "should be one number"),
        (lambda c: str(zipf_slope(c)), "should be one number"),
        (zipf_sorting_its_input, r"changed the list of 6,460 word counts(.|\n)*got:      the counts sorted\n"
                                 r"(.|\n)*counts.sort\(\) sorts the caller's list"),
    ],
)
def test_ch01_zipf_slope_rejects(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_zipf_slope(wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("decimals", [1, 2])
def test_ch01_zipf_slope_says_dont_round_not_ranks_from_2(decimals: int) -> None:
    """On Shakespeare the slope rounded to 2 decimals (-1.25) lies within 1e-3 of the rank + 1 slope."""
    with pytest.raises(checks.CheckFailed, match=rf"don't round(.|\n)*rounded to {decimals} decimals"):
        checks.ch01_zipf_slope(lambda c: round(zipf_slope(c), decimals))
    counts = list(ch01_checks._word_counts("shakespeare"))
    right = zipf_slope(counts)
    hint = ch01_checks._zipf_mistake(round(right, decimals), np.array(counts, dtype=float), right)
    assert hint is not None and hint.startswith("don't round")


def test_ch01_zipf_slope_uses_the_chapters_lower_cased_counts() -> None:
    """The exercise says freqs["Pride and Prejudice"] (lower-cased words, 6,460 types) gives the slope printed in
    section 4, -1.35: the checker's expected value is that one, and its message says which counts it used."""
    from lmcourse import data

    words = [w.lower() for w in tk.split_words(data.load_text("pride_and_prejudice")) if w[0].isalpha()]
    assert sorted(ch01_checks._word_counts("pride_and_prejudice")) == sorted(Counter(words).values())
    with pytest.raises(checks.CheckFailed) as err:
        checks.ch01_zipf_slope(lambda c: -zipf_slope(c))
    assert ("the slope for the 6,460 lower-cased word counts of Pride and Prejudice "
            '(freqs["Pride and Prejudice"] in section 4)\n  expected: -1.345917' in str(err.value))
    assert round(zipf_slope(list(ch01_checks._word_counts("pride_and_prejudice"))), 2) == -1.35


def test_ch01_zipf_slope_reports_log_of_zero_without_numpy_or_lapack_noise(capfd: pytest.CaptureFixture[str]) -> None:
    ranks_from_zero = lambda c: fit(np.log(np.arange(len(c))), np.log(sorted(c)[::-1]))  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(checks.CheckFailed, match=r"log\(0\) is -inf"):
            checks.ch01_zipf_slope(ranks_from_zero)  # LinAlgError from SVD, after LAPACK's DLASCL messages
        torch_from_zero = lambda c: torch.linalg.lstsq(  # noqa: E731
            torch.stack([torch.log(torch.arange(len(c), dtype=torch.float64)),
                         torch.ones(len(c), dtype=torch.float64)], 1),
            torch.log(torch.tensor(sorted(c, reverse=True), dtype=torch.float64))[:, None]).solution[0, 0]
        # torch's lstsq silently returns nan on two threads and 0.0 on one: either way the hint names ranks from 1
        with pytest.raises(checks.CheckFailed, match=r"log\(0\) is -inf|ranks start at 1 \(log 1 = 0\)"):
            checks.ch01_zipf_slope(torch_from_zero)
    out, err = capfd.readouterr()
    assert "DLASCL" not in out + err and "RuntimeWarning" not in err
    import sys

    print("still here", file=sys.stderr)  # descriptor 2 is back
    assert "still here" in capfd.readouterr().err


def oov_sorts_its_input(train: list[str], test: list[str]) -> float:
    train.sort()  # changes the caller's list
    return oov_count(train, test) / len(test)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda train, test: len(set(test) - set(train)) / len(set(test)), "count test tokens"),  # types, not tokens
        (lambda train, test: oov_count(train, test) / len(train), r"oov_rate\((.|\n)*not by the number of training"),
        (lambda train, test: (len(test) - oov_count(train, test)) / len(test), "in-vocabulary rate"),
        (lambda train, test: 100 * oov_count(train, test) / len(test), "not a percentage"),
        (lambda train, test: oov_count(test, train) / len(train), "the first argument is the training"),
        # the distinct OOV words over the test tokens: 0.4 on the first case, where 1 - 0.6 is 0.4 too
        (lambda train, test: len(set(test) - set(train)) / len(test), r"\n  got:      0.4\n(.|\n)*each occurrence"),
        (lambda train, test: oov_count(train, test), r"number of out-of-vocabulary tokens: divide it"),
        (lambda train, test: oov_count(train, test) // len(test), r"integer division \(//\)"),
        (lambda train, test: oov_count(train, test) / len(set(test)), r"not by the number of distinct test words"),
        (lambda train, test: round(oov_count(train, test) / len(test), 2), r"don't round(.|\n)*2 decimals"),
        (lambda train, test: round(oov_count(train, test) / len(test), 3),  # exact on all the small cases
         r"20,000 training and 997 validation words(.|\n)*expected: 0.081244(.|\n)*don't round(.|\n)*3 decimals"),
        (lambda train, test: oov_count([w.lower() for w in train], [w.lower() for w in test]) / len(test),
         r"'The' and 'the' are different words"),
        (lambda train, test: oov_count(set(map(str.casefold, train)), map(str.casefold, test)) / len(test),
         r"THE(.|\n)*expected: 0.375\n  got:      0.125\n(.|\n)*don't lower-case"),
        (oov_sorts_its_input, r"changed the list of training words(.|\n)*don't modify them"),
    ],
)
def test_ch01_oov_rate_rejects(wrong: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_oov_rate(wrong)  # type: ignore[arg-type]


def bpe_train(text: str, num_merges: int) -> list[tuple[int, int]]:
    """A right answer of exercise 01.5: the package's naive loop, which the checker's reference
    (the incremental BPETokenizer.fit) is not."""
    return tk.naive_bpe_merges(text, num_merges)


def bpe_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    ids = []
    for chunk in tk.pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8"))
        for k, pair in enumerate(merges):
            chunk_ids = merge(chunk_ids, pair, 256 + k)
        ids += chunk_ids
    return ids


def bpe_train_weighted_types(text: str, num_merges: int) -> list[list[int]]:
    """Right too: distinct chunks weighted by their counts, merges returned as lists of numpy ints."""
    types = Counter(tk.pretokenize(text))
    words = {w: list(w.encode("utf-8")) for w in types}
    merges: list[list[int]] = []
    for k in range(num_merges):
        counts: Counter[tuple[int, int]] = Counter()
        for w, ids in words.items():
            for p in zip(ids, ids[1:]):
                counts[p] += types[w]
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append([np.int64(pair[0]), np.int64(pair[1])])
        words = {w: merge(ids, pair, 256 + k) for w, ids in words.items()}
    return merges  # type: ignore[return-value]


def bpe_encode_lowest_rank(text: str, merges: list[tuple[int, int]]) -> torch.Tensor:
    """Right too: repeatedly merge the lowest-ranked pair present; the ids as a torch tensor."""
    ranks = {tuple(p): k for k, p in enumerate(merges)}
    out = []
    for chunk in tk.pretokenize(text):
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, len(ranks)))
            if pair not in ranks:
                break
            ids = merge(ids, pair, 256 + ranks[pair])
        out += ids
    return torch.tensor(out, dtype=torch.long)


def test_the_checkers_naive_bpe_is_the_package_s() -> None:
    text = ch01_checks._bpe_texts()[0]
    reference = tk.BPETokenizer(40).fit(text).merges
    assert ch01_checks._bpe_merges(tk.pretokenize(text), 40) == reference == bpe_train(text, 40)
    merges = tk.BPETokenizer(60).fit(text).merges
    ids = tk.BPETokenizer(60).fit(text).encode(text)
    assert ch01_checks._bpe_encode(text, merges) == ids == bpe_encode(text, merges)


def test_ch01_bpe_inputs_show_every_merge_and_utf8_bytes() -> None:
    """encode is run on the text its merges were learned from, where every merge occurs (the last one too), and
    train on a text whose code points are not its UTF-8 bytes."""
    merges_text = ch01_checks._bpe_texts()[1]
    merges = tk.BPETokenizer(100).fit(merges_text).merges
    assert len(merges) == 100
    chunks = [list(c.encode("utf-8")) for c in tk.pretokenize(merges_text)]
    for k, pair in enumerate(merges):  # each merge replaces its pair somewhere: leaving it out changes the ids
        merged = [merge(ids, pair, 256 + k) for ids in chunks]
        assert merged != chunks, k
        chunks = merged
    text = ch01_checks._BPE_UNICODE
    assert [ord(ch) for ch in text] != list(text.encode("utf-8"))
    assert bpe_train_variant(code_points=True)(text, 30) != bpe_train(text, 30)  # type: ignore[operator]


@pytest.mark.parametrize("train,encode", [(bpe_train, bpe_encode), (bpe_train_weighted_types, bpe_encode_lowest_rank),
                                          (bpe_train, lambda t, m: np.array(bpe_encode(t, m), dtype=np.int32))])
def test_ch01_bpe_accepts_right_answers(train: object, encode: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch01_bpe_train(train, encode)  # type: ignore[arg-type]
    assert capsys.readouterr().out.startswith("✓ exercise 01.5")


def bpe_train_variant(pieces: object = tk.pretokenize, count: str = "weighted", tie: str = "smallest",
                      first_id: int = 256, update: bool = True, stop_at_one: bool = False, extra: int = 0,
                      code_points: bool = False, first_only: bool = False) -> object:
    """A wrong train: one typical mistake, written as a learner would."""

    def train(text: str, num_merges: int) -> list[tuple[int, int]]:
        chunks = pieces(text)  # type: ignore[operator]
        if count == "types":
            chunks = list(set(chunks))
        seqs = [[ord(ch) for ch in c] if code_points else list(c.encode("utf-8")) for c in chunks]
        merges: list[tuple[int, int]] = []
        for k in range(num_merges + extra):
            pairs = [set(zip(ids, ids[1:])) if count == "presence" else zip(ids, ids[1:]) for ids in seqs]
            counts = Counter(p for chunk in pairs for p in chunk)
            if not counts or (stop_at_one and max(counts.values()) < 2):
                break
            if tie == "first":
                pair = counts.most_common(1)[0][0]
            elif tie == "largest":
                pair = max(counts, key=lambda p: (counts[p], p))
            else:
                pair = min(counts, key=lambda p: (-counts[p], p))
            merges.append(pair)
            if update:
                seqs = [merge_first(ids, pair, first_id + k) if first_only else merge(ids, pair, first_id + k)
                        for ids in seqs]
        return merges

    return train


def merge_first(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return ids[:i] + [new_id] + ids[i + 2:]  # returns after the first occurrence
    return ids


def bpe_train_no_stop(text: str, num_merges: int) -> list[tuple[int, int]]:
    chunks = [list(c.encode("utf-8")) for c in tk.pretokenize(text)]
    merges = []
    for k in range(num_merges):
        counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))  # crashes on an empty Counter
        merges.append(pair)
        chunks = [merge(ids, pair, 256 + k) for ids in chunks]
    return merges


@pytest.mark.parametrize(
    "train,why",
    [
        (bpe_train_variant(pieces=lambda t: [t]), r"first merge(.|\n)*pre-tokenise first \(tk.pretokenize"),
        (bpe_train_variant(pieces=str.split), r"not text.split\(\)"),
        (bpe_train_variant(count="types"), "once per occurrence of its chunk"),
        (bpe_train_variant(count="presence"), "twice if it occurs twice in a chunk"),
        (bpe_train_variant(tie="first"), r"ties go to the smallest pair(.|\n)*take the first pair seen"),
        (bpe_train_variant(tie="largest"), r"ties go to the smallest pair(.|\n)*you took the largest"),
        (bpe_train_variant(first_id=257), r"merge 1 \(id 257\) differs(.|\n)*the first merge is 256, the second 257"),
        (bpe_train_variant(first_id=255), "the first merge is 256, not 255"),
        (bpe_train_variant(first_id=0), "byte 0 does not occur in this text(.|\n)*merge k creates id 256 \\+ k"),
        (bpe_train_variant(update=False), "that pair was merged before"),
        (bpe_train_variant(stop_at_one=True), "stopped after(.|\n)*a pair seen only once is still merged"),
        (bpe_train_variant(extra=1), r"too many merges\n  expected: 40 merges\n  got:      41 merges"),
        (bpe_train_variant(code_points=True), r"train\('床前明月光(.|\n)*UTF-8 bytes(.|\n)*not its code points"),
        (bpe_train_variant(first_only=True), r"not only the first"),
        (lambda text, n: bpe_train(text, n - 1), "stopped after 39 merges"),
        (bpe_train_no_stop, "stop when no pair is left"),
        (lambda text, n: {p: 256 + k for k, p in enumerate(bpe_train(text, n))}, r"list\(d\) of a dict"),
        (lambda text, n: [tk.BPETokenizer(n).fit(text).id_to_token(256 + k) for k in range(n)], "pairs of ids"),
        (lambda text, n: [(float(a), float(b)) for a, b in bpe_train(text, n)], "pairs of ids"),
    ],
)
def test_ch01_bpe_train_rejects(train: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_bpe_train(train, bpe_encode)  # type: ignore[arg-type]


def bpe_encode_variant(mode: str) -> object:
    def encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
        return ch01_checks._bpe_encode(text, merges, mode)

    return encode


def bpe_encode_text_frequency(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Merges by how often their pair occurs in the text being encoded, as a learner re-running training would."""
    ranks = {p: k for k, p in enumerate(merges)}
    chunks = [list(c.encode("utf-8")) for c in tk.pretokenize(text)]
    while True:
        counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]) if p in ranks)
        if not counts:
            return [i for ids in chunks for i in ids]
        pair = counts.most_common(1)[0][0]
        chunks = [merge(ids, pair, 256 + ranks[pair]) for ids in chunks]


def bpe_encode_whole_text(text: str, merges: list[tuple[int, int]]) -> list[int]:
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = merge(ids, pair, 256 + k)
    return ids


def bpe_encode_code_points(text: str, merges: list[tuple[int, int]]) -> list[int]:
    ids = []
    for chunk in tk.pretokenize(text):
        chunk_ids = [ord(ch) for ch in chunk]  # code points, not UTF-8 bytes: the same for ASCII
        for k in range(len(merges)):
            chunk_ids = merge(chunk_ids, merges[k], 256 + k)
        ids += chunk_ids
    return ids


def bpe_encode_pops(text: str, merges: list[tuple[int, int]]) -> list[int]:
    merges.reverse()
    return bpe_encode(text, merges[::-1])


@pytest.mark.parametrize(
    "encode,why",
    [
        (bpe_encode_whole_text, r"pre-tokenise in encode too"),
        (bpe_encode_text_frequency, "not by how often their pairs occur in the text being encoded"),
        (bpe_encode_variant("leftmost"), "not the first learned pair found from the left"),
        (bpe_encode_variant("found once"), "looking once at the pairs found in the text"),
        (bpe_encode_variant("reversed"), "from the first learned to the last"),
        (bpe_encode_variant("rank ids"), "merge k gives id 256 \\+ k, not k"),
        (lambda t, m: [bpe_encode(c, m) for c in tk.pretokenize(t)], "one flat list(.|\n)*not a list of lists"),
        (lambda t, m: [float(i) for i in bpe_encode(t, m)], r"one flat list of int ids(.|\n)*list of float"),
        (lambda t, m: torch.tensor(bpe_encode(t, m), dtype=torch.float32), r"this is a torch.float32 tensor"),
        (lambda t, m: [str(i) for i in bpe_encode(t, m)], r"ids are ints(.|\n)*not as text"),
        (lambda t, m: bpe_encode(t, m[:-1]), r"apply every merge, the last one too"),
        (bpe_encode_code_points, r"not its code points"),
        (bpe_encode_pops, "changed the list of merges"),
        (lambda t, m: list(t.encode("utf-8")), "in each chunk of tk.pretokenize"),  # no merges at all
    ],
)
def test_ch01_bpe_encode_rejects(encode: object, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch01_bpe_train(bpe_train, encode)  # type: ignore[arg-type]


def test_ch01_bpe_names_an_unsolved_merge_rather_than_calling_train_the_stub() -> None:
    def train(text: str, num_merges: int) -> list[tuple[int, int]]:
        chunks = [list(c.encode("utf-8")) for c in tk.pretokenize(text)]
        counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
        pair = min(counts, key=lambda p: (-counts[p], p))
        chunks = [stub(ids, pair, 256) for ids in chunks]  # the learner's merge of exercise 01.2, unsolved
        return [pair]

    with pytest.raises(checks.ExerciseNotDone, match="train calls stub, which is still a stub"):
        checks.ch01_bpe_train(train, bpe_encode)
    with pytest.raises(checks.ExerciseNotDone, match=r"01.5 \(BPE\): stub is still the stub"):
        checks.ch01_bpe_train(stub, bpe_encode)


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
        checks.ch01_oov_rate(lambda train, test: str(oov_count(train, test) / len(test)))
    checks.ch01_oov_rate(lambda train, test: torch.tensor(oov_count(train, test) / len(test)))


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


def mle_prob(tokens: list[object], context: tuple[object, ...], token: object) -> float:
    n = len(context)
    followed = [tuple(tokens[i:i + n + 1]) for i in range(len(tokens) - n) if tuple(tokens[i:i + n]) == context]
    if not followed:
        raise ValueError(f"the context {context} never occurs followed by a token")
    return followed.count((*context, token)) / len(followed)


def sample_name(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> list[int]:
    name = [bos]
    while (nxt := int(generator.choice(len(P), p=P[name[-1]]))) != eos:
        name.append(nxt)
    return name[1:]


def best_lambda(p_high: object, p_low: object) -> float:
    h = torch.as_tensor(np.asarray(p_high), dtype=torch.float64)
    low = torch.as_tensor(np.asarray(p_low), dtype=torch.float64)
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64)[:, None]
    return float(grid[torch.log(grid * h + (1 - grid) * low).mean(dim=1).argmax()])


def continuation_probs(tokens: object, V: int) -> list[float]:
    ids = [int(t) for t in tokens]  # type: ignore[attr-defined]
    types = set(zip(ids, ids[1:]))
    return [sum(b == w for _, b in types) / len(types) for w in range(V)]


def mkn_discounts(counts: object) -> tuple[float, float, float]:
    c = Counter(int(x) for x in counts)  # type: ignore[attr-defined]
    y = c[1] / (c[1] + 2 * c[2])
    return 1 - 2 * y * c[2] / c[1], 2 - 3 * y * c[3] / c[2], 3 - 4 * y * c[4] / c[3]


def softmax_ce_grad(logits: object, targets: object) -> torch.Tensor:
    z = torch.as_tensor(logits)
    t = torch.as_tensor(targets)
    return (torch.softmax(z, dim=1) - torch.nn.functional.one_hot(t, z.shape[1]).to(z.dtype)) / len(t)


def mlp_logits(ids: object, *weights: object) -> torch.Tensor:
    E, W1, b1, W2, b2 = (torch.as_tensor(w) for w in weights)
    x = E[torch.as_tensor(ids)].flatten(1)  # the k embeddings side by side, oldest first
    return torch.tanh(x @ W1 + b1) @ W2 + b2


def count_model_loss(N: object) -> float:
    n = torch.as_tensor(np.asarray(N), dtype=torch.float64)
    return float(-torch.xlogy(n, n / n.sum(dim=1, keepdim=True).clamp(min=1)).sum() / n.sum())


def rnn_step(x_t: object, h: object, W_xh: object, W_hh: object, b: object) -> torch.Tensor:
    x_t, h, W_xh, W_hh, b = (torch.as_tensor(a) for a in (x_t, h, W_xh, W_hh, b))
    return torch.tanh(x_t @ W_xh + h @ W_hh + b)


def run_rnn(xs: object, h0: object, W_xh: object, W_hh: object, b: object) -> torch.Tensor:
    xs, h = torch.as_tensor(xs), torch.as_tensor(h0)
    hs = []
    for t in range(xs.shape[1]):
        h = rnn_step(xs[:, t], h, W_xh, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def clip_grad_norm(grads: list[object], max_norm: float) -> list[torch.Tensor]:
    ts = [torch.as_tensor(g) for g in grads]
    total = float(torch.sqrt(sum((t.double() ** 2).sum() for t in ts)))
    return [t * min(1.0, max_norm / total) for t in ts]


def lstm_step(*args: object) -> tuple[torch.Tensor, torch.Tensor]:
    x, h, c, W, U, b = (torch.as_tensor(a) for a in args)
    i, f, g, o = (x @ W + h @ U + b).chunk(4, dim=1)  # PyTorch's gate order
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


def gru_step(*args: object) -> torch.Tensor:
    x, h, W_ih, W_hh, b_ih, b_hh = (torch.as_tensor(a) for a in args)
    (i_r, i_z, i_n), (h_r, h_z, h_n) = (x @ W_ih.T + b_ih).chunk(3, 1), (h @ W_hh.T + b_hh).chunk(3, 1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return (1 - z) * torch.tanh(i_n + r * h_n) + z * h


def set_forget_bias(lstm: torch.nn.LSTM, value: float) -> torch.nn.LSTM:
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}")[H:2 * H] = value
            getattr(lstm, f"bias_hh_l{k}")[H:2 * H] = 0.0
    return lstm


def attention_row(q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weights = torch.softmax(K @ q / q.shape[0] ** 0.5, dim=0)
    return weights, weights @ V


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    return torch.softmax(scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf")), dim=-1) @ v


def block_forward(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x + block.drop(block.attn(block.ln1(x), is_causal=True)[0])
    return x + block.drop(block.mlp(block.ln2(x)))


def sinusoidal(T: int, E: int) -> torch.Tensor:
    angles = torch.arange(T, dtype=torch.float64)[:, None] / 10000 ** (torch.arange(0, E, 2) / E)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(T, E)  # interleaved: sin, cos, sin, cos ...


def top_p_filter(probs: torch.Tensor, p: float) -> torch.Tensor:
    ordered, order = torch.sort(probs, descending=True)
    kept = torch.where(torch.cumsum(ordered, 0) - ordered < p, ordered, torch.zeros_like(ordered))
    return torch.zeros_like(probs).scatter(0, order, kept / kept.sum())


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    b = np.minimum(np.floor(confidence * bins).astype(int), bins - 1)
    return sum((b == k).mean() * abs(correct[b == k].mean() - confidence[b == k].mean())
               for k in range(bins) if (b == k).any())


def apply_penalty(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> torch.Tensor:
    out = logits.clone()
    for i in set(previous_ids):
        out[i] = out[i] / penalty if out[i] > 0 else out[i] * penalty
    return out


def unigram_precision(hypothesis: str, references: list[str]) -> float:
    words = Counter(hypothesis.split())
    most: Counter[str] = Counter()
    for r in references:
        most |= Counter(r.split())  # | keeps each word's highest count
    return sum((words & most).values()) / max(1, sum(words.values()))


def macro_f1(confusion: object) -> float:
    c = np.asarray(confusion, dtype=float)
    both = c.sum(0) + c.sum(1)  # 2TP + FP + FN
    return float(np.mean(np.divide(2 * np.diag(c), both, out=np.zeros(len(c)), where=both > 0)))


def greedy_translate(model: object, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    src_t = torch.tensor(src)[None]
    memory, tgt = model.encode(src_t), [bos]  # type: ignore[attr-defined]
    while len(tgt) <= max_len:
        token = int(model.decode(memory, src_t, torch.tensor(tgt)[None])[0, -1].argmax())  # type: ignore[attr-defined]
        if token == eos:
            break
        tgt.append(token)
    return tgt[1:]


def lr_at(step: int, steps: int, warmup: int, peak: float, floor: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (floor + (1 - floor) * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup))) / 2)


def adamw_step(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int, lr: float,
               betas: tuple[float, float], eps: float, weight_decay: float) -> tuple[torch.Tensor, ...]:
    m, v = betas[0] * m + (1 - betas[0]) * g, betas[1] * v + (1 - betas[1]) * g * g
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return p * (1 - lr * weight_decay) - lr * m_hat / (v_hat.sqrt() + eps), m, v


def log_odds(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> float:
    V = len(set(counts_a) | set(counts_b))
    return (math.log((counts_a.get(word, 0) + alpha) / (sum(counts_a.values()) + alpha * V))
            - math.log((counts_b.get(word, 0) + alpha) / (sum(counts_b.values()) + alpha * V)))


def newline_score(att: torch.Tensor, text: str) -> float:
    weights, last = [], None
    for t, c in enumerate(text):
        last = t if c == "\n" else last
        if last is not None:
            weights.append(float(att[t, last]))
    return sum(weights) / len(weights)


RIGHT = {
    "ch00_normalise": lambda c: [x / sum(c) for x in c] if sum(c) else 1 / 0,
    "ch00_char_counts": Counter,
    "ch00_reproducible": lambda s: torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(s)),
    "ch01_vocab_cutoff": build_vocab,
    "ch01_merge": merge,
    "ch01_zipf_slope": zipf_slope,
    "ch01_oov_rate": lambda train, test: oov_count(train, test) / len(test),
    "ch01_bpe_train": (bpe_train, bpe_encode),  # a checker of two functions: a tuple of its arguments
    "ch02_bigram_counts": lambda ids, V: np.bincount(np.asarray(ids)[:-1] * V + np.asarray(ids)[1:],
                                                     minlength=V * V).reshape(V, V),
    "ch02_mle_prob": mle_prob,
    "ch02_perplexity": lambda probs: float(torch.exp(-torch.log(torch.as_tensor(np.asarray(probs))).mean())),
    "ch02_sample_name": sample_name,
    "ch03_add_k": lambda counts, k: [(c + k) / (sum(counts) + k * len(counts)) for c in counts],
    "ch03_best_lambda": best_lambda,
    "ch03_continuation_probs": continuation_probs,
    "ch03_mkn_discounts": mkn_discounts,
    "ch04_softmax_ce_grad": softmax_ce_grad,
    "ch04_mlp_logits": mlp_logits,
    "ch04_count_model_loss": count_model_loss,
    "ch04_mlp_parameter_count": lambda V, context, d, hidden: V * d + context * d * hidden + hidden + hidden * V + V,
    "ch05_rnn_step": rnn_step,
    "ch05_run_rnn": run_rnn,
    "ch05_clip_grad_norm": clip_grad_norm,
    "ch06_lstm_step": lstm_step,
    "ch06_gru_step": gru_step,
    "ch06_set_forget_bias": set_forget_bias,
    "ch07_attention_row": attention_row,
    "ch07_causal_attention": causal_attention,
    "ch07_split_heads": lambda x, H: x.view(*x.shape[:2], H, x.shape[2] // H).transpose(1, 2),
    "ch07_score_spread": lambda d: d ** 0.5,
    "ch08_param_count": lambda V, T, L, E: V * E + T * E + L * (12 * E * E + 13 * E) + 2 * E,
    "ch08_sinusoidal": sinusoidal,
    "ch08_block_forward": block_forward,
    "ch08_top_k": lambda logits, k: logits.masked_fill(logits < torch.topk(logits, k).values[..., -1:], -torch.inf),
    "ch09_schedule": lr_at,
    "ch09_momentum": lambda p, g, v, lr, mu: (p - lr * (mu * v + g), mu * v + g),
    "ch09_adamw": adamw_step,
    "ch09_clip": lambda grads, max_norm: [g * min(1.0, max_norm / (math.sqrt(sum(float((h * h).sum()) for h in grads))
                                                                   + 1e-6)) for g in grads],
    "ch10_convert": lambda nats: (nats / math.log(2), math.exp(nats)),
    "ch10_top_p": top_p_filter,
    "ch10_ece": ece,
    "ch10_repetition": apply_penalty,
    "ch11_confusion": lambda y_true, y_pred, labels: [[sum(t == a and p == b for t, p in zip(y_true, y_pred))
                                                       for b in labels] for a in labels],
    "ch11_macro_f1": macro_f1,
    "ch11_posterior": lambda ll, lp: torch.softmax(torch.as_tensor(ll + lp), dim=1),
    "ch11_unigram_precision": unigram_precision,
    "ch11_bm25_weight": lambda tf, df, n, dl, avg, k1=1.5, b=0.75: math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf * (
        k1 + 1) / (tf + k1 * (1 - b + b * dl / avg)),
    "ch11_greedy": greedy_translate,
    "ch12_flops": lambda c, t: 3 * (24 * c.n_layer * c.n_embd ** 2 + 4 * c.n_layer * t * c.n_embd
                                    + 2 * c.vocab_size * c.n_embd),
    "ch12_compute_optimal": lambda c: (math.sqrt(c / 120), 20 * math.sqrt(c / 120)),
    "ch12_allreduce": lambda n, p, b: 2 * (p - 1) / p * n * b,
    "ch12_exposure": lambda rank, n: math.log2(n) - math.log2(rank),
    "ch12_log_odds": log_odds,
    "ch12_newline_score": newline_score,
    "ch13_keras_model": KerasLike,
    "ch13_keras_lstm": from_keras,
    "ch13_block_to_gpt2": block_to_gpt2,
    "ch13_greedy": hf_greedy,
}


def all_checkers() -> list[str]:
    return sorted(name for name in checks.__all__ if name.startswith("ch") and name[2:4].isdigit())


def test_every_checker_has_a_right_answer_here() -> None:
    assert all_checkers() == sorted(RIGHT), "add the new checker's right answer to RIGHT"


@pytest.mark.parametrize("name", all_checkers())
def test_every_right_answer_here_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    right = RIGHT[name] if isinstance(RIGHT[name], tuple) else (RIGHT[name],)
    getattr(checks, name)(*right)
    assert capsys.readouterr().out.startswith(f"✓ exercise {name[2:4]}.")


@pytest.mark.parametrize("name", all_checkers())
def test_a_checker_never_changes_the_learners_random_streams(name: str) -> None:
    check = getattr(checks, name)
    assert getattr(check, "forks_rng", False), f"{name} is not decorated with @checker"
    right = RIGHT[name] if isinstance(RIGHT[name], tuple) else (RIGHT[name],)
    untouched = seeded_draws_after(lambda: None)
    assert seeded_draws_after(lambda: check(*right)) == untouched  # passed
    assert seeded_draws_after(lambda: check(*[consumes_randomness] * len(right))) == untouched  # failed
    assert seeded_draws_after(lambda: check(*[stub] * len(right))) == untouched  # still the stub: raised


def test_a_failed_check_shows_the_message_not_the_checkers_source() -> None:
    with pytest.raises(checks.CheckFailed) as err:
        checks.ch00_normalise(lambda c: list(c))
    shown = "\n".join(err.value._render_traceback_())
    assert shown.startswith("CheckFailed: exercise 00.1 (normalise)") and "hint:" in shown
    assert "lmcourse/checks" not in shown and "sum(counts)" not in shown

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


def test_chapter_checkers_load_on_first_use_so_a_notebook_depends_only_on_its_own() -> None:
    import subprocess
    import sys

    code = ("import sys; from lmcourse import checks; "
            "before = sorted(m for m in sys.modules if m.startswith('lmcourse.checks.ch')); "
            "checks.ch01_merge; "
            "after = sorted(m for m in sys.modules if m.startswith('lmcourse.checks.ch')); print(before, after)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] ['lmcourse.checks.ch01']"
    assert all(callable(getattr(checks, name)) for name in checks.__all__)
    assert "ch02_perplexity" in dir(checks)
    with pytest.raises(AttributeError, match="did you mean 'ch02_perplexity'"):
        checks.ch02_perplexty  # noqa: B018
