"""The checkers of chapter 02 (n-gram counting) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import torch

from lmcourse import checks
from lmcourse.checks import ch02 as ch02_checks


def stub(*args: object) -> None:
    raise NotImplementedError


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


# --- 02.1 bigram_counts ----------------------------------------------------------------------------------


def bigram_loops(ids: Any, V: int) -> list[list[int]]:
    """Plain Python: a list of lists."""
    N = [[0] * V for _ in range(V)]
    for i in range(len(ids) - 1):
        N[ids[i]][ids[i + 1]] += 1
    return N


def bigram_add_at(ids: Any, V: int) -> np.ndarray:
    a = np.asarray(ids)
    N = np.zeros((V, V))  # float64, whole-valued: a right answer
    np.add.at(N, (a[:-1], a[1:]), 1)
    return N


def bigram_bincount(ids: Any, V: int) -> np.ndarray:
    a = np.asarray(ids, dtype=np.int64)
    return np.bincount(a[:-1] * V + a[1:], minlength=V * V).reshape(V, V).astype(np.int32)


def bigram_torch(ids: Any, V: int) -> torch.Tensor:
    a = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    N = torch.zeros((V, V), dtype=torch.long)
    N.index_put_((a[:-1], a[1:]), torch.ones(len(a) - 1, dtype=torch.long), accumulate=True)
    return N


def bigram_counter(ids: Any, V: int) -> np.ndarray:
    pairs = Counter(zip(list(ids), list(ids)[1:]))
    N = np.zeros((V, V), dtype=np.float32)
    for (a, b), n in pairs.items():
        N[a, b] = n
    return N


@pytest.mark.parametrize("right", [bigram_loops, bigram_add_at, bigram_bincount, bigram_torch, bigram_counter])
def test_bigram_counts_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch02_bigram_counts(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 02.1 (bigram_counts) passed: ")


def bigram_roll(ids: Any, V: int) -> np.ndarray:
    a = np.asarray(ids)
    N = np.zeros((V, V), dtype=int)
    np.add.at(N, (a, np.roll(a, -1)), 1)  # the last id is paired with the first
    return N


def bigram_short_range(ids: Any, V: int) -> np.ndarray:
    N = np.zeros((V, V), dtype=int)
    for i in range(len(ids) - 2):
        N[ids[i], ids[i + 1]] += 1
    return N


def bigram_buffered(ids: Any, V: int) -> np.ndarray:
    a = np.asarray(ids)
    N = np.zeros((V, V), dtype=int)
    N[a[:-1], a[1:]] += 1  # a repeated (a, b) is written once
    return N


def bigram_from_max(ids: Any, V: int) -> np.ndarray:
    return bigram_add_at(ids, int(max(ids)) + 1)


def bigram_consumes(ids: Any, V: int) -> np.ndarray:
    N = np.zeros((V, V), dtype=int)
    while len(ids) > 1:
        a = ids.pop(0)  # empties the caller's list
        N[a, ids[0]] += 1
    return N


def bigram_probabilities(ids: Any, V: int) -> np.ndarray:
    N = bigram_add_at(ids, V)
    rows = N.sum(axis=1, keepdims=True)
    return np.divide(N, rows, out=np.zeros_like(N), where=rows > 0)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda ids, V: bigram_add_at(ids, V).T, r"N\[0, 1\] \(how often 0 is followed by 1\)(.|\n)*N transposed"),
        (bigram_roll, "one pair too many, last id -> first id: np.roll wraps around"),
        (bigram_short_range, r"the last pair is missing(.|\n)*range\(len\(ids\) - 2\) stops one short"),
        (bigram_buffered, r"a pair that occurs several times was counted once(.|\n)*np.add.at"),
        (bigram_from_max, r"wrong shape\n  expected: shape \(5, 5\)\n  got:      shape \(3, 3\)(.|\n)*not from the"),
        (lambda ids, V: bigram_add_at(ids, V) + 0.5, r"whole counts(.|\n)*a whole number"),
        (bigram_probabilities, r"whole counts(.|\n)*not probabilities"),
        (bigram_consumes, r"changed the ids it was given"),
        (lambda ids, V: bigram_add_at(ids, V) + bigram_add_at(ids, V).T, "count each pair once, in its order"),
        (lambda ids, V: bigram_add_at(list(ids)[1:], V) if len(ids) > 2 else bigram_add_at(ids, V),
         "the first pair is missing"),
        (lambda ids, V: [str(r) for r in bigram_loops(ids, V)], r"V x V table(.|\n)*a list of str"),
        (lambda ids, V: bigram_add_at(ids, V) * 1, None),  # right: a control
    ],
)
def test_bigram_counts_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch02_bigram_counts(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch02_bigram_counts(wrong)


def test_bigram_counts_list_arithmetic_is_told_to_use_an_array() -> None:
    def on_lists(ids: Any, V: int) -> np.ndarray:
        return np.bincount(ids[:-1] * V + ids[1:], minlength=V * V)[:V * V].reshape(V, V)  # list * V repeats it

    with pytest.raises(checks.CheckFailed, match=r"ids\[:-1\] \* V repeats it V times(.|\n)*np.asarray\(ids\)"):
        checks.ch02_bigram_counts(on_lists)


def test_bigram_counts_an_unknown_mistake_is_told_the_number_of_pairs() -> None:
    with pytest.raises(checks.CheckFailed, match=r"there are 8 pairs, and your table counts 9"):
        checks.ch02_bigram_counts(lambda ids, V: bigram_add_at(ids, V) + (np.arange(V * V).reshape(V, V) == 0))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, torch.int8, torch.uint8])
def test_bigram_counts_an_overflowing_dtype_is_told_to_use_int64(dtype: Any) -> None:
    def small_ints(ids: Any, V: int) -> Any:
        N = bigram_add_at(ids, V)
        return torch.tensor(N).to(dtype) if isinstance(dtype, torch.dtype) else N.astype(dtype)  # 137 wraps around

    with pytest.raises(checks.CheckFailed, match=r"first 1,000 names(.|\n)*int8, whose counts go up to (127|255) "
                                                 r"only: (137|999) wrapped around to (-119|231)(.|\n)*Count in int64"):
        checks.ch02_bigram_counts(small_ints)


def test_bigram_counts_real_case_shows_the_wrong_cell() -> None:
    def misses_last_on_arrays(ids: Any, V: int) -> np.ndarray:
        return bigram_add_at(ids, V) if isinstance(ids, list) else bigram_add_at(ids[:-1], V)

    with pytest.raises(checks.CheckFailed, match=r"ids of the first 1,000 names(.|\n)*the last pair is missing"):
        checks.ch02_bigram_counts(misses_last_on_arrays)


# --- 02.2 mle_prob --------------------------------------------------------------------------------------


def mle_loops(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
    n = len(context)
    num = den = 0
    for i in range(len(tokens) - n):
        if tuple(tokens[i:i + n]) == context:
            den += 1
            num += tokens[i + n] == token
    if den == 0:
        raise ValueError(f"the context {context} is never followed by a token")
    return num / den


def mle_numpy(tokens: list[Any], context: tuple[Any, ...], token: Any) -> np.float64:
    n = len(context)
    windows = np.array([tuple(tokens[i:i + n + 1]) == context + (token,) for i in range(len(tokens) - n)])
    starts = np.array([tuple(tokens[i:i + n]) == context for i in range(len(tokens) - n)])
    if starts.sum() == 0:
        raise ValueError(f"context {context} unseen")
    return windows.sum() / starts.sum()


class UnseenContext(ValueError):
    pass


def mle_own_error(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
    try:
        return mle_loops(tokens, context, token)
    except ValueError as err:
        raise UnseenContext(str(err)) from None


@pytest.mark.parametrize("right", [mle_loops, mle_numpy, mle_own_error,
                                   lambda t, c, w: torch.tensor(mle_loops(t, c, w), dtype=torch.float64)])
def test_mle_prob_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch02_mle_prob(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 02.2 (mle_prob) passed: ")


def test_mle_prob_accepts_an_exact_fraction() -> None:
    def fraction(tokens: list[Any], context: tuple[Any, ...], token: Any) -> Fraction:
        n = len(context) + 1
        grams = Counter(zip(*[tokens[i:] for i in range(n)]))
        followed = sum(c for g, c in grams.items() if g[:-1] == context)
        if not followed:
            raise ValueError(f"unseen context {context!r}")
        return Fraction(grams[context + (token,)], followed)

    checks.ch02_mle_prob(fraction)


def mle_variant(den: str = "followed", num: str = "right", ctx: str = "as given", unseen: str = "raise") -> Any:
    """A wrong mle_prob, written as a learner would, with one mistake."""

    def mle_prob(tokens: list[Any], context: tuple[Any, ...], token: Any) -> Any:
        c = {"as given": context, "reversed": context[::-1], "last": context[-1:]}[ctx]
        n = len(c)
        hits = sum(tuple(tokens[i:i + n]) == c and tokens[i + n] == token for i in range(len(tokens) - n))
        if num == "token first":
            hits = sum(tokens[i] == token and tuple(tokens[i + 1:i + 1 + n]) == c for i in range(len(tokens) - n))
        if den == "all":
            total = sum(tuple(tokens[i:i + n]) == c for i in range(len(tokens) - n + 1))
        elif den == "ngrams":
            total = len(tokens) - n
        elif den == "tokens":
            total = len(tokens)
        elif den == "none":
            return hits
        else:
            total = sum(tuple(tokens[i:i + n]) == c for i in range(len(tokens) - n))
        if den == "minus one" and n == 0:
            total = len(tokens) - 1
        if total == 0:
            if unseen == "zero":
                return 0.0
            if unseen == "inf":
                return math.inf
            if unseen == "nan":
                return math.nan
            if unseen == "divide":
                return hits / total
            if unseen == "assert":
                assert total, "unseen"
            raise ValueError("unseen context")
        return hits / total

    return mle_prob


@pytest.mark.parametrize(
    "wrong,why",
    [
        (mle_variant(den="all"), r"\(1, 2\), 3\)(.|\n)*at the very end of the tokens is followed by nothing"),
        (mle_variant(den="ngrams"), "joint probability of the n-gram"),
        (mle_variant(den="tokens"), r"divides by len\(tokens\), the joint frequency"),
        (mle_variant(den="none"), r"that is the count c\(context \+ token\)"),
        (mle_variant(ctx="reversed"), r"keep the context in order"),
        (mle_variant(num="token first"), r"the context comes before the token"),
        (mle_variant(ctx="last"), r"use the whole context"),
        (mle_variant(den="minus one"), r"mle_prob\(\[3, 1, 2(.|\n)*\(\), 2\)(.|\n)*not / \(len\(tokens\) - 1\)"),
        (lambda t, c, w: mle_loops(t, (), w), "the context matters"),
        (lambda t, c, w: round(mle_loops(t, c, w), 2), "don't round"),
        (mle_variant(unseen="divide"), r"\('the', 'unicorn'\)(.|\n)*ZeroDivisionError(.|\n)*raise ValueError"),
        (mle_variant(unseen="zero"), r"expected: a ValueError \(the probability is undefined\)\n  got:      0.0"),
        (mle_variant(unseen="inf"), r"got:      inf(.|\n)*raise\s+ValueError"),
        (mle_variant(unseen="nan"), r"got:      nan"),
        (mle_variant(unseen="assert"), r"raised AssertionError(.|\n)*skipped when Python runs with -O"),
        (lambda t, c, w: str(mle_loops(t, c, w)), r"should be one number"),
        (lambda t, c, w: Counter(zip(*[t[i:] for i in range(len(c) + 1)]))[c + (w,)] /
         Counter(zip(*[t[i:] for i in range(len(c))]))[c], r"followed by nothing"),  # Counter of contexts: the end too
    ],
)
def test_mle_prob_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch02_mle_prob(wrong)


def mle_string_count(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
    """Counts by searching the joined text: str.count misses overlapping matches (" 1 2 1 2 " has " 1 2 " once)."""
    text = " " + " ".join(map(str, tokens)) + " "
    den = text.count(" " + " ".join(map(str, context)) + " ") if context else len(tokens)
    if den == 0:
        raise ValueError(f"context {context} unseen")
    return text.count(" " + " ".join(map(str, context + (token,))) + " ") / den


def test_mle_prob_a_mistake_matched_on_one_query_only_is_not_named() -> None:
    """On the first query the string count happens to equal the token-first count (0.5), but not on the others:
    the hint is the general one, not "the context comes before the token"."""
    assert mle_string_count([3, 1, 2, 4, 2, 1, 3, 1, 2, 3, 2, 1, 4, 1, 2, 1, 2, 3, 2, 1, 5, 1, 2], (1,), 2) == 0.5
    with pytest.raises(checks.CheckFailed, match=r"\(1,\), 2\)(.|\n)*hint:     count the n-grams context \+ "
                                                 r"\(token,\) and the occurrences of the context") as failed:
        checks.ch02_mle_prob(mle_string_count)
    assert "comes before the token" not in str(failed.value)


def test_mle_prob_a_value_error_for_a_context_that_occurs_is_told_list_against_tuple() -> None:
    def compares_a_list_to_a_tuple(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
        n, num, den = len(context), 0, 0
        for i in range(len(tokens) - n):
            if tokens[i:i + n] == context:  # a list never equals a tuple: den stays 0
                den += 1
                num += tokens[i + n] == token
        if den == 0:
            raise ValueError(f"context {context} never occurs")
        return num / den

    with pytest.raises(checks.CheckFailed, match=r"raised ValueError: context \(1,\) never occurs(.|\n)*"
                                                 r"but c\(context\) = 8 here(.|\n)*a list slice never equals a "
                                                 r"tuple(.|\n)*tuple\(tokens\[i:i \+ n\]\) == context"):
        checks.ch02_mle_prob(compares_a_list_to_a_tuple)


def test_mle_prob_another_exception_keeps_the_general_hint() -> None:
    def key_error(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
        raise KeyError(context)

    with pytest.raises(checks.CheckFailed, match=r"raised KeyError(.|\n)*call your function on this input yourself"):
        checks.ch02_mle_prob(key_error)


def test_match_mistake_confirms_on_the_other_inputs() -> None:
    """With confirm, one matching input is not enough: the learner's function must agree with the mistake on the
    other inputs too (where both give a result), and on at least one of them."""
    mistakes = {"double": lambda x: 2 * x, "square": lambda x: x * x}

    def same(a: Any, b: Any) -> bool:
        return a == b

    match = ch02_checks._match_mistake
    assert match(4, (2,), lambda x: x + 2, [(3,)], mistakes, same) == "double"  # one hit: named unconfirmed
    assert match(4, (2,), lambda x: x + 2, [(3,)], mistakes, same, confirm=True) is None  # 5 is neither 6 nor 9
    assert match(4, (2,), lambda x: x * x, [(3,)], mistakes, same, confirm=True) == "square"
    assert match(4, (2,), lambda x: x * x, [], mistakes, same, confirm=True) is None  # nothing to confirm it on
    assert match(4, (2,), lambda x: 1 / 0, [(3,)], mistakes, same, confirm=True) is None  # fails elsewhere


def test_mle_prob_a_context_only_at_the_end_must_raise() -> None:
    """Counting the final occurrence gives 0 for a context seen only at the end: that is named too."""

    def final_only_wrong_at_the_end(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
        try:
            return mle_loops(tokens, context, token)
        except ValueError:
            if tuple(tokens[len(tokens) - len(context):]) == context:
                return 0.0  # the context occurs, at the end: "0 of 1"
            raise

    with pytest.raises(checks.CheckFailed, match=r"\(5, 1, 2\)(.|\n)*only at the very end(.|\n)*does not count"):
        checks.ch02_mle_prob(final_only_wrong_at_the_end)


def test_mle_prob_words_end_with_the_contexts_asked_about() -> None:
    """("the",) and ("of", "the") end the word list, so a denominator that counts that last, unfollowed occurrence
    is wrong there; ("the", "unicorn") never occurs."""
    words = list(ch02_checks._pride_words())
    assert words[-2:] == ["of", "the"] and words[0] == "it" and "unicorn" not in words
    assert sum(w == "the" for w in words[:-1]) == 35 and words.count("the") == 36


def test_mle_prob_leaves_the_tokens_alone() -> None:
    def pops(tokens: list[Any], context: tuple[Any, ...], token: Any) -> float:
        p = mle_loops(tokens, context, token)
        tokens.pop()
        return p

    with pytest.raises(checks.CheckFailed, match="changed the list of tokens"):
        checks.ch02_mle_prob(pops)


# --- 02.3 perplexity --------------------------------------------------------------------------------------


def perplexity_python(probs: Any) -> float:
    probs = list(probs)
    if any(p == 0 for p in probs):
        return math.inf
    return math.exp(-sum(math.log(p) for p in probs) / len(probs))


def perplexity_numpy(probs: Any) -> np.float64:
    with np.errstate(divide="ignore"):
        return np.exp(-np.mean(np.log(np.asarray(probs, dtype=np.float64))))


def perplexity_torch32(probs: Any) -> torch.Tensor:
    p = torch.as_tensor(np.asarray(probs), dtype=torch.float32)  # float32 throughout
    return torch.exp(-torch.log(p).mean())


def perplexity_bits(probs: Any) -> float:
    with np.errstate(divide="ignore"):
        return float(2 ** -np.mean(np.log2(np.asarray(probs, dtype=float))))


def perplexity_log10(probs: Any) -> float:
    with np.errstate(divide="ignore"):
        return float(10 ** -np.mean(np.log10(np.asarray(probs, dtype=float))))


def perplexity_on_tensors(probs: Any) -> torch.Tensor:
    p = probs if isinstance(probs, torch.Tensor) else torch.tensor(probs, dtype=torch.float64)
    return torch.exp(-p.log().mean())


@pytest.mark.parametrize("right", [perplexity_python, perplexity_numpy, perplexity_torch32, perplexity_bits,
                                   perplexity_log10, perplexity_on_tensors])
def test_perplexity_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch02_perplexity(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 02.3 (perplexity) passed: ")


def mean_log(probs: Any, log: Any = np.log) -> float:
    with np.errstate(divide="ignore"):
        return float(np.mean(log(np.asarray(_plain(probs), dtype=float))))


def _plain(probs: Any) -> Any:
    return probs.numpy() if isinstance(probs, torch.Tensor) else probs


def product_perplexity(probs: Any) -> float:
    p = np.asarray(_plain(probs), dtype=float)
    with np.errstate(divide="ignore"):
        return float(np.prod(p) ** (-1 / len(p)))  # 0.0 ** -x: inf


def product_python(probs: Any) -> float:
    return math.prod(float(p) for p in _plain(probs)) ** (-1 / len(probs))  # 0.0 ** -x: ZeroDivisionError


def perplexity_skips_zeros(probs: Any) -> float:
    return perplexity_python([p for p in _plain(probs) if p > 0])


def perplexity_python_no_zero_test(probs: Any) -> float:
    return math.exp(-sum(math.log(p) for p in _plain(probs)) / len(probs))


def perplexity_in_place(probs: Any) -> float:
    if isinstance(probs, np.ndarray):
        np.log(probs, out=probs)  # overwrites the caller's probabilities
        return float(np.exp(-probs.mean()))
    return perplexity_python(probs)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda p: 1 / float(np.mean(_plain(p))), r"arithmetic mean(.|\n)*geometric mean"),
        (lambda p: -mean_log(p), r"cross-entropy in nats"),
        (lambda p: -mean_log(p, np.log2), r"cross-entropy in bits"),
        (lambda p: math.exp(mean_log(p)), r"the sign is lost"),
        (lambda p: math.exp(-mean_log(p) * len(p)), r"average the log-probabilities, don't add them"),
        (lambda p: 2 ** -mean_log(p), r"mix no bases: you took 2 \*\* of a mean ln"),
        (lambda p: math.exp(-mean_log(p, np.log2)), r"mix no bases: you took exp of a mean log2"),
        (lambda p: 10 ** -mean_log(p, np.log2), r"mix no bases: you took 10 \*\* of a mean log2"),
        (lambda p: math.exp(-mean_log(p) * len(p) / (len(p) - 1)), r"not N - 1"),
        (product_perplexity, r"2,000 characters(.|\n)*got:      inf(.|\n)*underflows(.|\n)*Add logarithms"),
        (product_python, r"ZeroDivisionError(.|\n)*2,000 probabilities underflows"),
        (perplexity_skips_zeros, r"\[0.5, 0.0, 0.25\](.|\n)*don't skip or clip"),
        (perplexity_python_no_zero_test, r"ValueError: math domain error(.|\n)*math.log\(0\) raises"),
        (lambda p: float(np.exp(-np.mean(np.log(np.maximum(np.asarray(_plain(p), dtype=float), 1e-10))))),
         r"don't skip or clip"),
        (lambda p: round(perplexity_python(p), 2), r"don't round"),
        (lambda p: np.exp(-np.log(np.asarray(_plain(p), dtype=float))), r"should be one number"),
        (perplexity_in_place, r"the probabilities it was given were changed"),
    ],
)
def test_perplexity_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch02_perplexity(wrong)


def perplexity_float16(probs: Any) -> float:
    """All in float16: about 3 significant digits, 1e-3 off."""
    with np.errstate(divide="ignore"):
        return float(np.exp(-np.mean(np.log(np.asarray(_plain(probs), dtype=np.float16)))))


def perplexity_torch16(probs: Any) -> torch.Tensor:
    p = torch.as_tensor(np.asarray(_plain(probs)), dtype=torch.float16)
    return torch.exp(-p.log().mean())


@pytest.mark.parametrize("wrong", [perplexity_float16, perplexity_torch16])
def test_perplexity_computed_in_float16_is_named(wrong: Any) -> None:
    """float16's 1e-3 is not float32-honest: a tolerance that let it pass would let the N - 1 mistake pass too (on
    2,000 probabilities it is only about 1.3e-3 off)."""
    with pytest.raises(checks.CheckFailed, match=r"expected: 4.756828\n  got:      4.761719(.|\n)*not float16"):
        checks.ch02_perplexity(wrong)


def test_perplexity_float16_probabilities_computed_in_float64_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """Probabilities rounded to float16, then logs and mean in float64: right within the tolerance."""
    def from_float16(probs: Any) -> float:
        with np.errstate(divide="ignore"):
            return float(np.exp(-np.mean(np.log(np.asarray(_plain(probs), dtype=np.float16).astype(np.float64)))))

    checks.ch02_perplexity(from_float16)
    assert out_of(capsys).startswith("✓ exercise 02.3 (perplexity) passed: ")


def test_perplexity_long_input_really_underflows_a_product() -> None:
    """The product method is right on short inputs: only the long case, whose product is 0.0, exposes it."""
    assert product_perplexity([0.5, 0.25, 0.125, 0.125]) == pytest.approx(perplexity_python([0.5, 0.25, 0.125, 0.125]))
    assert math.prod(np.random.default_rng(0).uniform(0.03, 0.07, 5000).tolist()) == 0.0


# --- 02.4 sample_name ----------------------------------------------------------------------------------------


def sample_choice(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> list[int]:
    out, current = [], bos
    while True:
        current = generator.choice(len(P), p=P[current])
        if current == eos:
            return out
        out.append(current)


def sample_cumsum(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> np.ndarray:
    """Inverse-CDF sampling with generator.random(); the name as an int32 array."""
    out, current = [], bos
    while (current := int(np.searchsorted(np.cumsum(P[current]), generator.random(), side="right"))) != eos:
        out.append(current)
    return np.array(out, dtype=np.int32)


def sample_multinomial(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> torch.Tensor:
    out, current = [], bos
    while (current := int(generator.multinomial(1, P[current]).argmax())) != eos:
        out.append(current)
    return torch.tensor(out, dtype=torch.long)


@pytest.mark.parametrize("right", [sample_choice, sample_cumsum, sample_multinomial])
def test_sample_name_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch02_sample_name(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 02.4 (sample_name) passed: 1,500 names from P")


def sample_uniform(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> list[int]:
    """Draws each letter uniformly (ids 4 .. V-1), stopping with probability P[current, eos]: impossible steps."""
    out, current = [], bos
    while not (out and generator.random() < P[current, eos]):
        current = int(generator.integers(4, len(P)))
        out.append(current)
    return out


FIXED = np.random.default_rng(0)  # a generator of the learner's own, not the one passed in


def sample_variant(start: str = "bos", row: str = "row", keep: str = "drawn", rng: str = "given",
                   stop: str = "eos") -> Any:
    """A wrong sample_name with one mistake, written as a learner would."""

    def sample_name(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> list[int]:
        V = len(P)
        draw = {
            "given": lambda p: generator.choice(V, p=p),
            "numpy": lambda p: np.random.choice(V, p=p),
            "python": lambda p: random.choices(range(V), weights=list(p))[0],
            "own": lambda p: np.random.default_rng().choice(V, p=p),
            "fixed": lambda p: FIXED.choice(V, p=p),
            "argmax": lambda p: int(np.argmax(p)),
        }[rng]
        out = [bos] if keep == "bos" else []
        current, previous = bos, None
        for _ in range(10 if stop == "ten" else 10**9):
            p = P[current] if row == "row" else P[:, current] / P[:, current].sum() if row == "column norm" else \
                P[:, current]
            nxt = int(draw(p))
            if stop == "eos" and nxt == eos:
                if keep == "eos":
                    out.append(nxt)
                if keep == "one short":
                    return out
                break
            if stop == "never" and nxt == bos:  # never happens: P[:, bos] is 0
                break
            if keep == "one short":
                if previous is not None:
                    out.append(previous)
                previous = nxt
            else:
                out.append(nxt)
            current = nxt
        return out

    return sample_name


@pytest.mark.parametrize(
    "wrong,why",
    [
        (sample_variant(rng="argmax"), r"every name is 'a'(.|\n)*most likely id each time \(argmax\)"),
        (sample_variant(keep="bos"), r"starts with <bos>(.|\n)*leave bos out"),
        (sample_variant(keep="eos"), r"ends with <eos>(.|\n)*leave eos out"),
        (sample_variant(row="column"), r"raised ValueError(.|\n)*a column P\[:, current\] does not"),
        (sample_variant(row="column norm"), r"raised ValueError(.|\n)*a column P\[:, current\] does not"),
        (sample_uniform, r"has probability 0(.|\n)*not from the column P\[:, current\], nor uniformly"),
        (sample_variant(rng="numpy"), r"used numpy's global generator(.|\n)*not np.random.choice"),
        (sample_variant(rng="python"), r"used Python's global generator"),
        (sample_variant(rng="own"), r"never drew from the generator it was given|seeded with 7 gave different"),
        (sample_variant(rng="fixed"), r"never drew from the generator it was given"),
        (sample_variant(keep="one short"), r"names are empty(.|\n)*one id short"),
        (sample_variant(stop="ten"), r"holds <eos> \d times(.|\n)*stop when eos is drawn"),
        (lambda P, bos, eos, g: [float(i) for i in sample_choice(P, bos, eos, g)], r"list of ints(.|\n)*list of float"),
        (lambda P, bos, eos, g: "".join(chr(96 + i - 4) for i in sample_choice(P, bos, eos, g)), r"a list of ints"),
    ],
)
def test_sample_name_names_the_mistake(wrong: Any, why: str) -> None:
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch02_sample_name(wrong)


def test_sample_name_stops_a_loop_that_never_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ch02_checks, "SAMPLE_TIME_LIMIT", 0.5)
    with pytest.raises(checks.CheckFailed, match=r"ran for over 0.5 seconds(.|\n)*stop the loop as soon as eos"):
        checks.ch02_sample_name(sample_variant(stop="never"))


def test_sample_name_names_one_id_too_many_and_a_biased_length() -> None:
    def one_more(P: np.ndarray, bos: int, eos: int, g: np.random.Generator) -> list[int]:
        name = sample_choice(P, bos, eos, g)
        letters = P[name[-1]].copy()
        letters[eos] = 0
        return name + [int(g.choice(len(P), p=letters / letters.sum()))]  # one more letter the chain allows

    with pytest.raises(checks.CheckFailed, match=r"mean length(.|\n)*one id too long"):
        checks.ch02_sample_name(one_more)

    def shies_away_from_eos(P: np.ndarray, bos: int, eos: int, g: np.random.Generator) -> list[int]:
        out, current = [], bos
        while True:
            nxt = int(g.choice(len(P), p=P[current]))
            if nxt == eos and len(out) < 4 and g.random() < 0.5:
                continue  # redraws half of the early ends: names too long
            if nxt == eos:
                return out
            out.append(nxt)
            current = nxt

    with pytest.raises(checks.CheckFailed, match=r"mean length(.|\n)*stop exactly when eos is drawn"):
        checks.ch02_sample_name(shies_away_from_eos)


def sample_capped(cap: int) -> Any:
    """A sampler with a "safety" cap: at most ``cap`` draws, so no name is longer than ``cap`` letters."""

    def sample_name(P: np.ndarray, bos: int, eos: int, generator: np.random.Generator) -> list[int]:
        out, current = [], bos
        for _ in range(cap):
            current = int(generator.choice(len(P), p=P[current]))
            if current == eos:
                return out
            out.append(current)
        return out

    return sample_name


@pytest.mark.parametrize("cap,at_least", [(11, 14), (13, 14), (15, 21), (20, 21)])
def test_sample_name_a_capped_length_is_named(cap: int, at_least: int) -> None:
    """A cap of 13 to 20 leaves the mean length within 5 standard errors (the tail is thin): the count of the
    long names sees it."""
    with pytest.raises(checks.CheckFailed, match=rf"only 0 of 1,500 names have {at_least} letters or more(.|\n)*"
                                                 rf"don't cap the length. Your longest name has {cap} letters"):
        checks.ch02_sample_name(sample_capped(cap))


def test_sample_name_too_few_long_names_without_a_cap_get_the_general_hint() -> None:
    def shortens_long_names(P: np.ndarray, bos: int, eos: int, g: np.random.Generator) -> list[int]:
        name = sample_choice(P, bos, eos, g)
        return name if len(name) < 14 or g.random() < 0.3 else name[:13]  # most long names cut, not all

    with pytest.raises(checks.CheckFailed, match=r"names have 14 letters or more(.|\n)*stop exactly when eos is "
                                                 r"drawn \(whatever the length so far\)"):
        checks.ch02_sample_name(shortens_long_names)


def test_sample_name_leaves_p_alone() -> None:
    def normalises_in_place(P: np.ndarray, bos: int, eos: int, g: np.random.Generator) -> list[int]:
        P /= P.sum(axis=1, keepdims=True)  # harmless values, but writes into the caller's P
        return sample_choice(P, bos, eos, g)

    with pytest.raises(checks.CheckFailed, match="changed the matrix P"):
        checks.ch02_sample_name(normalises_in_place)


def vectorised_names(P: np.ndarray, bos: int, eos: int, seed: int, n: int) -> list[list[int]]:
    """n names from the chain P at once, by inverse-CDF steps on all of them together (independent of the
    checker's code): a right sampler, fast enough to try many seeds."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(P, axis=1)
    current = np.full(n, bos)
    steps = []
    while (current != eos).any():
        nxt = np.minimum((rng.random(n)[:, None] > cdf[current]).sum(axis=1), len(P) - 1)
        current = np.where(current == eos, eos, nxt)
        steps.append(current)
    table = np.stack(steps, axis=1)
    return [[int(i) for i in row[row != eos]] for row in table]


def test_sample_name_statistics_never_fail_a_right_sampler() -> None:
    """Over 300 seeds a right sampler's mean length stays within 5 standard errors (z is standard normal: its
    spread is about 1), the first-letter test's p-value above 1e-6, and the counts of long names within 5 standard
    deviations of their expectation: the checker's tolerance is honest. Their mean over the seeds matches the
    expectation (so the exact tail probability is right), and no seed comes near failing."""
    P, bos, eos, _, _ = ch02_checks._names_model()
    zs, ps, tails = [], [], []
    for seed in range(300):
        names = vectorised_names(P, bos, eos, seed, 1500)
        z, _, p, _ = ch02_checks._name_stats(names, P, bos, eos)
        zs.append(z)
        ps.append(p)
        tails.append([(many - mean) / sd for many, mean, sd in
                      (ch02_checks._long_names(names, P, bos, eos, L) for L in ch02_checks.LONG_NAMES)])
    assert max(abs(z) for z in zs) < 4.5 and min(ps) > 1e-5
    assert 0.8 < float(np.std(zs)) < 1.2 and 0.02 < float(np.mean(np.array(ps) < 0.05)) < 0.1
    t = np.array(tails)
    assert t.min() > -4.5 and (np.abs(t.mean(axis=0)) < 0.25).all()
    assert ((0.8 < t.std(axis=0)) & (t.std(axis=0) < 1.2)).all()


def test_sample_name_tail_has_the_exact_binomial_false_failure_rate() -> None:
    """The tail test fails a right answer when the count of long names is below mean - 5 sd: the exact binomial
    probability of that is under 1e-7 for each length."""
    P, bos, eos, _, _ = ch02_checks._names_model()
    n = ch02_checks.SAMPLES
    for L in ch02_checks.LONG_NAMES:
        _, mean, sd = ch02_checks._long_names([[]] * n, P, bos, eos, L)
        p = mean / n
        below = math.ceil(mean - 5 * sd) - 1  # the largest count that fails
        assert below >= 0  # a cap below L (0 long names) always fails
        assert sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(below + 1)) < 1e-7


def test_sample_name_statistics_see_a_name_one_letter_short() -> None:
    P, bos, eos, _, _ = ch02_checks._names_model()
    names = vectorised_names(P, bos, eos, 0, 1500)
    z, _, _, _ = ch02_checks._name_stats([n[:-1] for n in names], P, bos, eos)
    assert z < -5


@pytest.mark.parametrize("name", ["ch02_bigram_counts", "ch02_mle_prob", "ch02_perplexity", "ch02_sample_name"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 02.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)
